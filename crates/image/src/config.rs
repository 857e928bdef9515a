//! The parts of an image's config blob (Docker and OCI share the shape) that a container
//! runtime needs: process defaults and the uncompressed layer digests (`rootfs.diff_ids`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Process defaults from the image config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `K=V` strings, in the image's order.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// Mount points the image declares, sorted.
    pub volumes: Vec<String>,
}

/// A parsed config blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedConfig {
    pub config: ImageConfig,
    /// `sha256:<hex>` of each uncompressed layer, bottom to top.
    pub diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    config: Option<ContainerConfig>,
    rootfs: Option<RootFs>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ContainerConfig {
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Parses a config blob; the error says what is wrong with it.
pub fn parse(blob: &[u8]) -> Result<ParsedConfig, String> {
    let file: ConfigFile =
        serde_json::from_slice(blob).map_err(|e| format!("invalid image config: {e}"))?;
    let c = file.config.unwrap_or_default();
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    let config = ImageConfig {
        entrypoint: c.entrypoint.unwrap_or_default(),
        cmd: c.cmd.unwrap_or_default(),
        env: c.env.unwrap_or_default(),
        working_dir: non_empty(c.working_dir),
        user: non_empty(c.user),
        volumes: c.volumes.unwrap_or_default().into_keys().collect(),
    };
    let diff_ids = file.rootfs.ok_or("image config has no rootfs")?.diff_ids;
    if let Some(bad) = diff_ids
        .iter()
        .find(|d| crate::digest::sha256_hex(d).is_none())
    {
        return Err(format!(
            "image config has an unsupported layer digest {bad:?}"
        ));
    }
    Ok(ParsedConfig { config, diff_ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_with_nulls_and_empty_strings() -> Result<(), String> {
        let hex = "a".repeat(64);
        let blob = format!(
            r#"{{"architecture":"amd64","os":"linux",
               "config":{{"Env":["PATH=/bin"],"Entrypoint":null,"Cmd":["sh"],"WorkingDir":"",
                          "User":"nobody","Volumes":{{"/data":{{}},"/cache":{{}}}}}},
               "rootfs":{{"type":"layers","diff_ids":["sha256:{hex}"]}}}}"#
        );
        let parsed = parse(blob.as_bytes())?;
        assert_eq!(
            parsed.config,
            ImageConfig {
                entrypoint: vec![],
                cmd: vec!["sh".into()],
                env: vec!["PATH=/bin".into()],
                working_dir: None,
                user: Some("nobody".into()),
                volumes: vec!["/cache".into(), "/data".into()],
            }
        );
        assert_eq!(parsed.diff_ids, vec![format!("sha256:{hex}")]);
        Ok(())
    }

    #[test]
    fn config_without_rootfs_or_with_odd_digests_is_rejected() {
        assert_eq!(
            parse(br#"{"config":{}}"#),
            Err("image config has no rootfs".to_string())
        );
        assert_eq!(
            parse(br#"{"rootfs":{"diff_ids":["sha256:../x"]}}"#),
            Err(r#"image config has an unsupported layer digest "sha256:../x""#.to_string())
        );
    }
}
