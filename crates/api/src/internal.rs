//! Keel's internal master <-> agent protocol (placeholder; filled in with the master).
