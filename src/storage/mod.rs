//! The storage seam: a `StorageProvider` gets and puts node bytes by key, nothing else.
//!
//! There is no `has`: a missing key is `get() == Ok(None)`. Implementations may skip redundant
//! writes inside `put`. Futures are not `Send`: wasm is single-threaded.

mod advertising;
mod cached;
pub mod eviction;
#[cfg(target_arch = "wasm32")]
mod idb_batch;
#[cfg(target_arch = "wasm32")]
mod idb_cache;
#[cfg(target_arch = "wasm32")]
pub(crate) mod idb_future;
#[cfg(target_arch = "wasm32")]
mod idb_journal;
#[cfg(target_arch = "wasm32")]
mod idb_lifecycle;
#[cfg(target_arch = "wasm32")]
mod idb_manage;
#[cfg(target_arch = "wasm32")]
mod idb_pending;
#[cfg(target_arch = "wasm32")]
mod idb_pin;
#[cfg(target_arch = "wasm32")]
mod indexeddb;
mod memory;
#[cfg(any(target_arch = "wasm32", test))]
mod pending_records;
#[cfg(target_arch = "wasm32")]
mod persistence;
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) mod tick_queue;

use std::rc::Rc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::key::Key;

pub use advertising::{AdvertisingStorage, StoreObserver};
pub use cached::CachedStorage;
pub use eviction::Usage;
#[cfg(all(target_arch = "wasm32", feature = "storage-api"))]
pub(crate) use idb_batch::async_iterator;
#[cfg(target_arch = "wasm32")]
pub use idb_batch::CHECK_BEFORE_WRITE_BYTES;
#[cfg(target_arch = "wasm32")]
pub use idb_future::error_from_js;
#[cfg(target_arch = "wasm32")]
pub use idb_lifecycle::{PinInfo, Scan};
#[cfg(target_arch = "wasm32")]
pub use idb_manage::KEYS_PAGE;
#[cfg(target_arch = "wasm32")]
pub use idb_pending::IdbPendingStore;
#[cfg(target_arch = "wasm32")]
pub use idb_pin::Pinned;
#[cfg(all(target_arch = "wasm32", feature = "p2p"))]
pub(crate) use indexeddb::factory as idb_factory;
#[cfg(target_arch = "wasm32")]
pub use indexeddb::{
    IndexedDbOptions, IndexedDbStats, IndexedDbStorage, NODES_STORE, SCHEMA_VERSION,
};
pub use memory::MemoryStorage;
#[cfg(target_arch = "wasm32")]
pub use persistence::StorageEstimate;

/// A place that keeps node bytes by key.
#[allow(async_fn_in_trait)]
pub trait StorageProvider {
    /// The bytes stored under `key`, or `None` if there are none.
    async fn get(&self, key: Key) -> Result<Option<Bytes>>;
    /// Stores `bytes` under `key`. Storing the same key again is allowed and may be a no-op.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()>;
}

/// Checks that `bytes` hash to `key`. Every casweb store calls it before keeping anything: a
/// store never holds bytes under a key they do not hash to (a reader would fail on them for
/// good), and the caller learns of the mistake at `put` time.
pub fn verify_put(key: Key, bytes: &[u8]) -> Result<()> {
    if Key::for_bytes(bytes) == key {
        Ok(())
    } else {
        Err(Error::HashMismatch { key })
    }
}

impl<S: StorageProvider + ?Sized> StorageProvider for &S {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        (**self).get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        (**self).put(key, bytes).await
    }
}

impl<S: StorageProvider + ?Sized> StorageProvider for Rc<S> {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        (**self).get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        (**self).put(key, bytes).await
    }
}
