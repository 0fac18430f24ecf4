//! Where the sync engine keeps the nodes the server does not own yet, so that a reload resumes
//! them: a trait, implemented by `IndexedDbStorage` in the browser (one database per pending
//! store) and by any test double natively.

use bytes::Bytes;

use crate::error::Result;
use crate::key::Key;

/// Durable storage of pending nodes. An engine opened on a store resumes its entries.
#[allow(async_fn_in_trait)]
pub trait PendingStore {
    /// Every entry left by an earlier engine.
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>>;
    /// Keeps a node until [`delete_many`](PendingStore::delete_many) removes it.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()>;
    /// Removes nodes the server now owns (missing keys are ignored).
    async fn delete_many(&self, keys: &[Key]) -> Result<()>;
    /// Releases the store (the engine was disposed).
    fn close(&self);
}

#[cfg(target_arch = "wasm32")]
impl PendingStore for crate::storage::IndexedDbStorage {
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        crate::storage::IndexedDbStorage::entries(self).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        crate::storage::StorageProvider::put(self, key, bytes).await
    }
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        crate::storage::IndexedDbStorage::delete_many(self, keys).await
    }
    fn close(&self) {
        crate::storage::IndexedDbStorage::close(self);
    }
}
