//! The `keel` command-line client: tasks, nodes, images, VIPs, DNS lookups, the cluster's
//! history, and Marathon apps, groups, pods and deployments,
//! talking to a cluster at `--url` / `KEEL_URL`. Tables by default, `--json` everywhere.

#![forbid(unsafe_code)]

mod app;
mod client;
mod diag;
mod dns;
mod history;
mod image;
mod job;
mod logs;
mod metrics;
mod node;
mod pick;
mod task;
mod vip;

pub use app::{AppCmd, DeploymentCmd, GroupCmd, PodCmd, app, deployment, group, pod};
pub use client::Client;
pub use diag::{BundleCmd, DiagCmd, diag};
pub use history::{HistoryArgs, history};
pub use image::{ImageCmd, image};
pub use job::{JobCmd, ScheduleCmd, job};

use clap::{Args, Subcommand};

/// Options shared by every client command.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Cluster URL (the master's entry).
    #[arg(
        long,
        global = true,
        env = "KEEL_URL",
        default_value = "http://127.0.0.1:5050"
    )]
    pub url: String,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `keel task ...`
#[derive(Debug, Subcommand)]
pub enum TaskCmd {
    /// Launch a command as a task.
    Run(task::RunArgs),
    /// List tasks.
    List(task::ListArgs),
    /// Print a task's stdout (or stderr).
    Log(task::LogArgs),
    /// Kill a task.
    Kill(task::KillArgs),
    /// Live cpu and memory of the running tasks, refreshed every interval.
    Top(TopArgs),
}

/// `keel task top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Seconds between refreshes.
    #[arg(long, default_value_t = 2.0)]
    interval: f64,
    /// Tables to print before exiting (0: until interrupted); `--json` prints one.
    #[arg(long, default_value_t = 0)]
    iterations: u32,
}

/// `keel node ...`
#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// List agents.
    List,
    /// dcos-metrics node metrics: a summary per agent, or every datapoint of one agent.
    Metrics {
        /// An agent id (all agents when absent).
        agent: Option<String>,
    },
    /// Print a node's component log (the leading master's by default).
    Log(node::LogArgs),
}

/// `keel dns ...`
#[derive(Debug, Subcommand)]
pub enum DnsCmd {
    /// Query the cluster's DNS server (its address read from the master) for one name.
    Lookup(dns::LookupArgs),
}

/// Runs a `keel dns` command.
pub async fn dns(g: &Global, cmd: DnsCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        DnsCmd::Lookup(a) => dns::run_lookup(&c, g, a).await,
    }
}

/// `keel vip ...`
#[derive(Debug, Subcommand)]
pub enum VipCmd {
    /// List VIPs with their backends, their health, and unusable VIP labels.
    List,
}

/// Runs a `keel vip` command.
pub async fn vip(g: &Global, cmd: VipCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        VipCmd::List => vip::list(&c, g).await,
    }
}

/// Runs a `keel task` command.
pub async fn task(g: &Global, cmd: TaskCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        TaskCmd::Run(a) => task::run(&c, g, a).await,
        TaskCmd::List(a) => task::list(&c, g, a).await,
        TaskCmd::Log(a) => task::log(&c, g, a).await,
        TaskCmd::Kill(a) => task::kill(&c, g, a).await,
        TaskCmd::Top(a) => {
            anyhow::ensure!(
                a.interval.is_finite() && a.interval >= 0.1 && a.interval <= 3600.0,
                "--interval {} must be between 0.1 and 3600 seconds",
                a.interval
            );
            metrics::top(
                &c,
                g,
                std::time::Duration::from_secs_f64(a.interval),
                a.iterations,
            )
            .await
        }
    }
}

/// Runs a `keel node` command.
pub async fn node(g: &Global, cmd: NodeCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        NodeCmd::List => node::list(&c, g).await,
        NodeCmd::Log(a) => node::log(&c, g, a).await,
        NodeCmd::Metrics { agent } => metrics::node(&c, g, agent).await,
    }
}
