//! Every system call the executor makes that the standard library does not wrap: safe
//! functions around `libc`, each failure a [`SysError`] naming the call. The only module of
//! the executor with `libc::` or `unsafe` (`xtask tidy` checks this).
//!
//! Functions marked *async-signal-safe* may run in a child between `fork` and `exec`: they
//! are `#[inline]`, never allocate and take only data prepared before the fork.

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

pub(crate) use libc::{
    CLONE_NEWIPC, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUTS, EINTR, ESRCH, EXIT_FAILURE, MS_BIND,
    MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_STRICTATIME,
    SIGHUP, SIGINT, SIGKILL, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
};
/// A user id.
pub(crate) type Uid = libc::uid_t;
/// A group id.
pub(crate) type Gid = libc::gid_t;
/// A process id.
pub(crate) type Pid = libc::pid_t;
/// The flags of [`mount`] (`MS_*`).
pub(crate) type MountFlags = libc::c_ulong;

/// A failed system call: which one, and the OS error.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {source}")]
pub(crate) struct SysError {
    pub call: &'static str,
    #[source]
    pub source: io::Error,
}

impl SysError {
    /// The error `call` just left in `errno`. Async-signal-safe.
    #[inline]
    fn last(call: &'static str) -> Self {
        Self {
            call,
            source: io::Error::last_os_error(),
        }
    }

    /// Whether the call failed with `errno`.
    pub fn is(&self, errno: i32) -> bool {
        self.source.raw_os_error() == Some(errno)
    }
}

/// The OS error alone (callers that name the call in their own words).
impl From<SysError> for io::Error {
    fn from(e: SysError) -> io::Error {
        e.source
    }
}

/// `Ok(rc)` when `rc` is not negative, else the call's error. Async-signal-safe.
#[inline]
fn check<T: Copy + Default + PartialOrd>(call: &'static str, rc: T) -> Result<T, SysError> {
    if rc < T::default() {
        Err(SysError::last(call))
    } else {
        Ok(rc)
    }
}

// ---- processes and signals ----

/// kill(2): sends `sig` to `pid` (a negative `pid` names a process group). Async-signal-safe.
#[inline]
pub(crate) fn kill(pid: Pid, sig: i32) -> Result<(), SysError> {
    // SAFETY: kill(2) takes integers only.
    check("kill", unsafe { libc::kill(pid, sig) }).map(drop)
}

/// getpid(2). Async-signal-safe.
#[inline]
pub(crate) fn getpid() -> Pid {
    // SAFETY: getpid(2) has no preconditions.
    unsafe { libc::getpid() }
}

/// geteuid(2).
pub(crate) fn geteuid() -> Uid {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() }
}

/// prctl(PR_SET_CHILD_SUBREAPER): orphans of our descendants are re-parented to us.
pub(crate) fn set_child_subreaper() -> Result<(), SysError> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer argument; no pointers involved.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    check("prctl(PR_SET_CHILD_SUBREAPER)", rc).map(drop)
}

/// prctl(PR_SET_NAME): this thread's name (at most 15 bytes are kept).
pub(crate) fn set_process_name(name: &CStr) {
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
}

/// waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT): an exited child, left waitable, or `None`.
pub(crate) fn peek_exited_child() -> Option<Pid> {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid(2).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `info` is a valid, writable siginfo_t.
    let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) };
    // SAFETY: after a successful waitid the pid field is initialised (0 when none exited).
    let pid = unsafe { info.si_pid() };
    (rc == 0 && pid > 0).then_some(pid)
}

/// waitpid(2) with WNOHANG: whether `pid` was reaped now.
pub(crate) fn reap_now(pid: Pid) -> bool {
    let mut status = 0;
    // SAFETY: `status` is a valid out-parameter.
    let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    rc == pid
}

