//! Conversions from the wire types of Marathon and Metronome to keel-model's task types,
//! written once for both schedulers: fetch URIs, placement constraints, Docker parameters,
//! host volumes and the literal part of an environment.

use crate::marathon::container::{
    AppVolume, DockerContainer, DockerParameter, VolumeMode as WireMode,
};
use crate::marathon::spec::{Artifact, Constraint, EnvValue};
use crate::metronome;
use keel_model::{ConstraintOp, DockerNetwork, DockerSpec, FetchUri, Volume, VolumeMode};
use std::collections::BTreeMap;
use std::fmt;

/// Why a wire value has no model form: Keel does not run it (a constraint operator it does
/// not place by, a volume that is not a host path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl From<&Artifact> for FetchUri {
    fn from(a: &Artifact) -> FetchUri {
        FetchUri {
            uri: a.uri.clone(),
            extract: a.extract,
            executable: a.executable,
            cache: a.cache,
            dest_path: a.dest_path.clone(),
        }
    }
}

impl From<&metronome::Artifact> for FetchUri {
    fn from(a: &metronome::Artifact) -> FetchUri {
        FetchUri {
            uri: a.uri.clone(),
            extract: a.extract,
            executable: a.executable,
            cache: a.cache,
            dest_path: None,
        }
    }
}

/// Marathon's operators, in any case.
impl TryFrom<&Constraint> for keel_model::Constraint {
    type Error = Unsupported;

    fn try_from(c: &Constraint) -> Result<keel_model::Constraint, Unsupported> {
        let op = match c.operator().to_ascii_uppercase().as_str() {
            "UNIQUE" => ConstraintOp::Unique,
            "CLUSTER" => ConstraintOp::Cluster,
            "GROUP_BY" => ConstraintOp::GroupBy,
            "LIKE" => ConstraintOp::Like,
            "UNLIKE" => ConstraintOp::Unlike,
            "MAX_PER" => ConstraintOp::MaxPer,
            "IS" => ConstraintOp::Is,
            _ => return Err(Unsupported(format!("operator {}", c.operator()))),
        };
        Ok(keel_model::Constraint {
            field: c.field().to_owned(),
            op,
            value: c.value().map(str::to_owned),
        })
    }
}

/// Metronome's operators: `IS` (or `EQ`), `LIKE`, `UNLIKE`, upper case.
impl TryFrom<&metronome::ConstraintSpec> for keel_model::Constraint {
    type Error = Unsupported;

    fn try_from(c: &metronome::ConstraintSpec) -> Result<keel_model::Constraint, Unsupported> {
        let op = match c.operator.as_str() {
            "IS" | "EQ" => ConstraintOp::Is,
            "LIKE" => ConstraintOp::Like,
            "UNLIKE" => ConstraintOp::Unlike,
            other => return Err(Unsupported(format!("operator {other}"))),
        };
        Ok(keel_model::Constraint {
            field: c.attribute.clone(),
            op,
            value: c.value.clone(),
        })
    }
}

/// A Docker `--key=value` parameter as the model's pair.
impl From<&DockerParameter> for (String, String) {
    fn from(p: &DockerParameter) -> (String, String) {
        (p.key.clone(), p.value.clone())
    }
}

impl From<&metronome::Parameter> for (String, String) {
    fn from(p: &metronome::Parameter) -> (String, String) {
        (p.key.clone(), p.value.clone())
    }
}

/// A Docker spec on the host network without port mappings.
fn host_docker(
    image: String,
    parameters: Vec<(String, String)>,
    privileged: bool,
    force_pull: bool,
) -> DockerSpec {
    DockerSpec {
        image,
        network: DockerNetwork::Host,
        port_mappings: Vec::new(),
        parameters,
        privileged,
        force_pull,
    }
}

/// A Marathon app's Docker image and options, on the host network without port mappings
/// (Marathon sets both from the app's networks and mappings).
impl From<&DockerContainer> for DockerSpec {
    fn from(d: &DockerContainer) -> DockerSpec {
        host_docker(
            d.image.clone(),
            d.parameters.iter().map(<(String, String)>::from).collect(),
            d.privileged,
            d.force_pull_image,
        )
    }
}

/// A job's `run.docker`: host networking, as Metronome runs jobs.
impl From<&metronome::Docker> for DockerSpec {
    fn from(d: &metronome::Docker) -> DockerSpec {
        host_docker(
            d.image.clone(),
            d.parameters.iter().map(<(String, String)>::from).collect(),
            d.privileged,
            d.force_pull_image,
        )
    }
}

/// A job's `run.ucr` image, run by Keel's own runtime on the host network.
impl From<&metronome::Ucr> for DockerSpec {
    fn from(u: &metronome::Ucr) -> DockerSpec {
        host_docker(
            u.image.id.clone(),
            Vec::new(),
            u.privileged,
            u.image.force_pull,
        )
    }
}

