//! Multi-key transactions, shaped like etcd's `Txn`: if all compares hold, run `success`,
//! else run `failure`.

use crate::kv::{Expect, KeyValue, LeaseId, Revision};

/// An all-or-nothing transaction. Ops run in order (a `Get` sees earlier puts of the same
/// transaction); all writes share one revision, and a transaction that writes nothing bumps
/// no revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<(String, Expect)>,
    pub success: Vec<Op>,
    pub failure: Vec<Op>,
}

impl Txn {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a compare.
    pub fn when(mut self, key: impl Into<String>, expect: Expect) -> Self {
        self.compares.push((key.into(), expect));
        self
    }

    /// Adds an op to run when every compare holds.
    pub fn then(mut self, op: Op) -> Self {
        self.success.push(op);
        self
    }

    /// Adds an op to run when some compare fails.
    pub fn otherwise(mut self, op: Op) -> Self {
        self.failure.push(op);
        self
    }
}

/// One operation of a [`Txn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: String,
        value: Vec<u8>,
        lease: Option<LeaseId>,
    },
    /// Deleting an absent key is not an error and writes nothing.
    Delete { key: String },
    /// Reads the key; the result lands in [`TxnOutcome::gets`].
    Get { key: String },
}

impl Op {
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Op::Put {
            key: key.into(),
            value: value.into(),
            lease: None,
        }
    }

    pub fn delete(key: impl Into<String>) -> Self {
        Op::Delete { key: key.into() }
    }

    pub fn get(key: impl Into<String>) -> Self {
        Op::Get { key: key.into() }
    }
}

/// What a [`Txn`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOutcome {
    /// Whether every compare held (so `success` ran, else `failure`).
    pub succeeded: bool,
    /// The store's revision after the transaction.
    pub revision: Revision,
    /// One entry per `Get` op that ran, in order.
    pub gets: Vec<Option<KeyValue>>,
}
