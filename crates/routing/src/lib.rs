//! Routing decisions, pure: where the Admin Router's `/service/<name>/` goes and which
//! backends stand behind each VIP. Inputs are snapshots of cluster state; no I/O, no clock.

#![forbid(unsafe_code)]

pub mod service;
pub mod vips;
