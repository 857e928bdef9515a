//! `/ping`, `/metrics`, `/v2/info`, `/v2/leader`, `/v2/events` and `/v2/queue`, plus
//! Marathon's label selector for `GET /v2/apps?label=`.

use super::{Params, json_response, params, path_id};
use crate::Marathon;
use crate::error::HttpError;
use crate::events;
use crate::views::{Queued, queue_json};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keel_api::marathon::ApiErrorBody;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// `GET /ping`: `pong`, as JSON when the client accepts only JSON.
pub(crate) async fn ping(headers: HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/json")
        && !accept.contains("text/plain")
        && !accept.contains("*/*")
    {
        return json_response(StatusCode::OK, &json!("pong"));
    }
    ([(header::CONTENT_TYPE, "text/plain")], "pong").into_response()
}

/// `GET /metrics` (Dropwizard-style shape).
pub(crate) async fn metrics(State(m): State<Marathon>) -> Response {
    let st = m.lock();
    let gauges = json!({
        "marathon.apps.active.gauge": {"value": st.apps.len()},
        "marathon.instances.running.gauge": {"value": st.instances.len()},
        "marathon.deployments.active.gauge": {"value": st.deployments.len()},
    });
    json_response(
        StatusCode::OK,
        &json!({"version": "4.0.0", "counters": {}, "gauges": gauges, "histograms": {}, "meters": {}, "timers": {}}),
    )
}

/// `GET /v2/info`, with only the keys marathon-python 0.13.0 accepts.
pub(crate) async fn info(State(m): State<Marathon>) -> Response {
    let addr = m.inner.cluster.advertise();
    let framework = m.inner.cluster.framework_id(crate::launch::FRAMEWORK);
    json_response(
        StatusCode::OK,
        &json!({
            "name": "marathon",
            "version": "1.11.0",
            "buildref": format!("keel-{}", env!("CARGO_PKG_VERSION")),
            "elected": true,
            "leader": addr.to_string(),
            "frameworkId": framework,
            "marathon_config": {
                "checkpoint": true,
                "executor": "//cmd",
                "failover_timeout": 604800,
                "framework_name": "marathon",
                "ha": false,
                "hostname": addr.ip().to_string(),
                "local_port_min": crate::service_ports::LOCAL_PORT_MIN,
                "local_port_max": crate::service_ports::LOCAL_PORT_MAX,
                "master": format!("http://{addr}"),
                "mesos_role": "*",
                "mesos_user": "root",
                "webui_url": null,
                "reconciliation_initial_delay": 15000,
                "reconciliation_interval": 600000,
                "task_launch_timeout": 300000,
                "features": [],
            },
            "zookeeper_config": {"zk": "keel://store", "zk_timeout": 10000, "zk_session_timeout": 10000, "zk_max_versions": crate::state::MAX_VERSIONS},
            "http_config": {"http_port": addr.port(), "https_port": 8443},
        }),
    )
}

/// `GET /v2/leader`.
pub(crate) async fn leader(State(m): State<Marathon>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"leader": m.inner.cluster.advertise().to_string()}),
    )
}

/// `DELETE /v2/leader`: Marathon's leader steps down and an election follows. A single
/// master is the only candidate, so it is elected again at once and recovers its state
/// from the store, as a new leader would.
pub(crate) async fn abdicate(State(m): State<Marathon>) -> Result<Response, HttpError> {
    m.reelect()?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"message": "Leadership abdicated"}),
    ))
}

/// `GET /v2/events`.
pub(crate) async fn events(
    State(m): State<Marathon>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let filter: BTreeSet<String> = params(&q, "event_type")
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let attached = events::attached("127.0.0.1", m.now());
    events::serve(&m.inner.bus, &headers, filter, attached)
}

