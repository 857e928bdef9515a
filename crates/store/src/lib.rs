//! Versioned key-value store with compare-and-set, watch and transactions; embedded redb backend.
