//! The data planes of Keel's routing: the Admin Router's `/service/` HTTP proxy and the
//! VIP (L4) load balancer. What to route where is decided in `keel-routing`.

#![forbid(unsafe_code)]

pub mod l4lb;
pub mod service;

pub use service::{ProxyCounts, ServiceProxy};
