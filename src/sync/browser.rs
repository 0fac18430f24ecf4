//! The sync engine in the browser: pending nodes in IndexedDB, one flusher per pending store
//! across tabs (Web Locks), the page's clock and event loop.

use super::engine::{BufferedConfig, SyncEngine};
use super::lock::WebLock;
use super::pending::AnyPendingStore;
use super::remote::SyncRemote;
use crate::error::Result;
use crate::runtime::BrowserRuntime;
use crate::storage::{IdbPendingStore, StorageProvider};

/// The engine as the JS class `BufferedHttpStorage` runs it.
pub type BufferedStorage<R> = SyncEngine<R, AnyPendingStore, WebLock, BrowserRuntime>;

impl<R: SyncRemote + StorageProvider + 'static> BufferedStorage<R> {
    /// Opens the engine on the IndexedDB pending store `config.pending_store` (none: memory
    /// only), resuming what an earlier engine on it left pending.
    pub async fn open(remote: R, config: BufferedConfig) -> Result<BufferedStorage<R>> {
        let pending_store = match &config.pending_store {
            Some(name) => Some(AnyPendingStore::new(IdbPendingStore::open(name).await?)),
            None => None,
        };
        let lock = format!(
            "casweb-sync:{}",
            config.pending_store.as_deref().unwrap_or("memory")
        );
        BufferedStorage::open_on(remote, config, pending_store, &lock).await
    }

    /// Opens the engine on a pending store of the caller's (e.g. an app's own JS object), with
    /// passes serialised across tabs by the Web Lock `lock`.
    pub async fn open_on(
        remote: R,
        config: BufferedConfig,
        pending_store: Option<AnyPendingStore>,
        lock: &str,
    ) -> Result<BufferedStorage<R>> {
        let lock = WebLock { name: lock.into() };
        SyncEngine::start(remote, config, pending_store, lock, BrowserRuntime).await
    }
}
