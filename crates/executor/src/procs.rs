//! Processes as `/proc` shows them: finding a container's members, signalling them, and
//! reaping orphans that were re-parented to the executor (a child subreaper).

use crate::sys;
use std::collections::BTreeSet;
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How often [`wait_until`] checks on a child.
const WAIT_POLL: Duration = Duration::from_millis(10);

/// The fields of `/proc/<pid>/stat` the executor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pid: i32,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
}

impl ProcStat {
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, tail) = text.rsplit_once(')')?;
    let pid = head.split_once(' ')?.0.trim().parse().ok()?;
    let mut fields = tail.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut num = || fields.next()?.parse().ok();
    Some(ProcStat {
        pid,
        state,
        ppid: num()?,
        pgrp: num()?,
        session: num()?,
    })
}

/// Reads the stat of `pid`, `None` when it is gone.
pub(crate) fn stat(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process currently visible in `/proc`.
pub(crate) fn all() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat)
        .collect()
}

/// Live (non-zombie) members of session `sid`: the container of a task started with
/// `setsid` when no cgroup tracks it.
pub(crate) fn session_members(sid: i32) -> Vec<i32> {
    all()
        .into_iter()
        .filter(|p| p.session == sid && !p.is_zombie())
        .map(|p| p.pid)
        .collect()
}

/// Whether `pid` is a live (non-zombie) process.
pub(crate) fn is_alive(pid: i32) -> bool {
    stat(pid).is_some_and(|p| !p.is_zombie())
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub(crate) fn signal(pid: i32, signal: i32) {
    if pid <= 0 {
        return;
    }
    if let Err(e) = sys::kill(pid, signal)
        && !e.is(sys::ESRCH)
    {
        tracing::warn!(pid, signal, error = %io::Error::from(e), "kill failed");
    }
}

/// Sends `signal` to process group `pgid`.
pub(crate) fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        signal(-pgid, sig);
    }
}

/// Children that their spawner waits for by pid; orphan reaping leaves them alone. The
/// registry is process-wide because several executors may share a process (tests).
static CLAIMED: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

pub(crate) fn claimed() -> MutexGuard<'static, BTreeSet<i32>> {
    CLAIMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns `cmd` and claims the child, so orphan reaping never steals its exit status;
/// whoever waits for it calls [`unclaim`] afterwards.
pub(crate) fn spawn_claimed(cmd: &mut Command) -> io::Result<Child> {
    let mut claimed = claimed();
    let child = cmd.spawn()?;
    claimed.insert(child.id() as i32);
    Ok(child)
}

/// Gives a child's pid back to orphan reaping once it has been waited for.
pub(crate) fn unclaim(child: &Child) {
    claimed().remove(&(child.id() as i32));
}

/// Waits for `child` until `deadline`, polling; `Ok(None)` when the deadline passed or
/// `give_up` said so first (the child is still running then).
pub(crate) fn wait_until(
    child: &mut Child,
    deadline: Instant,
    give_up: &dyn Fn() -> bool,
) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if keel_clock::monotonic() >= deadline || give_up() {
            return Ok(None);
        }
        std::thread::sleep(WAIT_POLL);
    }
}

/// SIGKILLs `child` and its process group (it ran `setsid`), then reaps it.
pub(crate) fn kill_and_reap(child: &mut Child) {
    signal_group(child.id() as i32, sys::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// Reaps exited children of this process that nobody claimed (orphans of the task that
/// were re-parented to us). Returns how many were reaped.
pub(crate) fn reap_orphans() -> usize {
    let claimed = claimed();
    match sys::peek_exited_child() {
        None => return 0,
        Some(pid) if !claimed.contains(&pid) => return reap(pid) + reap_scanned(&claimed),
        Some(_) => {}
    }
    reap_scanned(&claimed)
}

/// Reaps every unclaimed zombie child found in `/proc`.
fn reap_scanned(claimed: &BTreeSet<i32>) -> usize {
    let me = sys::getpid();
    all()
        .into_iter()
        .filter(|p| p.ppid == me && p.is_zombie() && !claimed.contains(&p.pid))
        .map(|p| reap(p.pid))
        .sum()
}

fn reap(pid: i32) -> usize {
    usize::from(sys::reap_now(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let line = "4242 (my (weird) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0";
        let stat = parse_stat(line);
        let expect = ProcStat {
            pid: 4242,
            state: 'S',
            ppid: 1,
            pgrp: 4242,
            session: 4242,
        };
        assert_eq!(stat, Some(expect));
        assert_eq!(
            parse_stat("12 (zz) Z 3 4 5").map(|s| s.is_zombie()),
            Some(true)
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn sees_itself() {
        let me = std::process::id() as i32;
        assert!(is_alive(me));
        assert!(all().iter().any(|p| p.pid == me));
    }
}
