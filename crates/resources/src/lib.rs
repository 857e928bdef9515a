//! Resource arithmetic for Keel: scalar, range and set resources, their text form
//! (`cpus:4;mem:1024;ports:[31000-32000]`), and agent attributes (`rack:r1;zone:a`).
//!
//! Architecture Invariant: pure; no I/O, no clock, no randomness.

#![forbid(unsafe_code)]

mod attributes;
mod ranges;
mod resources;

pub use attributes::{AttrValue, Attributes};
pub use ranges::Ranges;
pub use resources::{ParseError, Resources};

/// Scalars are compared with this tolerance, like Mesos's fixed-point 0.001 precision.
pub const EPSILON: f64 = 1e-3;
