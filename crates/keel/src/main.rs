//! The `keel` binary: parses the command line and wires the roles (master, agent,
//! executor) and the CLI. No decisions live here.

#![forbid(unsafe_code)]

mod diag;
mod node;
mod roles;

/// mimalloc instead of glibc's malloc: the control plane's bursts of short-lived
/// allocations (placement, status batches, JSON) made glibc grow and trim its heap over and
/// over, a fifth of the master's time spent zeroing fresh pages.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "keel",
    version,
    about = "Keel: a datacenter operating system in one binary"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    global: keel_cli::Global,
    /// Log format of `keel dev|master|agent`: text (coloured only on a terminal) or json
    /// (one object per line).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KEEL_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: roles::LogFormat,
    /// Size at which the component journal (`<data dir>/logs/journal.jsonl`, served at
    /// `/system/v1/logs/v2/component`) rotates.
    #[arg(
        long,
        global = true,
        env = "KEEL_COMPONENT_LOG_MAX_SIZE",
        default_value_t = 10 * 1024 * 1024
    )]
    component_log_max_size: u64,
    /// Rotated component journal files kept.
    #[arg(
        long,
        global = true,
        env = "KEEL_COMPONENT_LOG_MAX_FILES",
        default_value_t = 5
    )]
    component_log_max_files: u32,
}

// Parsed once per process: the size of the role variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run a single-node cluster (master and agents in one process).
    Dev(roles::DevArgs),
    /// Run the control plane.
    Master(roles::MasterArgs),
    /// Run a node agent.
    Agent(roles::AgentArgs),
    /// Run one task's executor (started by the agent).
    #[command(hide = true)]
    Executor {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value_t = 3)]
        listen_fd: i32,
    },
    /// Tasks: run, list, log, kill.
    #[command(subcommand)]
    Task(keel_cli::TaskCmd),
    /// Nodes (agents).
    #[command(subcommand)]
    Node(keel_cli::NodeCmd),
    /// DNS: look names up in the cluster's DNS server.
    #[command(subcommand)]
    Dns(keel_cli::DnsCmd),
    /// Virtual IPs (the L4 load balancer's table).
    #[command(subcommand)]
    Vip(keel_cli::VipCmd),
    /// Diagnostics: unit health on every node, and diagnostics bundles.
    #[command(subcommand)]
    Diag(keel_cli::DiagCmd),
    /// The cluster's recent past (the history service's minute and hour rings).
    History(keel_cli::HistoryArgs),
    /// Images for Keel's own container runtime: load an archive into the agents.
    #[command(subcommand)]
    Image(keel_cli::ImageCmd),
    /// Services (Marathon apps).
    #[command(subcommand)]
    App(keel_cli::AppCmd),
    /// Service groups.
    #[command(subcommand)]
    Group(keel_cli::GroupCmd),
    /// Pods.
    #[command(subcommand)]
    Pod(keel_cli::PodCmd),
    /// Deployments of apps, groups and pods.
    #[command(subcommand)]
    Deployment(keel_cli::DeploymentCmd),
    /// Jobs (Metronome): one-off and scheduled runs, history, logs.
    #[command(subcommand)]
    Job(keel_cli::JobCmd),
    /// Print shell completions.
    Completions { shell: clap_complete::Shell },
}

fn main() -> std::process::ExitCode {
    // The container init runs before anything else is set up: it is on the path of every
    // container start.
    let args: Vec<std::ffi::OsString> = std::env::args_os().take(4).collect();
    if args.len() == 4 && args[1] == "container-init" {
        let fd = args[3].to_str().and_then(|s| s.parse().ok()).unwrap_or(-1);
        let code = keel_executor::container_init(std::path::Path::new(&args[2]), fd);
        return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    if matches!(
        cli.cmd,
        Cmd::Dev(_) | Cmd::Master(_) | Cmd::Agent(_) | Cmd::Executor { .. }
    ) {
        let dir = match &cli.cmd {
            Cmd::Dev(a) => Some(a.journal_dir()),
            Cmd::Master(a) => Some(a.journal_dir()),
            Cmd::Agent(a) => Some(a.journal_dir()),
            _ => None,
        };
        let journal = dir.map(|dir| roles::JournalOpts {
            dir,
            rotation: keel_agent::LogRotation {
                max_size_bytes: cli.component_log_max_size,
                max_files: cli.component_log_max_files,
            },
        });
        roles::init_logging(cli.log_format, journal.as_ref());
    }
    match cli.cmd {
        Cmd::Executor { config, listen_fd } => roles::executor(&config, listen_fd),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "keel", &mut std::io::stdout());
            std::process::ExitCode::SUCCESS
        }
        cmd => run_async(cmd, cli.global),
    }
}

fn run_async(cmd: Cmd, global: keel_cli::Global) -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("keel: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cmd {
            Cmd::Dev(a) => roles::dev(a).await,
            Cmd::Master(a) => roles::master(a).await,
            Cmd::Agent(a) => roles::agent(a).await,
            Cmd::Task(t) => keel_cli::task(&global, t).await,
            Cmd::Node(n) => keel_cli::node(&global, n).await,
            Cmd::Dns(d) => keel_cli::dns(&global, d).await,
            Cmd::Vip(v) => keel_cli::vip(&global, v).await,
            Cmd::Diag(c) => keel_cli::diag(&global, c).await,
            Cmd::History(a) => keel_cli::history(&global, a).await,
            Cmd::Image(c) => keel_cli::image(&global, c).await,
            Cmd::App(c) => keel_cli::app(&global, c).await,
            Cmd::Group(c) => keel_cli::group(&global, c).await,
            Cmd::Pod(c) => keel_cli::pod(&global, c).await,
            Cmd::Deployment(c) => keel_cli::deployment(&global, c).await,
            Cmd::Job(c) => keel_cli::job(&global, c).await,
            Cmd::Executor { .. } | Cmd::Completions { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