/// A Marathon host volume (`RO` unless `RW`); persistent, external and secret volumes are
/// not mounted this way.
impl TryFrom<&AppVolume> for Volume {
    type Error = Unsupported;

    fn try_from(v: &AppVolume) -> Result<Volume, Unsupported> {
        let host_path = v
            .host_path
            .clone()
            .ok_or_else(|| Unsupported(format!("volume {} has no hostPath", v.container_path)))?;
        Ok(host_volume(
            &v.container_path,
            host_path,
            v.mode == Some(WireMode::ReadWrite),
        ))
    }
}

/// A Metronome host volume (`RO` unless `RW`); secret volumes are not mounted this way.
impl TryFrom<&metronome::Volume> for Volume {
    type Error = Unsupported;

    fn try_from(v: &metronome::Volume) -> Result<Volume, Unsupported> {
        match v {
            metronome::Volume::Host {
                container_path,
                host_path,
                mode,
            } => Ok(host_volume(container_path, host_path.clone(), mode == "RW")),
            metronome::Volume::Secret { container_path, .. } => {
                Err(Unsupported(format!("volume {container_path} is a secret")))
            }
        }
    }
}

fn host_volume(container_path: &str, host_path: String, rw: bool) -> Volume {
    Volume {
        container_path: container_path.to_owned(),
        host_path,
        mode: if rw {
            VolumeMode::ReadWrite
        } else {
            VolumeMode::ReadOnly
        },
        image: None,
        group: None,
    }
}

/// The literal values of an environment (Marathon's or Metronome's); secret references
/// are left out, their values are injected elsewhere.
pub fn literal_env(env: &BTreeMap<String, EnvValue>) -> BTreeMap<String, String> {
    env.iter()
        .filter_map(|(k, v)| match v {
            EnvValue::Value(s) => Some((k.clone(), s.clone())),
            EnvValue::Secret { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marathon(op: &str) -> Option<keel_model::Constraint> {
        keel_model::Constraint::try_from(&Constraint::new("rack", op, Some("r1"))).ok()
    }

    fn metronome(op: &str) -> Option<keel_model::Constraint> {
        let c = metronome::ConstraintSpec {
            attribute: "rack".into(),
            operator: op.into(),
            value: Some("r1".into()),
        };
        keel_model::Constraint::try_from(&c).ok()
    }

    #[test]
    fn each_scheduler_keeps_its_own_operators() {
        assert_eq!(marathon("like").map(|c| c.op), Some(ConstraintOp::Like));
        assert_eq!(
            marathon("MAX_PER").map(|c| c.op),
            Some(ConstraintOp::MaxPer)
        );
        assert_eq!(marathon("EQ"), None);
        assert_eq!(metronome("EQ").map(|c| c.op), Some(ConstraintOp::Is));
        assert_eq!(metronome("is"), None);
        assert_eq!(metronome("UNIQUE"), None);
        let c = metronome("UNLIKE").unwrap_or_else(|| panic!("UNLIKE"));
        assert_eq!((c.field.as_str(), c.value.as_deref()), ("rack", Some("r1")));
    }

    #[test]
    fn host_volumes_are_read_only_unless_rw_and_others_are_not_mounted() {
        let v = metronome::Volume::Host {
            container_path: "/data".into(),
            host_path: "/srv".into(),
            mode: "RW".into(),
        };
        assert_eq!(
            Volume::try_from(&v).map(|v| v.mode),
            Ok(VolumeMode::ReadWrite)
        );
        let s = metronome::Volume::Secret {
            container_path: "/s".into(),
            secret: "x".into(),
        };
        assert!(Volume::try_from(&s).is_err());
        let app: AppVolume = serde_json::from_str(r#"{"containerPath": "/d", "hostPath": "/h"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Volume::try_from(&app).map(|v| v.mode),
            Ok(VolumeMode::ReadOnly)
        );
        let persistent: AppVolume =
            serde_json::from_str(r#"{"containerPath": "/d", "persistent": {"size": 1}}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(Volume::try_from(&persistent).is_err());
    }

    #[test]
    fn artifacts_and_environments() {
        let a = metronome::Artifact {
            uri: "http://x/a.tgz".into(),
            extract: true,
            executable: false,
            cache: true,
        };
        let f = FetchUri::from(&a);
        assert_eq!(
            (f.uri.as_str(), f.extract, f.cache, f.dest_path),
            ("http://x/a.tgz", true, true, None)
        );
        let env: BTreeMap<String, EnvValue> = [
            ("A".to_string(), EnvValue::Value("1".into())),
            ("S".to_string(), EnvValue::Secret { secret: "s".into() }),
        ]
        .into();
        assert_eq!(
            literal_env(&env),
            [("A".to_string(), "1".to_string())].into()
        );
    }
}
