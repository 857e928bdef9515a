//! Starting the task process: argv and environment from the config, then, between fork and
//! exec, a new session, the container's cgroups and the task's user. Everything the child
//! needs is prepared before the fork; the child only makes async-signal-safe calls.

use crate::sys;
use keel_model::CommandSpec;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The `PATH` a task gets when its environment has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why the task could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("unknown user {user:?}")]
    UnknownUser { user: String },
    #[error("cannot look up user {user:?}: {source}")]
    UserLookup { user: String, source: io::Error },
    #[error("{what} contains a NUL byte")]
    Nul { what: String },
    #[error("failed to launch command {command:?}: {source}")]
    Launch { command: String, source: io::Error },
}

/// Everything needed to start the task.
#[derive(Debug, Clone)]
pub struct SpawnPlan {
    pub command: CommandSpec,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    /// `cgroup.procs` files the child joins before exec.
    pub cgroup_procs: Vec<PathBuf>,
    /// Run `container-init` in new namespaces instead of the command itself.
    pub container: Option<ContainerInit>,
    /// Run the command inside this mount namespace (`/proc/<pid>/ns/mnt` of a container),
    /// in the container's sandbox.
    pub mount_ns: Option<PathBuf>,
}

/// How to start a container of Keel's own runtime: the plan `container-init` carries out
/// and the pipe it reports the launch on.
#[derive(Debug, Clone)]
pub struct ContainerInit {
    pub program: PathBuf,
    pub plan_path: PathBuf,
    pub launch_fd: RawFd,
}

/// Ids to switch to in the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserIds {
    pub uid: sys::Uid,
    pub gid: sys::Gid,
    pub groups: Vec<sys::Gid>,
}

/// The program and argv of `command`: `/bin/sh -c value` for shell commands, otherwise
/// `value` run with `arguments` as argv (`[value]` when empty).
pub(crate) fn command_line(command: &CommandSpec) -> (String, Vec<String>) {
    if command.shell {
        let argv = vec!["sh".to_string(), "-c".to_string(), command.value.clone()];
        return ("/bin/sh".to_string(), argv);
    }
    let argv = match command.arguments.is_empty() {
        true => vec![command.value.clone()],
        false => command.arguments.clone(),
    };
    (command.value.clone(), argv)
}

/// The task's environment: exactly `env`, plus a default `PATH` when it has none.
pub(crate) fn task_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = env.clone();
    env.entry("PATH".to_string())
        .or_insert_with(|| DEFAULT_PATH.to_string());
    env
}

/// How the command is named in messages.
pub(crate) fn describe(command: &CommandSpec) -> String {
    match command.shell || command.arguments.is_empty() {
        true => command.value.clone(),
        false => command.arguments.join(" "),
    }
}