/// waitpid(2), blocking: the pid reaped (`-1` waits for any child) and its wait status.
pub(crate) fn waitpid(pid: Pid) -> Result<(Pid, i32), SysError> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let got = check("waitpid", unsafe { libc::waitpid(pid, &mut status, 0) })?;
    Ok((got, status))
}

/// The exit code in a wait status, when the process exited (rather than died of a signal).
pub(crate) fn exit_code(status: i32) -> Option<i32> {
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

/// The signal that ended a process, from its wait status.
pub(crate) fn term_signal(status: i32) -> i32 {
    libc::WTERMSIG(status)
}

/// What `fork` returned to this process.
pub(crate) enum Forked {
    Child,
    Parent(Pid),
}

/// fork(2). Only for single-threaded processes (`keel container-init`), whose child may
/// then do anything.
pub(crate) fn fork() -> Result<Forked, SysError> {
    // SAFETY: the callers are single-threaded, so the child's state is consistent.
    match check("fork", unsafe { libc::fork() })? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// _exit(2): ends a forked process without running the parent's exit handlers twice.
/// Async-signal-safe.
#[inline]
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Dies of `sig` as a process killed by it would (no core dump); returns only if the
/// signal did not kill this process.
pub(crate) fn die_of(sig: i32) {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls with valid arguments; this process has nothing left to do.
    unsafe {
        libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        libc::signal(sig, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::kill(libc::getpid(), sig);
    }
}

/// Where [`forward_signals`]' handler sends what it receives.
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// sigaction(2): passes each of `signals` on to `pid` (one target per process; a later
/// call moves it).
pub(crate) fn forward_signals(pid: Pid, signals: &[i32]) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for &sig in signals {
        // SAFETY: a zeroed sigaction with a valid handler and SA_RESTART is well-formed.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = forward as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// Runs `hook` in the child between fork and exec of `cmd` (`Command::pre_exec`).
///
/// `hook` must be async-signal-safe: only the async-signal-safe functions of this module,
/// on data prepared before the fork, and no allocation.
pub(crate) fn pre_exec<F>(cmd: &mut Command, hook: F)
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    // SAFETY: per this function's contract the hook only makes async-signal-safe calls.
    unsafe { cmd.pre_exec(hook) };
}

/// setsid(2). Async-signal-safe.
#[inline]
pub(crate) fn setsid() -> Result<(), SysError> {
    // SAFETY: setsid(2) has no preconditions.
    check("setsid", unsafe { libc::setsid() }).map(drop)
}

/// close_range(first, ~0, CLOSE_RANGE_CLOEXEC): every descriptor from `first` on closes on
/// exec. Best effort (kernels before 5.11 lack the flag). Async-signal-safe.
#[inline]
pub(crate) fn cloexec_from(first: u32) {
    // SAFETY: a plain syscall on integers.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// setgroups, setgid, setuid, in that order. Async-signal-safe.
#[inline]
pub(crate) fn switch_user(uid: Uid, gid: Gid, groups: &[Gid]) -> Result<(), SysError> {
    // SAFETY: `groups` is a valid array of `groups.len()` gids.
    check("setgroups", unsafe {
        libc::setgroups(groups.len() as _, groups.as_ptr())
    })?;
    // SAFETY: setgid(2)/setuid(2) take integers only.
    check("setgid", unsafe { libc::setgid(gid) })?;
    // SAFETY: as above.
    check("setuid", unsafe { libc::setuid(uid) }).map(drop)
}

/// A user of the host's user database: uid and primary gid.
pub(crate) struct Passwd {
    pub uid: Uid,
    pub gid: Gid,
}

/// getpwnam_r(3): `name` in the host's user database, `None` when there is no such user.
pub(crate) fn getpwnam(name: &CStr) -> Result<Option<Passwd>, SysError> {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the duration of the call; `buf` has `buf.len()` bytes.
    let rc = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut found,
        )
    };
    if rc != 0 {
        return Err(SysError {
            call: "getpwnam_r",
            source: io::Error::from_raw_os_error(rc),
        });
    }
    Ok((!found.is_null()).then_some(Passwd {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    }))
}

/// getgrouplist(3): the supplementary groups of user `name` (always including `gid`).
pub(crate) fn group_list(name: &CStr, gid: Gid) -> Vec<Gid> {
    let mut groups: Vec<Gid> = vec![0; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `n` gids; `name` is NUL-terminated.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        let n = usize::try_from(n).unwrap_or(0);
        if rc >= 0 {
            groups.truncate(n);
            return groups;
        }
        if n <= groups.len() || groups.len() >= 65_536 {
            return vec![gid];
        }
        groups.resize(n, 0);
    }
}

/// execve(2): becomes `path` with `argv` and `env`, each ending with a NULL pointer;
/// returns only why that failed.
pub(crate) fn execve(
    path: &CStr,
    argv: &[*const libc::c_char],
    env: &[*const libc::c_char],
) -> SysError {
    if argv.last().is_none_or(|p| !p.is_null()) || env.last().is_none_or(|p| !p.is_null()) {
        return SysError {
            call: "execve",
            source: io::Error::from(io::ErrorKind::InvalidInput),
        };
    }
    // SAFETY: every pointer is a valid NUL-terminated string; both arrays end with NULL
    // (checked above).
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), env.as_ptr()) };
    SysError::last("execve")
}

