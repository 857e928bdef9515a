//! Readiness checks: during deployments, Marathon probes each new instance over HTTP(S)
//! until it answers one of `httpStatusCodesForReady`; only ready instances count as
//! replaced, so readiness gates rolling restarts and scale-ups.

use crate::Marathon;
use keel_model::TaskState;
use std::collections::BTreeMap;
use std::time::Duration;

/// Readiness verdicts by instance id, with the time of the last probe.
#[derive(Debug, Default)]
pub struct Readiness {
    ready: BTreeMap<String, bool>,
    last_probe: BTreeMap<String, f64>,
}

impl Readiness {
    /// Whether instance `id` passed its readiness check.
    pub fn is_ready(&self, id: &str) -> bool {
        self.ready.get(id).copied().unwrap_or(false)
    }
}

/// One probe to make: which instance, and the URL.
struct Probe {
    instance: String,
    url: String,
    timeout: Duration,
    ok_codes: Vec<i64>,
}

impl Marathon {
    /// Probes due readiness checks forever.
    pub(crate) async fn run_readiness(self) {
        // Marathon does not verify the certificates of HTTPS readiness checks.
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap_or_default();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            for p in self.due_probes() {
                let ok = match http.get(&p.url).timeout(p.timeout).send().await {
                    Ok(r) => p.ok_codes.contains(&i64::from(r.status().as_u16())),
                    Err(_) => false,
                };
                let mut r = self.readiness();
                let was = r.ready.insert(p.instance.clone(), ok);
                drop(r);
                if ok && was != Some(true) {
                    self.inner.wake.notify_one();
                }
            }
        }
    }

    /// Probes whose interval has passed, for running instances of apps with a readiness
    /// check that have not passed it yet.
    fn due_probes(&self) -> Vec<Probe> {
        if !self
            .lock()
            .apps
            .values()
            .any(|a| !a.readiness_checks.is_empty())
        {
            return Vec::new();
        }
        let now = self.now();
        let tasks = self.tasks();
        let st = self.lock();
        let mut r = self.readiness();
        let mut out = Vec::new();
        for app in st.apps.values() {
            let Some(check) = app.readiness_checks.first() else {
                continue;
            };
            let port_index = app
                .host_ports()
                .iter()
                .position(|(_, n)| n.as_deref() == Some(check.port_name.as_str()));
            for rec in st.instances_of(&app.id) {
                let running = tasks
                    .get(&rec.task_id)
                    .is_some_and(|t| t.state == TaskState::Running);
                if r.is_ready(&rec.id) || !running {
                    continue;
                }
                let interval = check.interval_seconds.max(1) as f64;
                if r.last_probe
                    .get(&rec.id)
                    .is_some_and(|t| now - t < interval)
                {
                    continue;
                }
                let Some(port) = port_index.and_then(|i| rec.ports.get(i)) else {
                    continue;
                };
                r.last_probe.insert(rec.id.clone(), now);
                let scheme = format!("{:?}", check.protocol).to_lowercase();
                let host = if rec.hostname.is_empty() {
                    "127.0.0.1"
                } else {
                    rec.hostname.as_str()
                };
                out.push(Probe {
                    instance: rec.id.clone(),
                    url: format!("{scheme}://{host}:{port}{}", check.path),
                    timeout: Duration::from_secs(check.timeout_seconds.max(1) as u64),
                    ok_codes: check.http_status_codes_for_ready.clone(),
                });
            }
        }
        let live: std::collections::BTreeSet<&String> = st.instances.keys().collect();
        r.ready.retain(|k, _| live.contains(k));
        r.last_probe.retain(|k, _| live.contains(k));
        out
    }

    pub(crate) fn readiness(&self) -> std::sync::MutexGuard<'_, Readiness> {
        self.inner
            .readiness
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
