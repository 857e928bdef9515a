//! Wire types: the JSON shapes of the compatible APIs (Mesos legacy state and files
//! endpoints, DC/OS metadata) and of Keel's own internal protocols (master <-> agent,
//! agent <-> executor).
//!
//! Architecture Invariant: serde types and conversions only; no I/O and no decisions.

#![forbid(unsafe_code)]

pub mod diagnostics;
pub mod executor;
pub mod internal;
pub mod logs;
pub mod marathon;
pub mod mesos;
pub mod mesos_dns;
pub mod metrics;
pub mod metronome;
pub mod to_model;
pub mod vips;
