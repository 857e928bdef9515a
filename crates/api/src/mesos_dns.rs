//! The Mesos-DNS HTTP API's shapes (`/v1/version`, `/v1/config`, `/v1/hosts/{host}`,
//! `/v1/services/{service}`, `/v1/enumerate`, `/v1/axfr`), with Mesos-DNS's field names.

use serde::Serialize;
use std::collections::BTreeMap;

/// `GET /v1/version`.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    #[serde(rename = "Service")]
    pub service: &'static str,
    #[serde(rename = "Version")]
    pub version: &'static str,
    #[serde(rename = "URL")]
    pub url: &'static str,
}

/// One entry of `GET /v1/hosts/{host}` (all empty when nothing matched).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Host {
    pub host: String,
    pub ip: String,
}

/// One entry of `GET /v1/services/{service}` (all empty when nothing matched).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Service {
    pub service: String,
    pub host: String,
    pub ip: String,
    pub port: String,
}

/// `GET /v1/enumerate`.
#[derive(Debug, Clone, Serialize)]
pub struct Enumerate {
    pub frameworks: Vec<EnumFramework>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnumFramework {
    pub name: String,
    pub tasks: Vec<EnumTask>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnumTask {
    pub name: String,
    pub id: String,
    pub records: Vec<EnumRecord>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnumRecord {
    pub name: String,
    pub host: String,
    pub rtype: String,
}

/// `GET /v1/axfr`.
#[derive(Debug, Clone, Serialize)]
pub struct Axfr {
    #[serde(rename = "TTL")]
    pub ttl: u32,
    #[serde(rename = "Serial")]
    pub serial: u32,
    #[serde(rename = "RefreshSeconds")]
    pub refresh_seconds: u32,
    #[serde(rename = "Mname")]
    pub mname: String,
    #[serde(rename = "Rname")]
    pub rname: String,
    #[serde(rename = "Domain")]
    pub domain: String,
    #[serde(rename = "Records")]
    pub records: AxfrRecords,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct AxfrRecords {
    #[serde(rename = "As")]
    pub a: BTreeMap<String, Vec<String>>,
    #[serde(rename = "AAAAs")]
    pub aaaa: BTreeMap<String, Vec<String>>,
    #[serde(rename = "SRVs")]
    pub srv: BTreeMap<String, Vec<String>>,
}

/// `GET /v1/config`: Mesos-DNS's Config with its Go field names.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub refresh_seconds: u32,
    pub port: u16,
    pub timeout: u64,
    pub state_timeout_seconds: u32,
    pub zk_detection_timeout: u32,
    pub http_port: u16,
    #[serde(rename = "TTL")]
    pub ttl: u32,
    #[serde(rename = "SRVRecordDefaultWeight")]
    pub srv_record_default_weight: u16,
    #[serde(rename = "SOASerial")]
    pub soa_serial: u32,
    #[serde(rename = "SOARefresh")]
    pub soa_refresh: u32,
    #[serde(rename = "SOARetry")]
    pub soa_retry: u32,
    #[serde(rename = "SOAExpire")]
    pub soa_expire: u32,
    #[serde(rename = "SOAMinttl")]
    pub soa_minttl: u32,
    #[serde(rename = "SOAMname")]
    pub soa_mname: String,
    #[serde(rename = "SOARname")]
    pub soa_rname: String,
    pub masters: Vec<String>,
    pub zone_resolvers: BTreeMap<String, Vec<String>>,
    pub resolvers: Vec<String>,
    #[serde(rename = "IPSources")]
    pub ip_sources: Vec<String>,
    pub zk: String,
    pub domain: String,
    pub file: String,
    pub listener: String,
    #[serde(rename = "HTTPListener")]
    pub http_listener: String,
    pub recurse_on: bool,
    pub dns_on: bool,
    pub http_on: bool,
    pub external_on: bool,
    #[serde(rename = "EnforceRFC952")]
    pub enforce_rfc952: bool,
    pub set_truncate_bit: bool,
    pub enumeration_on: bool,
    #[serde(rename = "MesosHTTPSOn")]
    pub mesos_https_on: bool,
    #[serde(rename = "CACertFile")]
    pub ca_cert_file: String,
    pub cert_file: String,
    pub key_file: String,
    pub mesos_credentials: BTreeMap<String, String>,
    #[serde(rename = "IAMConfigFile")]
    pub iam_config_file: String,
    pub mesos_authentication: String,
}