/// The NULL-terminated pointer array execve takes, borrowing `strings`.
pub(crate) fn c_array(strings: &[std::ffi::CString]) -> Vec<*const libc::c_char> {
    let mut out: Vec<_> = strings.iter().map(|s| s.as_ptr()).collect();
    out.push(std::ptr::null());
    out
}

// ---- files and descriptors ----

/// Takes ownership of descriptor `fd`.
///
/// `fd` must be open and owned by nothing else in this process (the usual case: a
/// descriptor inherited across exec, or one the kernel just returned).
pub(crate) fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: per this function's contract the caller hands over sole ownership of `fd`.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// pipe2(O_CLOEXEC): the read and write ends, both close-on-exec.
pub(crate) fn pipe_cloexec() -> Result<(OwnedFd, OwnedFd), SysError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2(2) writes.
    check("pipe2", unsafe {
        libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC)
    })?;
    Ok((own_fd(fds[0]), own_fd(fds[1])))
}

/// fcntl(F_SETFD): sets FD_CLOEXEC on `fd`.
pub(crate) fn set_cloexec(fd: RawFd) -> Result<(), SysError> {
    // SAFETY: fcntl on an fd number has no memory-safety preconditions.
    let flags = check("fcntl(F_GETFD)", unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
    check("fcntl(F_SETFD)", rc).map(drop)
}

/// fcntl(F_SETFD, 0): `fd` stays open across exec. Async-signal-safe.
#[inline]
pub(crate) fn keep_across_exec(fd: RawFd) -> Result<(), SysError> {
    // SAFETY: fcntl takes integers only.
    check("fcntl(F_SETFD)", unsafe {
        libc::fcntl(fd, libc::F_SETFD, 0)
    })
    .map(drop)
}

/// Writes `data` to the existing file `path` (open, write, close). Async-signal-safe.
#[inline]
pub(crate) fn write_file(path: &CStr, data: &[u8]) -> Result<(), SysError> {
    // SAFETY: `path` is a valid NUL-terminated string.
    let fd = check("open", unsafe {
        libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC)
    })?;
    // SAFETY: `data` is a valid buffer of `data.len()` bytes; `fd` is open.
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let result = check("write", written).map(drop);
    // SAFETY: `fd` is open and owned here.
    unsafe { libc::close(fd) };
    result
}

/// access(X_OK): whether `path` is executable for us.
pub(crate) fn is_executable(path: &CStr) -> bool {
    // SAFETY: `path` is a valid NUL-terminated string.
    unsafe { libc::access(path.as_ptr(), libc::X_OK) == 0 }
}

