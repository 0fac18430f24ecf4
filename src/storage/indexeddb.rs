//! `IndexedDbStorage`: node bytes in the browser's IndexedDB, batched per tick.
//!
//! `get` and `put` stay one-key calls, but every call issued in the same tick (e.g. from
//! `Promise.all` or `join_all`) is served by one transaction per direction. The first put of a
//! tick opens a `readwrite` transaction and each put goes into it at once, as in a plain-JS
//! loop; a task spawned with the transaction closes the batch at the end of the tick and
//! answers every put when the transaction has committed (large values are written only if their
//! key is missing, so re-putting a 1 MiB node costs a key lookup; see
//! [`idb_batch`](super::idb_batch)). Gets are queued and read by one `readonly` transaction.
//! Inside a transaction nothing but IndexedDB requests is awaited. Values are `Uint8Array`s, so
//! JS callers ([`IndexedDbStorage::put_array`], [`IndexedDbStorage::get_array`]) never copy
//! bytes through wasm memory.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;
use js_sys::Uint8Array;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::idb_batch::{read_records, record_array, WriteBatch};
use super::idb_future::{error_from_js, Connection, OpenFuture, RequestFuture, TransactionFuture};
use super::tick_queue::TickQueue;
use super::{verify_put, StorageProvider};
use crate::error::{Error, Result};
use crate::key::Key;

/// Schema version of casweb's database. Bump it (and extend [`upgrade`]) to add stores.
pub const SCHEMA_VERSION: u32 = 1;
/// The object store holding node bytes, keyed by the key's text form.
pub const NODES_STORE: &str = "nodes";

/// Counters for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexedDbStats {
    /// `readwrite` transactions started (one per tick with puts).
    pub write_transactions: u32,
    /// `readonly` transactions started (one per tick with gets).
    pub read_transactions: u32,
    /// Records written.
    pub records_written: u32,
    /// Puts of a large value (at least `CHECK_BEFORE_WRITE_BYTES`) that found their key
    /// already stored and wrote nothing.
    pub puts_skipped: u32,
    /// Gets served.
    pub gets: u32,
}

type PutReply = oneshot::Sender<Result<()>>;

struct Inner {
    name: String,
    db: Connection,
    /// This tick's puts, in their open transaction, and who waits for its outcome.
    write: RefCell<Option<(WriteBatch, Vec<PutReply>)>>,
    /// The gets waiting for this tick's read transaction.
    gets: TickQueue<Key, Result<Option<Uint8Array>>>,
    stats: Cell<IndexedDbStats>,
}

/// Node storage in one IndexedDB database. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct IndexedDbStorage {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for IndexedDbStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedDbStorage")
            .field("name", &self.inner.name)
            .field("open", &self.inner.db.database().is_some())
            .finish()
    }
}

pub(crate) fn factory() -> Result<IdbFactory> {
    let global = js_sys::global();
    let value = js_sys::Reflect::get(&global, &"indexedDB".into())
        .map_err(|e| Error::Unavailable(format!("{e:?}")))?;
    value.dyn_into::<IdbFactory>().map_err(|_| {
        Error::Unavailable("this context has no indexedDB (not a window or worker?)".into())
    })
}

fn upgrade(db: &IdbDatabase) -> std::result::Result<(), JsValue> {
    if !db.object_store_names().contains(NODES_STORE) {
        db.create_object_store(NODES_STORE)?;
    }
    Ok(())
}

impl IndexedDbStorage {
    /// Opens (creating or upgrading as needed) the database `name`.
    ///
    /// Fails with [`Error::Blocked`] if another connection at an older version keeps it open,
    /// [`Error::VersionMismatch`] if it was created by a newer casweb, [`Error::Unavailable`]
    /// where IndexedDB does not exist.
    pub async fn open(name: &str) -> Result<IndexedDbStorage> {
        if name.is_empty() {
            return Err(Error::InvalidArgument(
                "database name must not be empty".into(),
            ));
        }
        let request = factory()?
            .open_with_u32(name, SCHEMA_VERSION)
            .map_err(|e| error_from_js(&e))?;
        let db: IdbDatabase = OpenFuture::new(request, Some(Box::new(upgrade)))
            .await?
            .unchecked_into();
        let inner = Rc::new(Inner {
            name: name.to_owned(),
            db: Connection::new(db),
            write: RefCell::default(),
            gets: TickQueue::default(),
            stats: Cell::default(),
        });
        Ok(IndexedDbStorage { inner })
    }

    /// Deletes the database `name` and everything in it.
    pub async fn delete_database(name: &str) -> Result<()> {
        let request = factory()?
            .delete_database(name)
            .map_err(|e| error_from_js(&e))?;
        OpenFuture::new(request, None).await.map(|_| ())
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Closes the connection. Later calls fail with [`Error::Closed`], as they do after the
    /// connection stepped aside for another tab (see `Connection`).
    pub fn close(&self) {
        self.inner.db.close();
    }

    /// Diagnostic counters since the storage was opened.
    pub fn stats(&self) -> IndexedDbStats {
        self.inner.stats.get()
    }

    fn update_stats(&self, change: impl FnOnce(&mut IndexedDbStats)) {
        let mut stats = self.inner.stats.get();
        change(&mut stats);
        self.inner.stats.set(stats);
    }

    fn nodes_store(&self, mode: IdbTransactionMode) -> Result<(IdbObjectStore, IdbTransaction)> {
        let db = self.inner.db.database().ok_or(Error::Closed)?;
        let transaction = db
            .transaction_with_str_and_mode(NODES_STORE, mode)
            .map_err(|e| error_from_js(&e))?;
        let store = transaction
            .object_store(NODES_STORE)
            .map_err(|e| error_from_js(&e))?;
        Ok((store, transaction))
    }

    /// Deletes `keys` in one transaction (missing keys are ignored); resolves after commit.
    pub async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let (store, transaction) = self.nodes_store(IdbTransactionMode::Readwrite)?;
        let done = TransactionFuture::new(transaction);
        self.update_stats(|s| s.write_transactions += 1);
        for key in keys {
            store
                .delete(&JsValue::from(key.to_string()))
                .map_err(|e| error_from_js(&e))?;
        }
        done.await
    }

