//! The backends of one VIP, shared by its listener and replaced as the table changes;
//! each connection takes them in round-robin order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// A VIP's healthy backends.
pub struct Pool {
    backends: RwLock<Arc<Vec<SocketAddr>>>,
    next: AtomicUsize,
}

impl Pool {
    pub fn new(backends: Vec<SocketAddr>) -> Pool {
        Pool {
            backends: RwLock::new(Arc::new(backends)),
            next: AtomicUsize::new(0),
        }
    }

    /// Replaces the backends (if they differ).
    pub fn set(&self, backends: Vec<SocketAddr>) {
        let mut b = self.backends.write().unwrap_or_else(|e| e.into_inner());
        if **b != backends {
            *b = Arc::new(backends);
        }
    }

    fn current(&self) -> Arc<Vec<SocketAddr>> {
        self.backends
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `b` is still a backend.
    pub fn contains(&self, b: SocketAddr) -> bool {
        self.current().contains(&b)
    }

    /// Every backend, starting at the next one in round-robin order.
    pub fn order(&self) -> Vec<SocketAddr> {
        let b = self.current();
        if b.is_empty() {
            return Vec::new();
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed) % b.len();
        b[start..].iter().chain(&b[..start]).copied().collect()
    }
}
