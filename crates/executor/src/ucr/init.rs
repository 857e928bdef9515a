//! `keel container-init`: the processes that build a container and run the task in it.
//!
//! The executor starts this already in the container's cgroups and session. Three
//! processes:
//!
//! - the *outer* process (this one, in the host's PID namespace, the executor's child):
//!   unshares the mount, UTS, IPC and PID namespaces, forks the container's init, forwards signals to it, and finally exits exactly as the
//!   task did (same exit code, or killed by the same signal), so the executor's view of
//!   the task is unchanged;
//! - the container's *init* (PID 1): mounts the root filesystem, `/proc`, `/sys`, `/dev`,
//!   the sandbox and the volumes, pivots into the root, forks the task, reports on the
//!   launch pipe whether the task's program started, then forwards signals to it and
//!   reaps orphans until it exits;
//! - the *task*: switches to the container's user and working directory and execs.
//!
//! The launch pipe carries one line to the executor: `ok`, or `error: <why>`.

use super::mount;
use super::plan::ContainerPlan;
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals passed on to the task (the rest keep their default action).
const FORWARDED: [libc::c_int; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Where the signal handler sends what it receives.
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Exit code when the container could not be built (as `docker run` uses).
const SETUP_FAILED: i32 = 125;

/// The namespaces a container gets (its network is the host's).
const NAMESPACES: libc::c_int =
    libc::CLONE_NEWNS | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWPID;

/// Runs the outer process; returns its exit code (when it does not die by the task's
/// signal itself).
pub fn container_init(plan_path: &Path, launch_fd: RawFd) -> i32 {
    if launch_fd < 0 {
        eprintln!("keel container-init: no launch pipe");
        return SETUP_FAILED;
    }
    // SAFETY: the executor handed `launch_fd` over to this process, which owns it alone.
    let launch = unsafe { OwnedFd::from_raw_fd(launch_fd) };
    set_cloexec(launch_fd);
    let mut launch = std::fs::File::from(launch);
    let plan = match read_plan(plan_path) {
        Ok(plan) => plan,
        Err(why) => {
            let _ = writeln!(launch, "error: {why}");
            return SETUP_FAILED;
        }
    };
    // SAFETY: unshare takes an integer; this process is single-threaded, as
    // CLONE_NEWNS requires.
    if unsafe { libc::unshare(NAMESPACES) } != 0 {
        let e = io::Error::last_os_error();
        let _ = writeln!(
            launch,
            "error: cannot create the container's namespaces: {e}"
        );
        return SETUP_FAILED;
    }
    let (status_r, status_w) = match pipe() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(launch, "error: cannot create a pipe: {e}");
            return SETUP_FAILED;
        }
    };
    // SAFETY: this process is single-threaded (a fresh exec), so the child may do anything.
    match unsafe { libc::fork() } {
        -1 => {
            let e = io::Error::last_os_error();
            let _ = writeln!(launch, "error: cannot fork the container's init: {e}");
            SETUP_FAILED
        }
        0 => {
            drop(status_r);
            init(&plan, launch, status_w)
        }
        pid => {
            drop((launch, status_w));
            outer(pid, status_r)
        }
    }
}

fn read_plan(path: &Path) -> Result<ContainerPlan, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("bad container plan {}: {e}", path.display()))
}

/// The outer process: waits for the init and exits as the task did.
fn outer(init_pid: libc::pid_t, status_r: OwnedFd) -> i32 {
    forward_signals(init_pid);
    let init_status = wait_for(init_pid);
    let mut buf = [0u8; 4];
    let status = match std::fs::File::from(status_r).read_exact(&mut buf) {
        Ok(()) => i32::from_ne_bytes(buf),
        // The init died without reporting (killed): report that.
        Err(_) => init_status,
    };
    mirror(status)
}

/// Exits with `status`'s code, or dies of its signal.
fn mirror(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        return libc::WEXITSTATUS(status);
    }
    let sig = libc::WTERMSIG(status);
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
    128 + sig
}

/// The container's init: builds the container, starts the task, reaps until it exits.
fn init(plan: &ContainerPlan, mut launch: std::fs::File, status_w: OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    set_cloexec(status_w.as_raw_fd());
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"keel-init".as_ptr(), 0, 0, 0) };
    let task = match mount::build(plan).and_then(|()| prepare_exec(plan)) {
        Ok(task) => task,
        Err(why) => {
            let _ = writeln!(launch, "error: {why}");
            exit(SETUP_FAILED)
        }
    };
    let pid = match start(task) {
        Ok(pid) => pid,
        Err(why) => {
            let _ = writeln!(launch, "error: {why}");
            exit(SETUP_FAILED)
        }
    };
    let _ = writeln!(launch, "ok");
    drop(launch);
    forward_signals(pid);
    let status = reap_until(pid);
    let mut w = std::fs::File::from(status_w);
    let _ = w.write_all(&status.to_ne_bytes());
    exit(0)
}