    /// Every stored entry, in key order (for small stores such as the sync engine's pending
    /// set; a node cache can be far larger than memory).
    pub async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        let (store, _done) = self.nodes_store(IdbTransactionMode::Readonly)?;
        self.update_stats(|s| s.read_transactions += 1);
        let keys = store.get_all_keys().map_err(|e| error_from_js(&e))?;
        let values = store.get_all().map_err(|e| error_from_js(&e))?;
        let (keys, values) =
            futures::future::join(RequestFuture::new(keys), RequestFuture::new(values)).await;
        let keys: js_sys::Array = keys?.unchecked_into();
        let values: js_sys::Array = values?.unchecked_into();
        keys.iter()
            .zip(values.iter())
            .map(|(key, value)| {
                let text = key.as_string().unwrap_or_default();
                let key = Key::parse(&text)?;
                Ok((key, Bytes::from(record_array(key, value)?.to_vec())))
            })
            .collect()
    }

    /// Puts `value` under `key` into this tick's write batch now, opening it (and the task
    /// that closes and commits it) if this is the tick's first put.
    fn start_put(&self, key: Key, value: &Uint8Array) -> Result<oneshot::Receiver<Result<()>>> {
        let mut write = self.inner.write.borrow_mut();
        if write.is_none() {
            let (store, transaction) = self.nodes_store(IdbTransactionMode::Readwrite)?;
            self.update_stats(|s| s.write_transactions += 1);
            *write = Some((WriteBatch::new(store, transaction), Vec::new()));
            spawn_local(self.clone().commit_puts());
        }
        let (batch, replies) = write.as_mut().expect("opened above");
        batch.put(key, value);
        let (tx, rx) = oneshot::channel();
        replies.push(tx);
        Ok(rx)
    }

    /// Runs once the tick that opened the write batch is over: later puts open a new one. Waits
    /// for the commit and gives every put its outcome.
    async fn commit_puts(self) {
        let Some((batch, replies)) = self.inner.write.borrow_mut().take() else {
            return;
        };
        let outcome = batch.commit().await;
        if let Ok((keys, written)) = outcome {
            self.update_stats(|s| {
                s.records_written += written;
                s.puts_skipped += keys - written;
            });
        }
        for reply in replies {
            let _ = reply.send(outcome.clone().map(|_| ()));
        }
    }

    async fn flush_gets(self) {
        let batch = self.inner.gets.take();
        let keys: Vec<Key> = batch.iter().map(|(key, _)| *key).collect();
        let values = match self.nodes_store(IdbTransactionMode::Readonly) {
            Ok((store, _)) => {
                self.update_stats(|s| {
                    s.read_transactions += 1;
                    s.gets += keys.len() as u32;
                });
                read_records(&store, &keys).await
            }
            Err(error) => Err(error),
        };
        match values {
            Ok(values) => {
                for ((_, reply), value) in batch.into_iter().zip(values) {
                    let _ = reply.send(Ok(value));
                }
            }
            Err(error) => {
                for (_, reply) in batch {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }
}

impl IndexedDbStorage {
    /// The value stored under `key` as IndexedDB returned it (a fresh `Uint8Array` the caller
    /// owns), or `None`. Batched with every get of the same tick.
    pub async fn get_array(&self, key: Key) -> Result<Option<Uint8Array>> {
        let (answer, first) = self.inner.gets.join(key);
        if first {
            spawn_local(self.clone().flush_gets());
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Stores `value` under `key`: the request is issued now, in this tick's write batch
    /// (IndexedDB clones the value before this returns, so the caller may reuse its array); the
    /// future resolves once the batch's transaction committed.
    pub fn put_array(
        &self,
        key: Key,
        value: &Uint8Array,
    ) -> impl std::future::Future<Output = Result<()>> {
        let started = verify_put(key, &value.to_vec()).and_then(|()| self.start_put(key, value));
        async move { started?.await.unwrap_or(Err(Error::Closed)) }
    }
}

impl StorageProvider for IndexedDbStorage {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let value = self.get_array(key).await?;
        Ok(value.map(|array| Bytes::from(array.to_vec())))
    }

    /// `hash_mismatch` (nothing written) unless `bytes` hash to `key`.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        verify_put(key, &bytes)?;
        // The JS copy is dropped once IndexedDB has cloned it, not held until the commit.
        let committed = {
            let value = Uint8Array::from(&bytes[..]);
            let started = self.start_put(key, &value);
            async move { started?.await.unwrap_or(Err(Error::Closed)) }
        };
        committed.await
    }
}
