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
use crate::sys::{self, Forked, Pid};
use std::ffi::CString;
use std::io::{self, Read, Write};
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

/// The signals passed on to the task (the rest keep their default action).
const FORWARDED: [i32; 7] = [
    sys::SIGTERM,
    sys::SIGINT,
    sys::SIGHUP,
    sys::SIGQUIT,
    sys::SIGUSR1,
    sys::SIGUSR2,
    sys::SIGWINCH,
];

/// Exit code when the container could not be built (as `docker run` uses).
const SETUP_FAILED: i32 = 125;

/// The namespaces a container gets (its network is the host's).
const NAMESPACES: i32 =
    sys::CLONE_NEWNS | sys::CLONE_NEWUTS | sys::CLONE_NEWIPC | sys::CLONE_NEWPID;

/// Runs the outer process; returns its exit code (when it does not die by the task's
/// signal itself).
pub fn container_init(plan_path: &Path, launch_fd: RawFd) -> i32 {
    if launch_fd < 0 {
        eprintln!("keel container-init: no launch pipe");
        return SETUP_FAILED;
    }
    // The executor handed `launch_fd` over to this process, which owns it alone.
    let launch = sys::own_fd(launch_fd);
    set_cloexec(launch_fd);
    let mut launch = std::fs::File::from(launch);
    let plan = match read_plan(plan_path) {
        Ok(plan) => plan,
        Err(why) => {
            let _ = writeln!(launch, "error: {why}");
            return SETUP_FAILED;
        }
    };
    // This process is single-threaded, as CLONE_NEWNS requires.
    if let Err(e) = sys::unshare(NAMESPACES) {
        let e = e.source;
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
    // This process is single-threaded (a fresh exec), so the child may do anything.
    match sys::fork() {
        Err(e) => {
            let e = e.source;
            let _ = writeln!(launch, "error: cannot fork the container's init: {e}");
            SETUP_FAILED
        }
        Ok(Forked::Child) => {
            drop(status_r);
            init(&plan, launch, status_w)
        }
        Ok(Forked::Parent(pid)) => {
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
fn outer(init_pid: Pid, status_r: OwnedFd) -> i32 {
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
    if let Some(code) = sys::exit_code(status) {
        return code;
    }
    let sig = sys::term_signal(status);
    sys::die_of(sig);
    128 + sig
}

/// The container's init: builds the container, starts the task, reaps until it exits.
fn init(plan: &ContainerPlan, mut launch: std::fs::File, status_w: OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    set_cloexec(status_w.as_raw_fd());
    sys::set_process_name(c"keel-init");
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
            sys::is_executable(&c)
        })
        .ok_or_else(|| format!("executable {program:?} not found in the image (PATH={path})"))
}

/// Forks the task; it reports an exec failure on a close-on-exec pipe, so the result is
/// known before this returns.
fn start(task: Exec) -> Result<Pid, String> {
    let (r, w) = pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
    // This process is single-threaded.
    match sys::fork() {
        Err(e) => Err(format!("cannot fork the task: {}", e.source)),
        Ok(Forked::Child) => {
            drop(r);
            let why = exec(&task);
            let mut w = std::fs::File::from(w);
            let _ = w.write_all(why.as_bytes());
            exit(127)
        }
        Ok(Forked::Parent(pid)) => {
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
    if let Err(e) = sys::chdir(&task.cwd) {
        let e = e.source;
        return format!("cannot enter working directory {:?}: {e}", task.cwd);
    }
    let (argv, env) = (sys::c_array(&task.argv), sys::c_array(&task.env));
    let e = sys::execve(&task.path, &argv, &env).source;
    format!("cannot execute {:?}: {e}", task.path)
}

/// Reaps every child until `pid` exits; returns its wait status.
fn reap_until(pid: Pid) -> i32 {
    loop {
        match sys::waitpid(-1) {
            Ok((got, status)) if got == pid => return status,
            // No children left: the task is gone without our seeing it.
            Err(e) if !e.is(sys::EINTR) => return sys::EXIT_FAILURE << 8,
            _ => {}
        }
    }
}

/// Waits for `pid`; returns its wait status.
fn wait_for(pid: Pid) -> i32 {
    loop {
        match sys::waitpid(pid) {
            Ok((got, status)) if got == pid => return status,
            Err(e) if !e.is(sys::EINTR) => return sys::EXIT_FAILURE << 8,
            _ => {}
        }
    }
}

/// Passes the usual termination and job-control signals on to `pid`.
fn forward_signals(pid: Pid) {
    sys::forward_signals(pid, &FORWARDED);
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(sys::pipe_cloexec()?)
}

fn set_cloexec(fd: RawFd) {
    let _ = sys::set_cloexec(fd);
}

/// Ends a forked process without running the parent's exit handlers twice.
fn exit(code: i32) -> ! {
    sys::exit(code)
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