/// `GET /v2/queue`: apps (and, with `embed=pods`, pods) with instances waiting to launch
/// (in id order), with their backoff and why they are not placed; a run spec waiting out
/// its backoff is listed with one instance to go.
///
/// Pod items are left out unless asked for: marathon-python 0.13.0's `list_queue` fails on
/// any item without `app` (it would fail against Marathon too), and that client must keep
/// working. Keel's CLI asks for them.
pub(crate) async fn queue(State(m): State<Marathon>, Query(q): Query<Params>) -> Response {
    let pods = params(&q, "embed")
        .flat_map(|v| v.split(','))
        .any(|v| v.trim() == "pods");
    let now = m.now();
    let st = m.lock();
    let shown = |spec: &Queued<'_>| pods || matches!(spec, Queued::App(_));
    let waiting = st.queue.iter().filter_map(|(id, q)| {
        let spec = Queued::find(&st, id).filter(shown)?;
        Some(queue_json(
            spec,
            Some(q),
            st.backoff.get(id),
            q.waiting,
            now,
        ))
    });
    let delayed = st
        .backoff
        .iter()
        .filter(|(id, b)| b.time_left(now) > 0.0 && !st.queue.contains_key(*id))
        .filter_map(|(id, b)| {
            let spec = Queued::find(&st, id).filter(shown)?;
            Some(queue_json(spec, None, Some(b), 1, now))
        });
    let items: Vec<Value> = waiting.chain(delayed).collect();
    json_response(StatusCode::OK, &json!({"queue": items}))
}

/// `DELETE /v2/queue/<app or pod>/delay`: forgets the backoff, so the next launch is at once.
pub(crate) async fn reset_delay(
    State(m): State<Marathon>,
    Path(rest): Path<String>,
) -> Result<Response, HttpError> {
    let Some(run_spec) = rest.strip_suffix("/delay") else {
        return Err(HttpError(ApiErrorBody::new(404, "URI not found")));
    };
    let id = path_id(run_spec)?;
    let mut st = m.lock();
    if Queued::find(&st, &id).is_none() {
        return Err(HttpError(ApiErrorBody::app_not_found(&id)));
    }
    st.backoff.remove(&id);
    m.inner.wake.notify_one();
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Marathon's label selector: `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma = AND.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LabelSelector(Vec<Term>);

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Exists(String),
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

impl LabelSelector {
    pub(crate) fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut terms = Vec::new();
        let mut rest = s.trim();
        while !rest.is_empty() {
            let (term, tail) = split_term(rest);
            terms.push(
                parse_term(term.trim()).ok_or_else(|| format!("Invalid label selector {s:?}"))?,
            );
            rest = tail.trim_start_matches(',').trim();
        }
        Ok(LabelSelector(terms))
    }

    pub(crate) fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|t| match t {
            Term::Exists(k) => labels.contains_key(k),
            Term::Eq(k, v) => labels.get(k) == Some(v),
            Term::Ne(k, v) => labels.get(k) != Some(v),
            Term::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
            Term::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
        })
    }
}

/// Splits off the first term; commas inside `( )` do not split.
fn split_term(s: &str) -> (&str, &str) {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn parse_term(t: &str) -> Option<Term> {
    if let Some((k, v)) = t.split_once("!=") {
        return Some(Term::Ne(k.trim().into(), v.trim().into()));
    }
    if let Some((k, v)) = t.split_once("==") {
        return Some(Term::Eq(k.trim().into(), v.trim().into()));
    }
    for (kw, notin) in [(" notin ", true), (" in ", false)] {
        if let Some((k, v)) = t.split_once(kw) {
            let list = v.trim().strip_prefix('(')?.strip_suffix(')')?;
            let vals = list
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            return Some(if notin {
                Term::NotIn(k.trim().into(), vals)
            } else {
                Term::In(k.trim().into(), vals)
            });
        }
    }
    (!t.is_empty() && !t.contains(char::is_whitespace)).then(|| Term::Exists(t.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sel: &str, labels: &[(&str, &str)], expect: bool) {
        let l: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = LabelSelector::parse(sel).unwrap_or(LabelSelector(vec![Term::Exists("\0".into())]));
        assert_eq!(s.matches(&l), expect, "{sel} on {labels:?}");
    }

    #[test]
    fn selectors() {
        check("team==a", &[("team", "a")], true);
        check("team==a", &[("team", "b")], false);
        check("team!=a", &[], true);
        check("team", &[("team", "x")], true);
        check(
            "tier in (web, api),team==a",
            &[("tier", "api"), ("team", "a")],
            true,
        );
        check("tier notin (web,api)", &[("tier", "db")], true);
        check("tier notin (web,api)", &[("tier", "web")], false);
        assert!(LabelSelector::parse("a in b").is_err());
    }
}
