//! `keel-image`: image provisioning for Keel's own container runtime (Mesos "UCR").
//!
//! `ImageStore::provision` turns a reference into unpacked layers ready as overlayfs
//! lowerdirs, from a directory of archives (`Sources::local_dir`) or a registry, through a
//! content-addressed cache that several executor processes share; `copy_rootfs` flattens
//! the layers where overlayfs is not available; `ImageStore::gc` trims the cache. Blocking
//! API: registry pulls run on a private current-thread tokio runtime per call.

mod archive;
mod config;
mod digest;
mod error;
mod gc;
mod reference;
mod registry;
mod rootfs;
mod sources;
mod store;
mod sys;
mod unpack;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use config::ImageConfig;
pub use error::ImageError;
pub use gc::GcReport;
pub use reference::{Reference, ReferenceError};
pub use rootfs::copy_rootfs;
pub use sources::{Protocol, Sources, is_loopback};
pub use store::{Image, ImageStore};
