//! One node's health: its unit checks, run together with a timeout each, and the node's
//! `GET /system/health/v1` answer.

use keel_api::diagnostics::{NodeReport, NodeUnit};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// How long one unit's check may take before it counts as unhealthy.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// A check: `Ok(output)` healthy, `Err(output)` unhealthy.
pub type CheckFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// A unit (a Keel role or dependency, named as DC/OS named its systemd unit) and its check.
#[derive(Clone)]
pub struct UnitCheck {
    pub id: String,
    pub name: String,
    pub description: String,
    pub help: String,
    pub check: CheckFn,
}

impl UnitCheck {
    /// A unit `id` (`dcos-mesos-master.service`) called `name`, checked by `check`.
    pub fn new<F, Fut>(id: &str, name: &str, description: &str, check: F) -> UnitCheck
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        UnitCheck {
            id: id.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            help: format!("Keel serves {name} in-process; its log is the component log of {id}"),
            check: Arc::new(move || Box::pin(check())),
        }
    }

    async fn run(&self) -> NodeUnit {
        let (health, output) = match tokio::time::timeout(CHECK_TIMEOUT, (self.check)()).await {
            Ok(Ok(out)) => (0, out),
            Ok(Err(out)) => (1, out),
            Err(_) => (1, format!("no answer within {}s", CHECK_TIMEOUT.as_secs())),
        };
        NodeUnit {
            id: self.id.clone(),
            name: self.name.clone(),
            health,
            output,
            description: self.description.clone(),
            help: self.help.clone(),
        }
    }
}

/// A node: its role, address and units.
#[derive(Clone)]
pub struct NodeHealth {
    pub role: String,
    pub ip: String,
    pub hostname: String,
    mesos_id: Arc<dyn Fn() -> Option<String> + Send + Sync>,
    checks: Vec<UnitCheck>,
}

impl NodeHealth {
    /// A node of `role` (`master`, `agent`) at `ip`; `mesos_id` tells its agent id once known.
    pub fn new(
        role: &str,
        ip: &str,
        hostname: &str,
        mesos_id: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> NodeHealth {
        NodeHealth {
            role: role.to_owned(),
            ip: ip.to_owned(),
            hostname: hostname.to_owned(),
            mesos_id: Arc::new(mesos_id),
            checks: Vec::new(),
        }
    }

    /// Adds a unit.
    #[must_use]
    pub fn with(mut self, unit: UnitCheck) -> NodeHealth {
        self.checks.push(unit);
        self
    }

    /// Runs every check (together) and reports the node.
    pub async fn report(&self) -> NodeReport {
        let units = futures_util::future::join_all(self.checks.iter().map(UnitCheck::run)).await;
        NodeReport {
            units,
            hostname: self.hostname.clone(),
            ip: self.ip.clone(),
            dcos_version: crate::http::DCOS_VERSION.to_owned(),
            node_role: self.role.clone(),
            mesos_id: (self.mesos_id)().unwrap_or_default(),
            dcos_diagnostics_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// `GET /system/health/v1` for this node alone (what an agent serves).
    pub fn router(&self) -> axum::Router {
        let me = self.clone();
        axum::Router::new().route(
            "/system/health/v1",
            axum::routing::get(move || {
                let me = me.clone();
                async move { axum::Json(me.report().await) }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failing_and_hanging_checks_are_unhealthy_with_their_output() {
        let n = NodeHealth::new("agent", "10.0.0.2", "h", || Some("S1".into()))
            .with(UnitCheck::new("a.service", "A", "", || async {
                Ok("fine".into())
            }))
            .with(UnitCheck::new("b.service", "B", "", || async {
                Err("broken".into())
            }))
            .with(UnitCheck::new("c.service", "C", "", || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(String::new())
            }));
        let r = n.report().await;
        let got: Vec<(&str, u8, &str)> = r
            .units
            .iter()
            .map(|u| (u.id.as_str(), u.health, u.output.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a.service", 0, "fine"),
                ("b.service", 1, "broken"),
                ("c.service", 1, "no answer within 5s")
            ]
        );
        assert_eq!((r.mesos_id.as_str(), r.node_role.as_str()), ("S1", "agent"));
    }
}