/// Starts the task described by `plan` with the given stdout and stderr (stdin is
/// `/dev/null`). The child's pid is registered as claimed, so orphan reaping never steals
/// its exit status; whoever waits for it must unclaim it.
pub fn spawn(plan: &SpawnPlan, stdout: Stdio, stderr: Stdio) -> Result<Child, SpawnError> {
    let user = match (&plan.command.user, &plan.container, &plan.mount_ns) {
        // Inside a container, the image's user database decides (container-init); checks
        // entering one need their privileges to do so.
        (Some(name), None, None) => switch_user(name)?,
        _ => None,
    };
    let procs = plan
        .cgroup_procs
        .iter()
        .map(|p| cstring(p.as_os_str().as_bytes(), &p.display().to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(ids) = &user {
        chown_sandbox(&plan.cwd, ids);
    }
    let mut cmd = match &plan.container {
        Some(init) => init_command(init),
        None => build_command(plan),
    };
    cmd.stdout(stdout).stderr(stderr);
    let container = plan.container.as_ref().map(|c| c.launch_fd);
    let mount_ns = match &plan.mount_ns {
        Some(path) => Some(
            std::fs::File::open(path).map_err(|source| SpawnError::Launch {
                command: format!("{} (entering {})", describe(&plan.command), path.display()),
                source,
            })?,
        ),
        None => None,
    };
    let ns_fd = mount_ns.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    let sandbox = cstring(CONTAINER_SANDBOX.as_bytes(), "sandbox")?;
    // The hook only makes async-signal-safe calls on data prepared before the fork.
    sys::pre_exec(&mut cmd, move || {
        // The host's cgroup files first: they are not visible from the container.
        child_setup(&procs, user.as_ref())?;
        if let Some(fd) = ns_fd {
            enter_mount_ns(fd, &sandbox)?;
        }
        match container {
            Some(fd) => Ok(sys::keep_across_exec(fd)?),
            None => Ok(()),
        }
    });
    let launch = |source| SpawnError::Launch {
        command: describe(&plan.command),
        source,
    };
    let mut claimed = crate::procs::claimed();
    let child = cmd.spawn().map_err(launch)?;
    claimed.insert(child.id() as i32);
    Ok(child)
}

fn build_command(plan: &SpawnPlan) -> Command {
    let (program, argv) = command_line(&plan.command);
    let mut cmd = Command::new(program);
    if let Some((arg0, args)) = argv.split_first() {
        cmd.arg0(arg0).args(args);
    }
    cmd.env_clear()
        .envs(task_env(&plan.env))
        .current_dir(&plan.cwd)
        .stdin(Stdio::null());
    cmd
}

/// `keel container-init <plan> <fd>`, with an empty environment.
fn init_command(init: &ContainerInit) -> Command {
    let mut cmd = Command::new(&init.program);
    cmd.arg0("keel")
        .arg("container-init")
        .arg(&init.plan_path)
        .arg(init.launch_fd.to_string())
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

/// Where command checks of a container of Keel's runtime start.
const CONTAINER_SANDBOX: &str = crate::ucr::plan::CONTAINER_SANDBOX;

/// In the child: moves into the container's mount namespace (which resets the root and
/// working directory to the container's root) and into its sandbox.
fn enter_mount_ns(fd: RawFd, sandbox: &CStr) -> io::Result<()> {
    sys::enter_mount_ns(fd)?;
    Ok(sys::chdir(sandbox)?)
}

/// Runs in the child between fork and exec: async-signal-safe calls only, no allocation.
fn child_setup(procs: &[CString], user: Option<&UserIds>) -> io::Result<()> {
    sys::setsid()?;
    // Descriptors the executor inherited without close-on-exec must not reach the task.
    sys::cloexec_from(3);
    let pid = sys::getpid();
    let mut buf = [0u8; 16];
    let digits = format_pid(pid, &mut buf);
    for path in procs {
        sys::write_file(path, digits)?;
    }
    match user {
        Some(ids) => Ok(sys::switch_user(ids.uid, ids.gid, &ids.groups)?),
        None => Ok(()),
    }
}

/// Writes the decimal digits of `pid` into `buf` without allocating; returns them.
pub(crate) fn format_pid(pid: i32, buf: &mut [u8; 16]) -> &[u8] {
    let mut n = pid.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || start == 0 {
            break;
        }
    }
    &buf[start..]
}

fn cstring(bytes: &[u8], what: &str) -> Result<CString, SpawnError> {
    CString::new(bytes).map_err(|_| SpawnError::Nul {
        what: what.to_string(),
    })
}

/// The ids to switch to for `name`, or `None` when it is the current user.
fn switch_user(name: &str) -> Result<Option<UserIds>, SpawnError> {
    let ids = lookup_user(name)?;
    Ok((ids.uid != sys::geteuid()).then_some(ids))
}

/// Looks `name` up in the user database (getpwnam_r, getgrouplist).
pub(crate) fn lookup_user(name: &str) -> Result<UserIds, SpawnError> {
    let c_name = cstring(name.as_bytes(), &format!("user {name:?}"))?;
    let lookup_err = |source| SpawnError::UserLookup {
        user: name.to_string(),
        source,
    };
    let Some(pwd) = sys::getpwnam(&c_name).map_err(|e| lookup_err(e.into()))? else {
        return Err(SpawnError::UnknownUser {
            user: name.to_string(),
        });
    };
    Ok(UserIds {
        uid: pwd.uid,
        gid: pwd.gid,
        groups: sys::group_list(&c_name, pwd.gid),
    })
}

/// Gives the sandbox to the task's user so it can write there (as Mesos does).
fn chown_sandbox(dir: &Path, ids: &UserIds) {
    if let Err(e) = std::os::unix::fs::chown(dir, Some(ids.uid), Some(ids.gid)) {
        tracing::warn!(dir = %dir.display(), error = %e, "cannot chown sandbox");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(shell: bool, value: &str, args: &[&str]) -> CommandSpec {
        crate::testing::command(shell, value, args)
    }

    fn check(command: CommandSpec, program: &str, argv: &[&str]) {
        let (p, a) = command_line(&command);
        assert_eq!(
            (p.as_str(), a),
            (program, argv.iter().map(|s| s.to_string()).collect())
        );
    }

    #[test]
    fn command_lines() {
        check(
            cmd(true, "echo hi && exit 3", &[]),
            "/bin/sh",
            &["sh", "-c", "echo hi && exit 3"],
        );
        check(cmd(false, "sleep", &[]), "sleep", &["sleep"]);
        check(
            cmd(false, "/bin/echo", &["echo", "a", "b"]),
            "/bin/echo",
            &["echo", "a", "b"],
        );
    }

    #[test]
    fn env_gets_a_default_path_only_when_missing() {
        let env: BTreeMap<String, String> = [("A".into(), "1".into())].into();
        assert_eq!(
            task_env(&env).get("PATH").map(String::as_str),
            Some(DEFAULT_PATH)
        );
        let env: BTreeMap<String, String> = [("PATH".into(), "/x".into())].into();
        assert_eq!(task_env(&env).get("PATH").map(String::as_str), Some("/x"));
        assert_eq!(task_env(&env).len(), 1);
    }

    #[test]
    fn pid_digits() {
        let mut buf = [0u8; 16];
        for (pid, text) in [
            (0, "0"),
            (7, "7"),
            (4_194_304, "4194304"),
            (i32::MAX, "2147483647"),
        ] {
            assert_eq!(format_pid(pid, &mut buf), text.as_bytes());
        }
    }

    #[test]
    fn user_lookup() {
        let root = lookup_user("root").expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0));
        let missing = lookup_user("no-such-user-keel");
        assert!(
            matches!(missing, Err(SpawnError::UnknownUser { .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn a_missing_program_is_a_launch_error_naming_it() {
        let plan = SpawnPlan {
            command: cmd(false, "/nonexistent/keel-prog", &[]),
            env: BTreeMap::new(),
            cwd: std::env::temp_dir(),
            cgroup_procs: Vec::new(),
            container: None,
            mount_ns: None,
        };
        let result = spawn(&plan, Stdio::null(), Stdio::null());
        let msg = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("/nonexistent/keel-prog") && msg.contains("No such file"),
            "{msg}"
        );
    }
}
