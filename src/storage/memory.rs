//! `MemoryStorage`: a provider backed by a hash map, for tests, small caches and native use.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;

use super::{verify_put, StorageProvider};
use crate::error::Result;
use crate::key::Key;

/// Keeps every node in memory. Cloning the bytes out is cheap (`Bytes` is reference-counted).
#[derive(Debug, Default)]
pub struct MemoryStorage {
    nodes: RefCell<HashMap<Key, Bytes>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.borrow().is_empty()
    }

    /// Total bytes stored.
    pub fn total_bytes(&self) -> usize {
        self.nodes.borrow().values().map(Bytes::len).sum()
    }
}

impl StorageProvider for MemoryStorage {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        Ok(self.nodes.borrow().get(&key).cloned())
    }

    /// `hash_mismatch` (nothing stored) unless `bytes` hash to `key`.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        verify_put(key, &bytes)?;
        self.nodes.borrow_mut().entry(key).or_insert(bytes);
        Ok(())
    }
}
