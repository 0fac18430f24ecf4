//! The sync engine in the browser: pending nodes in IndexedDB, one flusher per pending store
//! across tabs (Web Locks), the page's clock and event loop.

use super::engine::{BufferedConfig, SyncEngine};
use super::lock::WebLock;
use super::remote::SyncRemote;
use crate::error::Result;
use crate::runtime::BrowserRuntime;
use crate::storage::{IndexedDbStorage, StorageProvider};

/// The engine as the JS class `BufferedHttpStorage` runs it.
pub type BufferedStorage<R> = SyncEngine<R, IndexedDbStorage, WebLock, BrowserRuntime>;

impl<R: SyncRemote + StorageProvider + 'static> BufferedStorage<R> {
    /// Opens the engine on the IndexedDB pending store `config.pending_store` (none: memory
    /// only), resuming what an earlier engine on it left pending.
    pub async fn open(remote: R, config: BufferedConfig) -> Result<BufferedStorage<R>> {
        let pending_store = match &config.pending_store {
            Some(name) => Some(IndexedDbStorage::open(name).await?),
            None => None,
        };
        let lock = WebLock {
            name: format!(
                "casweb-sync:{}",
                config.pending_store.as_deref().unwrap_or("memory")
            ),
        };
        SyncEngine::start(remote, config, pending_store, lock, BrowserRuntime).await
    }
}