/// The task's exec, prepared before it forks.
struct Exec {
    path: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    cwd: CString,
    user: Option<super::user::Ids>,
}

fn prepare_exec(plan: &ContainerPlan) -> Result<Exec, String> {
    let cstr = |s: &str| CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"));
    let path_var = plan
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(crate::DEFAULT_PATH);
    let path = lookup(&plan.program, path_var)?;
    let user = match &plan.user {
        Some(u) => Some(super::user::resolve(u, Path::new("/etc"))?),
        None => None,
    };
    Ok(Exec {
        path: cstr(&path)?,
        argv: plan
            .argv
            .iter()
            .map(|a| cstr(a))
            .collect::<Result<_, _>>()?,
        env: plan.env.iter().map(|e| cstr(e)).collect::<Result<_, _>>()?,
        cwd: cstr(&plan.cwd)?,
        user,
    })
}

/// `program` itself when it has a slash, else the first executable of that name on `path`.
fn lookup(program: &str, path: &str) -> Result<String, String> {
    if program.contains('/') {
        return Ok(program.to_string());
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| format!("{dir}/{program}"))
        .find(|p| {
            let Ok(c) = CString::new(p.as_str()) else {
                return false;
            };
            // SAFETY: `c` is a valid NUL-terminated string.
            unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
        })
        .ok_or_else(|| format!("executable {program:?} not found in the image (PATH={path})"))
}

/// Forks the task; it reports an exec failure on a close-on-exec pipe, so the result is
/// known before this returns.
fn start(task: Exec) -> Result<libc::pid_t, String> {
    let (r, w) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    // SAFETY: this process is single-threaded.
    match unsafe { libc::fork() } {
        -1 => Err(format!(
            "cannot fork the task: {}",
            io::Error::last_os_error()
        )),
        0 => {
            drop(r);
            let why = exec(&task);
            let mut w = std::fs::File::from(w);
            let _ = w.write_all(why.as_bytes());
            exit(127)
        }
        pid => {
            drop(w);
            let mut why = String::new();
            let _ = std::fs::File::from(r).read_to_string(&mut why);
            if why.is_empty() {
                return Ok(pid);
            }
            wait_for(pid);
            Err(why)
        }
    }
}

/// Becomes the task; returns only why that failed.
fn exec(task: &Exec) -> String {
    if let Some(ids) = &task.user
        && let Err(e) = ids.switch()
    {
        return format!("cannot switch to user {}: {e}", ids.name);
    }
    // SAFETY: `cwd` is a valid NUL-terminated string.
    if unsafe { libc::chdir(task.cwd.as_ptr()) } != 0 {
        let e = io::Error::last_os_error();
        return format!("cannot enter working directory {:?}: {e}", task.cwd);
    }
    let mut argv: Vec<*const libc::c_char> = task.argv.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut env: Vec<*const libc::c_char> = task.env.iter().map(|e| e.as_ptr()).collect();
    env.push(std::ptr::null());
    // SAFETY: every pointer is a valid NUL-terminated string; both arrays end with NULL.
    unsafe { libc::execve(task.path.as_ptr(), argv.as_ptr(), env.as_ptr()) };
    let e = io::Error::last_os_error();
    format!("cannot execute {:?}: {e}", task.path)
}

/// Reaps every child until `pid` exits; returns its wait status.
fn reap_until(pid: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let got = unsafe { libc::waitpid(-1, &mut status, 0) };
        if got == pid {
            return status;
        }
        if got < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // No children left: the task is gone without our seeing it.
            return libc::EXIT_FAILURE << 8;
        }
    }
}

/// Waits for `pid`; returns its wait status.
fn wait_for(pid: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let got = unsafe { libc::waitpid(pid, &mut status, 0) };
        if got == pid {
            return status;
        }
        if got < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return libc::EXIT_FAILURE << 8;
        }
    }
}

extern "C" fn forward(sig: libc::c_int) {
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Passes the usual termination and job-control signals on to `pid`.
fn forward_signals(pid: libc::pid_t) {
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in FORWARDED {
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

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2(2) writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just opened both descriptors; nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl on a descriptor number has no memory-safety preconditions.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

/// Ends a forked process without running the parent's exit handlers twice.
fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_lookup() {
        assert_eq!(lookup("/x/y", "").as_deref(), Ok("/x/y"));
        assert_eq!(lookup("sh", "/nonexistent:/bin").as_deref(), Ok("/bin/sh"));
        let err = lookup("no-such-program-keel", "/bin:/usr/bin").unwrap_err();
        assert!(err.contains("no-such-program-keel"), "{err}");
    }
}