/// poll(2) for input on `fd`: whether it is readable (or hung up) within `timeout_ms`.
pub(crate) fn poll_in(fd: RawFd, timeout_ms: i32) -> Result<bool, SysError> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    check("poll", unsafe { libc::poll(&mut pfd, 1, timeout_ms) }).map(|n| n > 0)
}

/// getsockopt(SO_PEERCRED): the uid of the process at the other end of Unix socket `fd`.
pub(crate) fn peer_uid(fd: RawFd) -> Result<Uid, SysError> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid out-parameters of the right size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    check("getsockopt(SO_PEERCRED)", rc)?;
    Ok(cred.uid)
}

// ---- namespaces and mounts ----

/// unshare(2) of the namespaces in `flags` (CLONE_NEW*). A new mount namespace needs a
/// single-threaded caller.
pub(crate) fn unshare(flags: i32) -> Result<(), SysError> {
    // SAFETY: unshare takes an integer.
    check("unshare", unsafe { libc::unshare(flags) }).map(drop)
}

/// setns(fd, CLONE_NEWNS): enters the mount namespace `fd` names. Async-signal-safe.
#[inline]
pub(crate) fn enter_mount_ns(fd: RawFd) -> Result<(), SysError> {
    // SAFETY: setns takes integers only.
    check("setns", unsafe { libc::setns(fd, libc::CLONE_NEWNS) }).map(drop)
}

/// chdir(2). Async-signal-safe.
#[inline]
pub(crate) fn chdir(dir: &CStr) -> Result<(), SysError> {
    // SAFETY: `dir` is a valid NUL-terminated string.
    check("chdir", unsafe { libc::chdir(dir.as_ptr()) }).map(drop)
}

/// mount(2); `None` is a NULL argument.
pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: MountFlags,
    data: Option<&CStr>,
) -> Result<(), SysError> {
    let ptr = |c: Option<&CStr>| c.map_or(std::ptr::null(), CStr::as_ptr);
    // SAFETY: every pointer is NULL or a valid NUL-terminated string for the call.
    let rc = unsafe {
        libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            flags,
            ptr(data).cast(),
        )
    };
    check("mount", rc).map(drop)
}

/// pivot_root(".", "."): the working directory becomes the root, the old root stacked
/// under it.
pub(crate) fn pivot_root_here() -> Result<(), SysError> {
    let dot = c".";
    // SAFETY: valid NUL-terminated paths.
    let rc = unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) };
    check("pivot_root", rc).map(drop)
}

/// umount2(MNT_DETACH).
pub(crate) fn detach(target: &CStr) -> Result<(), SysError> {
    // SAFETY: `target` is a valid NUL-terminated string.
    check("umount2", unsafe {
        libc::umount2(target.as_ptr(), libc::MNT_DETACH)
    })
    .map(drop)
}

#[cfg(test)]
pub(crate) use libc::EINVAL;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn errors_name_the_call() {
        // No process has pid i32::MAX (pid_max is at most 2^22).
        let e = kill(i32::MAX, 0).expect_err("no such process");
        assert!(e.is(ESRCH));
        assert!(e.to_string().starts_with("kill: "), "{e}");
    }

    #[test]
    fn a_pipe_polls_readable_once_written() {
        let (r, w) = pipe_cloexec().expect("pipe");
        assert!(!poll_in(r.as_raw_fd(), 0).expect("poll"));
        std::fs::File::from(w).write_all(b"x").expect("write");
        assert!(poll_in(r.as_raw_fd(), 1000).expect("poll"));
    }

    #[test]
    fn the_peer_of_a_socket_pair_is_us() {
        let (a, _b) = std::os::unix::net::UnixStream::pair().expect("pair");
        assert_eq!(peer_uid(a.as_raw_fd()).expect("peer"), geteuid());
    }
}
