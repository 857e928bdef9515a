//! The Mesos-DNS HTTP API (port 8123, `/mesos_dns/` on the entry), answered from the
//! current record set.

use crate::{DnsConfig, Records};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use keel_api::mesos_dns as wire;
use keel_dns_records::in_zone;
use std::collections::BTreeMap;

#[derive(Clone)]
struct Api {
    records: Records,
    config: DnsConfig,
}

/// The API's routes at `/v1/...`; nest it under `/mesos_dns` for the entry.
pub fn router(records: Records, config: DnsConfig) -> Router {
    Router::new()
        .route("/v1/version", get(version))
        .route("/v1/config", get(config_view))
        .route("/v1/enumerate", get(enumerate))
        .route("/v1/axfr", get(axfr))
        .merge(root_router(records.clone(), config.clone()))
        .with_state(Api { records, config })
}

/// Only `/v1/hosts/...` and `/v1/services/...`: what the entry serves at its root, beside
/// Metronome's `/v1/jobs`.
pub fn root_router<S: Clone + Send + Sync + 'static>(
    records: Records,
    config: DnsConfig,
) -> Router<S> {
    Router::new()
        .route("/v1/hosts/{host}", get(hosts))
        .route("/v1/hosts/{host}/ports", get(host_ports))
        .route("/v1/services/{service}", get(services))
        .with_state(Api { records, config })
}

async fn version() -> Json<wire::Version> {
    Json(wire::Version {
        service: "Mesos-DNS",
        version: env!("CARGO_PKG_VERSION"),
        url: "https://github.com/mesosphere/mesos-dns",
    })
}

/// Lower case, `.*` wildcards stripped, trailing dot added.
fn fqdn(s: &str) -> String {
    let s = s.to_lowercase().replace(".*", "").replace('*', "");
    if s.ends_with('.') { s } else { format!("{s}.") }
}

async fn hosts(State(api): State<Api>, Path(host): Path<String>) -> Json<Vec<wire::Host>> {
    let name = fqdn(&host);
    let set = api.records.current();
    let mut out = Vec::new();
    if let Some(r) = set.get(&name) {
        let ips =
            r.a.iter()
                .map(ToString::to_string)
                .chain(r.aaaa.iter().map(ToString::to_string));
        out.extend(ips.map(|ip| wire::Host {
            host: name.clone(),
            ip,
        }));
    }
    if out.is_empty() {
        out.push(wire::Host::default());
    }
    Json(out)
}

async fn host_ports() -> Response {
    (StatusCode::NOT_IMPLEMENTED, "To be implemented...").into_response()
}

async fn services(State(api): State<Api>, Path(service): Path<String>) -> Json<Vec<wire::Service>> {
    let name = fqdn(&service);
    let set = api.records.current();
    let mut out: Vec<wire::Service> = (set.services(&name).into_iter())
        .map(|t| wire::Service {
            service: service.clone(),
            host: t.host,
            ip: t.ip.to_string(),
            port: t.port.to_string(),
        })
        .collect();
    if out.is_empty() {
        out.push(wire::Service::default());
    }
    Json(out)
}

async fn enumerate(State(api): State<Api>) -> Json<wire::Enumerate> {
    let set = api.records.current();
    let frameworks = (set.enumerate().iter())
        .map(|(name, tasks)| wire::EnumFramework {
            name: name.clone(),
            tasks: (tasks.iter())
                .map(|t| wire::EnumTask {
                    name: t.name.clone(),
                    id: t.id.clone(),
                    records: (t.records.iter())
                        .map(|r| wire::EnumRecord {
                            name: r.name.clone(),
                            host: r.host.clone(),
                            rtype: r.rtype.to_string(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Json(wire::Enumerate { frameworks })
}

async fn axfr(State(api): State<Api>) -> Json<wire::Axfr> {
    let set = api.records.current();
    let z = &api.config.zone;
    let apex = format!("{}.", z.domain.trim_matches('.').to_lowercase());
    let mut records = wire::AxfrRecords::default();
    for (name, r) in set.iter().filter(|(n, _)| in_zone(n, &apex)) {
        if !r.a.is_empty() {
            records
                .a
                .insert(name.clone(), r.a.iter().map(ToString::to_string).collect());
        }
        if !r.aaaa.is_empty() {
            records.aaaa.insert(
                name.clone(),
                r.aaaa.iter().map(ToString::to_string).collect(),
            );
        }
        if !r.srv.is_empty() {
            let v = r
                .srv
                .iter()
                .map(|s| format!("{}:{}", s.target, s.port))
                .collect();
            records.srv.insert(name.clone(), v);
        }
    }
    let serial = set.zones().first().map_or(0, |z| z.serial);
    Json(wire::Axfr {
        ttl: z.ttl,
        serial,
        refresh_seconds: 0,
        mname: z.soa_mname.clone(),
        rname: z.soa_rname.clone(),
        domain: z.domain.clone(),
        records,
    })
}

async fn config_view(State(api): State<Api>) -> Json<wire::Config> {
    let c = &api.config;
    let z = &c.zone;
    let addrs = |v: &[std::net::SocketAddr]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let zone_resolvers: BTreeMap<String, Vec<String>> = (c.zone_resolvers.iter())
        .map(|(k, v)| (k.trim_end_matches('.').to_string(), addrs(v)))
        .collect();
    Json(wire::Config {
        refresh_seconds: 0,
        port: c.listen.port(),
        timeout: c.timeout.as_secs(),
        state_timeout_seconds: 0,
        zk_detection_timeout: 0,
        http_port: 8123,
        ttl: z.ttl,
        srv_record_default_weight: z.srv_weight,
        soa_serial: api
            .records
            .current()
            .zones()
            .first()
            .map_or(0, |z| z.serial),
        soa_refresh: z.soa_refresh,
        soa_retry: z.soa_retry,
        soa_expire: z.soa_expire,
        soa_minttl: z.soa_minttl,
        soa_mname: z.soa_mname.clone(),
        soa_rname: z.soa_rname.clone(),
        masters: Vec::new(),
        zone_resolvers,
        resolvers: addrs(&c.resolvers),
        ip_sources: vec!["netinfo".into(), "mesos".into(), "host".into()],
        zk: String::new(),
        domain: z.domain.clone(),
        file: String::new(),
        listener: c.listen.ip().to_string(),
        http_listener: "0.0.0.0".into(),
        recurse_on: !c.resolvers.is_empty() || !c.zone_resolvers.is_empty(),
        dns_on: true,
        http_on: true,
        external_on: true,
        enforce_rfc952: z.enforce_rfc952,
        set_truncate_bit: true,
        enumeration_on: true,
        mesos_https_on: false,
        ca_cert_file: String::new(),
        cert_file: String::new(),
        key_file: String::new(),
        mesos_credentials: BTreeMap::new(),
        iam_config_file: String::new(),
        mesos_authentication: String::new(),
    })
}
