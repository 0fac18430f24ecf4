//! Where the sync engine keeps the nodes the server does not own yet, so that a reload resumes
//! them: a trait, implemented by `IdbPendingStore` in the browser (one database per pending
//! store), by an app's own JS object (`js/pending.rs`), and by any test double natively;
//! [`AnyPendingStore`] erases which one.

use std::rc::Rc;

use bytes::Bytes;
use futures::future::LocalBoxFuture;

use crate::error::Result;
use crate::key::Key;

/// Durable storage of pending nodes. An engine opened on a store resumes its entries.
#[allow(async_fn_in_trait)]
pub trait PendingStore {
    /// Every entry left by an earlier engine.
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>>;
    /// Keeps a node until [`delete_many`](PendingStore::delete_many) removes it.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()>;
    /// Removes nodes the server now owns (missing keys are ignored). A store may keep their
    /// bytes a while longer (the engine checks resumed nodes before sending them).
    async fn delete_many(&self, keys: &[Key]) -> Result<()>;
    /// Removes a node the app gave up on: it must not be resumed again.
    async fn discard(&self, key: Key) -> Result<()> {
        self.delete_many(&[key]).await
    }
    /// Releases the store (the engine was disposed).
    fn close(&self);
}

/// Object-safe twin of [`PendingStore`] (whose `async fn`s cannot be called through `dyn`).
trait DynPendingStore {
    fn entries_boxed(&self) -> LocalBoxFuture<'_, Result<Vec<(Key, Bytes)>>>;
    fn put_boxed(&self, key: Key, bytes: Bytes) -> LocalBoxFuture<'_, Result<()>>;
    fn delete_many_boxed<'a>(&'a self, keys: &'a [Key]) -> LocalBoxFuture<'a, Result<()>>;
    fn discard_boxed(&self, key: Key) -> LocalBoxFuture<'_, Result<()>>;
    fn close_dyn(&self);
}

impl<T: PendingStore> DynPendingStore for T {
    fn entries_boxed(&self) -> LocalBoxFuture<'_, Result<Vec<(Key, Bytes)>>> {
        Box::pin(self.entries())
    }
    fn put_boxed(&self, key: Key, bytes: Bytes) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(self.put(key, bytes))
    }
    fn delete_many_boxed<'a>(&'a self, keys: &'a [Key]) -> LocalBoxFuture<'a, Result<()>> {
        Box::pin(self.delete_many(keys))
    }
    fn discard_boxed(&self, key: Key) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(self.discard(key))
    }
    fn close_dyn(&self) {
        self.close();
    }
}

/// Any pending store, shared.
#[derive(Clone)]
pub struct AnyPendingStore(Rc<dyn DynPendingStore>);

impl AnyPendingStore {
    pub fn new<T: PendingStore + 'static>(store: T) -> AnyPendingStore {
        AnyPendingStore(Rc::new(store))
    }
}

impl PendingStore for AnyPendingStore {
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        self.0.entries_boxed().await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.0.put_boxed(key, bytes).await
    }
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        self.0.delete_many_boxed(keys).await
    }
    async fn discard(&self, key: Key) -> Result<()> {
        self.0.discard_boxed(key).await
    }
    fn close(&self) {
        self.0.close_dyn();
    }
}

#[cfg(target_arch = "wasm32")]
impl PendingStore for crate::storage::IdbPendingStore {
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        crate::storage::IdbPendingStore::entries(self).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        crate::storage::IdbPendingStore::put(self, key, bytes).await
    }
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        crate::storage::IdbPendingStore::delete_many(self, keys).await
    }
    async fn discard(&self, key: Key) -> Result<()> {
        crate::storage::IdbPendingStore::discard(self, key).await
    }
    fn close(&self) {
        crate::storage::IdbPendingStore::close(self);
    }
}
