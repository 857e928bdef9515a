//! `keel diag`: unit health across the cluster (dcos-diagnostics' `/system/health/v1`) and
//! diagnostics bundles: create (and wait), list, download, delete.

use crate::{Client, Global};
use clap::Subcommand;
use comfy_table::{Table, presets::NOTHING};
use keel_api::diagnostics::{BundleList, BundleResponse, BundleStatus, CreateBundle, Nodes, Units};
use std::path::PathBuf;
use std::time::Duration;

const BASE: &str = "/system/health/v1";

/// `keel diag ...`
#[derive(Debug, Subcommand)]
pub enum DiagCmd {
    /// Every unit's health (worst over the nodes running it), or one node's units.
    Health {
        /// A node: its IP, agent id or hostname.
        #[arg(long)]
        node: Option<String>,
    },
    /// Every node with its health.
    Nodes,
    /// Diagnostics bundles.
    #[command(subcommand)]
    Bundle(BundleCmd),
}

/// `keel diag bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCmd {
    /// Start a bundle of the given nodes (`all`, `masters`, `agents`, IPs, agent ids).
    Create {
        #[arg(default_value = "all")]
        nodes: Vec<String>,
        /// Wait until the bundle is complete.
        #[arg(long)]
        wait: bool,
    },
    /// The job's status.
    Status,
    /// List finished bundles.
    List,
    /// Download a bundle.
    Download {
        bundle: String,
        /// Where to write it (default: the bundle's name in this directory).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Delete a bundle.
    Delete { bundle: String },
    /// Cancel the running job.
    Cancel,
}

/// Runs a `keel diag` command.
pub async fn diag(g: &Global, cmd: DiagCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        DiagCmd::Health { node } => health(&c, g, node).await,
        DiagCmd::Nodes => nodes(&c, g).await,
        DiagCmd::Bundle(b) => bundle(&c, g, b).await,
    }
}

fn health_word(h: u8) -> &'static str {
    if h == 0 { "healthy" } else { "unhealthy" }
}

async fn health(c: &Client, g: &Global, node: Option<String>) -> anyhow::Result<()> {
    let path = match &node {
        Some(n) => format!("{BASE}/nodes/{}/units", urlencoding::encode(n)),
        None => format!("{BASE}/units"),
    };
    let u: Units = c.get(&path).await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&u)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_style(NOTHING).set_header(["UNIT", "NAME", "HEALTH"]);
    for x in &u.units {
        t.add_row([x.id.as_str(), x.name.as_str(), health_word(x.health)]);
    }
    println!("{t}");
    Ok(())
}

async fn nodes(c: &Client, g: &Global) -> anyhow::Result<()> {
    let n: Nodes = c.get(&format!("{BASE}/nodes")).await?;
    if g.json {
        println!("{}", serde_json::to_string_pretty(&n)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_style(NOTHING)
        .set_header(["IP", "ROLE", "AGENT", "HEALTH"]);
    for x in &n.nodes {
        t.add_row([
            x.host_ip.as_str(),
            x.role.as_str(),
            x.mesos_id.as_str(),
            health_word(x.health),
        ]);
    }
    println!("{t}");
    Ok(())
}

async fn bundle(c: &Client, g: &Global, cmd: BundleCmd) -> anyhow::Result<()> {
    let d = format!("{BASE}/report/diagnostics");
    match cmd {
        BundleCmd::Create { nodes, wait } => {
            let r: BundleResponse = c
                .post(&format!("{d}/create"), &CreateBundle { nodes })
                .await?;
            let name = r.extra.map(|e| e.bundle_name).unwrap_or_default();
            if !wait {
                println!("{name}");
                return Ok(());
            }
            let deadline = keel_clock::monotonic() + Duration::from_secs(15 * 60);
            loop {
                let s: BundleStatus = c.get(&format!("{d}/status")).await?;
                if !s.is_running {
                    anyhow::ensure!(s.status.contains(&name), "{}", s.status);
                    println!("{name}");
                    return Ok(());
                }
                anyhow::ensure!(
                    keel_clock::monotonic() < deadline,
                    "the bundle job is still running"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        BundleCmd::Status => {
            let s: BundleStatus = c.get(&format!("{d}/status")).await?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!("{} ({:.0}%)", s.status, s.job_progress_percentage);
                for e in s.errors.unwrap_or_default() {
                    println!("  {e}");
                }
            }
            Ok(())
        }
        BundleCmd::List => {
            let l: BundleList = c.get(&format!("{d}/list/all")).await?;
            if g.json {
                println!("{}", serde_json::to_string_pretty(&l)?);
                return Ok(());
            }
            let mut t = Table::new();
            t.load_style(NOTHING)
                .set_header(["BUNDLE", "SIZE", "MASTER"]);
            for (master, files) in &l {
                for f in files {
                    let name = f.file_name.rsplit('/').next().unwrap_or(&f.file_name);
                    t.add_row([name.to_owned(), f.file_size.to_string(), master.clone()]);
                }
            }
            println!("{t}");
            Ok(())
        }
        BundleCmd::Download { bundle, output } => {
            let mut resp = c
                .get_raw(&format!("{d}/serve/{}", urlencoding::encode(&bundle)))
                .await?;
            let out = output.unwrap_or_else(|| PathBuf::from(&bundle));
            let mut f = tokio::fs::File::create(&out).await?;
            let mut n = 0u64;
            while let Some(chunk) = resp.chunk().await? {
                n += chunk.len() as u64;
                tokio::io::AsyncWriteExt::write_all(&mut f, &chunk).await?;
            }
            tokio::io::AsyncWriteExt::flush(&mut f).await?;
            eprintln!("{n} bytes written to {}", out.display());
            Ok(())
        }
        BundleCmd::Delete { bundle } => {
            let r: BundleResponse = c
                .post(
                    &format!("{d}/delete/{}", urlencoding::encode(&bundle)),
                    &serde_json::json!({}),
                )
                .await?;
            println!("{}", r.status);
            Ok(())
        }
        BundleCmd::Cancel => {
            let r = c
                .call(reqwest::Method::POST, &format!("{d}/cancel"), None)
                .await?;
            println!("{}", r["status"].as_str().unwrap_or_default());
            Ok(())
        }
    }
}
