//! Metrics as pure functions: parsers of procfs and cgroup (v1 and v2) files, the
//! dcos-metrics v0 datapoints of a node and a container, StatsD packets and the app
//! metrics they add up to, and the Prometheus text exposition (with atomic counters and
//! histograms the services update).
//!
//! Architecture Invariant: pure; every file's text and `now` are inputs, the agent reads
//! them (on demand, never in a loop per container).

#![forbid(unsafe_code)]

pub mod cgroup;
pub mod container;
pub mod histogram;
pub mod node;
pub mod procfs;
pub mod prometheus;
pub mod statsd;

pub use cgroup::{CgroupTexts, ContainerUsage};
pub use container::{ContainerLimits, container_datapoints};
pub use histogram::{Counter, Histogram};
pub use node::{FsUsage, NodeSample, node_datapoints};
pub use prometheus::{Family, Kind, Sample, render};
pub use statsd::{AppMetrics, StatsdError, parse_packet};
