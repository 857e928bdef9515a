//! `Sources`: where images come from (a Mesos `--docker_registry` style directory of
//! archives, then registries) and how to reach the registries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::reference::{DEFAULT_REGISTRY, Reference};

/// Where and how to fetch images.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Mesos `--docker_registry` as a local directory of archives. Like Mesos's local
    /// puller, only the last repository component is used: `127.0.0.1:5000/team/app:v1`
    /// is looked up as `app:v1.tar` (an archive, see `ImageStore::load_archive`) or, failing
    /// that, an unpacked directory `app:v1`; a digest reference as `app@sha256:<hex>.tar`.
    pub local_dir: Option<PathBuf>,
    /// Registries (`host[:port]`) reached over plain HTTP; every other one over HTTPS,
    /// except that a registry on loopback falls back to plain HTTP (see
    /// [`Sources::protocols`]).
    pub insecure_registries: Vec<String>,
    /// Extra PEM CA certificates trusted for HTTPS registries.
    pub ca_certs: Vec<PathBuf>,
    /// `(username, password)` per registry `host[:port]`; sent as basic auth or exchanged
    /// for a bearer token, as the registry asks.
    pub credentials: BTreeMap<String, (String, String)>,
    /// Overall time limit of one pull (manifest, config and every layer).
    pub timeout: Duration,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            local_dir: None,
            insecure_registries: Vec::new(),
            ca_certs: Vec::new(),
            credentials: BTreeMap::new(),
            timeout: Duration::from_secs(300),
        }
    }
}

/// Names Docker Hub goes by in credential stores.
const DOCKER_HUB_ALIASES: &[&str] = &[
    DEFAULT_REGISTRY,
    "index.docker.io",
    "registry-1.docker.io",
    "https://index.docker.io/v1/",
];

/// How a registry is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Https,
    Http,
}

/// Whether `registry` (`host[:port]`) is on this machine: `localhost`, 127.0.0.0/8 or
/// `[::1]`, the addresses Docker treats as insecure registries without being told.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Sources {
    /// The protocols to try for `registry`, in order: plain HTTP for a listed insecure
    /// registry; HTTPS then plain HTTP for one on loopback (as Docker does, which treats
    /// 127.0.0.0/8 as insecure; certificates are still verified when it speaks TLS);
    /// HTTPS for every other.
    pub fn protocols(&self, registry: &str) -> &'static [Protocol] {
        if self.insecure_registries.iter().any(|r| r == registry) {
            &[Protocol::Http]
        } else if is_loopback(registry) {
            &[Protocol::Https, Protocol::Http]
        } else {
            &[Protocol::Https]
        }
    }

    /// The archive (or unpacked archive directory) for `r` in `local_dir`, if there is one.
    pub fn local_archive(&self, r: &Reference) -> Option<PathBuf> {
        let dir = self.local_dir.as_ref()?;
        let mut names = Vec::new();
        if let Some(tag) = r.tag() {
            names.push(format!("{}:{tag}", r.short_name()));
        }
        if let Some(digest) = r.digest() {
            names.push(format!("{}@{digest}", r.short_name()));
        }
        for name in names {
            let tar = dir.join(format!("{name}.tar"));
            if tar.is_file() {
                return Some(tar);
            }
            let unpacked = dir.join(&name);
            if unpacked.is_dir() {
                return Some(unpacked);
            }
        }
        None
    }

    /// The credentials for `registry`, if any (Docker Hub under any of its names).
    pub fn credentials_for(&self, registry: &str) -> Option<&(String, String)> {
        if let Some(c) = self.credentials.get(registry) {
            return Some(c);
        }
        if DOCKER_HUB_ALIASES.contains(&registry) {
            return DOCKER_HUB_ALIASES
                .iter()
                .find_map(|alias| self.credentials.get(*alias));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_archives_are_found_by_last_component_and_tag() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("app:v1.tar"), b"")?;
        std::fs::create_dir(dir.path().join("busybox:latest"))?;
        let sources = Sources {
            local_dir: Some(dir.path().to_path_buf()),
            ..Sources::default()
        };
        let find = |s: &str| {
            let r: Reference = s.parse().ok()?;
            let found = sources.local_archive(&r)?;
            Some(found.file_name()?.to_string_lossy().into_owned())
        };
        assert_eq!(
            find("127.0.0.1:5000/team/app:v1").as_deref(),
            Some("app:v1.tar")
        );
        assert_eq!(find("busybox").as_deref(), Some("busybox:latest"));
        assert_eq!(find("app:v2"), None);
        Ok(())
    }

    #[test]
    fn loopback_registries_fall_back_to_http_and_listed_ones_use_it() {
        use Protocol::{Http, Https};
        let sources = Sources {
            insecure_registries: vec!["10.0.0.5:5000".into()],
            ..Sources::default()
        };
        let check = |registry: &str| sources.protocols(registry).to_vec();
        assert_eq!(check("10.0.0.5:5000"), [Http]);
        assert_eq!(check("127.0.0.1:5000"), [Https, Http]);
        assert_eq!(check("127.8.9.1"), [Https, Http]);
        assert_eq!(check("localhost:5000"), [Https, Http]);
        assert_eq!(check("[::1]:5000"), [Https, Http]);
        assert_eq!(check("10.0.0.5:5001"), [Https]);
        assert_eq!(check("docker.io"), [Https]);
        assert_eq!(check("128.0.0.1:5000"), [Https]);
        assert_eq!(check("localhost.example.com"), [Https]);
    }

    #[test]
    fn docker_hub_credentials_under_any_alias() {
        let mut sources = Sources::default();
        sources
            .credentials
            .insert("index.docker.io".into(), ("u".into(), "p".into()));
        assert!(sources.credentials_for("docker.io").is_some());
        assert!(sources.credentials_for("127.0.0.1:5000").is_none());
    }
}
