//! `keel image load FILE`: sends an image archive (`docker save` output or an OCI layout
//! tar) to every active agent's `POST /images/load` through the master's `/agent/<id>/`
//! proxy, so tasks in Keel's own runtime can use it at once.

use crate::{Client, Global};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keel_api::mesos::Slaves;
use serde_json::Value;
use std::path::PathBuf;

/// `keel image ...`
#[derive(Debug, Subcommand)]
pub enum ImageCmd {
    /// Load an image archive (`docker save` output or an OCI layout, tar or tar.gz) into
    /// the agents' image cache, for tasks in Keel's own runtime.
    Load(LoadArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The archive.
    file: PathBuf,
    /// Load the image under this name (needed when the archive names none).
    #[arg(long)]
    tag: Option<String>,
    /// Only this agent (default: every active agent).
    #[arg(long)]
    agent: Option<String>,
}

/// Runs a `keel image` command.
pub async fn image(g: &Global, cmd: ImageCmd) -> anyhow::Result<()> {
    let c = Client::new(&g.url);
    match cmd {
        ImageCmd::Load(a) => load(&c, g, a).await,
    }
}

async fn load(c: &Client, g: &Global, a: LoadArgs) -> anyhow::Result<()> {
    let s: Slaves = c.get("/master/slaves").await?;
    let agents: Vec<(String, String)> = s
        .slaves
        .into_iter()
        .filter(|s| s.active && a.agent.as_ref().is_none_or(|id| *id == s.id))
        .map(|s| (s.id, s.hostname))
        .collect();
    if agents.is_empty() {
        match &a.agent {
            Some(id) => bail!("no active agent {id}"),
            None => bail!("no active agent to load the image into"),
        }
    }
    let mut path = String::from("/images/load");
    if let Some(tag) = &a.tag {
        path.push_str(&format!("?reference={}", crate::task::urlencode(tag)));
    }
    let mut loaded = Vec::new();
    for (id, host) in &agents {
        let file = tokio::fs::File::open(&a.file)
            .await
            .with_context(|| format!("cannot open {}", a.file.display()))?;
        let image: Value = c
            .post_body(&format!("/agent/{id}{path}"), file.into())
            .await
            .with_context(|| format!("loading {} into agent {id} ({host})", a.file.display()))?;
        if !g.json {
            println!(
                "Loaded {} ({}) on {host}",
                image["reference"].as_str().unwrap_or("?"),
                image["digest"].as_str().unwrap_or("?"),
            );
        }
        loaded.push(serde_json::json!({"agent_id": id, "image": image}));
    }
    if g.json {
        println!("{}", serde_json::to_string_pretty(&loaded)?);
    }
    Ok(())
}
