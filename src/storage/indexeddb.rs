//! `IndexedDbStorage`: node bytes in the browser's IndexedDB, batched per tick.
//!
//! `get` and `put` stay one-key calls, but every call issued in the same tick (e.g. from
//! `Promise.all` or `join_all`) is served by one transaction per direction. The first put of a
//! tick opens a `readwrite` transaction and each put goes into it at once, as in a plain-JS
//! loop; a task spawned with the transaction closes the batch at the end of the tick and
//! answers every put when the transaction has committed (each put also adds the node's meta
//! record, which IndexedDB refuses for a key already stored: large values are written only if
//! it was new, so re-putting a 1 MiB node costs a small refused write; see
//! [`idb_batch`](super::idb_batch)). Gets are queued and read by one `readonly` transaction.
//! Inside a transaction nothing but IndexedDB requests is awaited. Values are `Uint8Array`s, so
//! JS callers ([`IndexedDbStorage::put_array`], [`IndexedDbStorage::get_array`]) never copy
//! bytes through wasm memory.
//!
//! The lifecycle (usage, a byte cap with eviction, pins, deletes) lives in the stores of
//! [`idb_lifecycle`](super::idb_lifecycle); the cap's admission, eviction passes and access
//! log in [`idb_cache`](super::idb_cache) (the policy itself, pure, in
//! [`eviction`](super::eviction)), pins in [`idb_pin`](super::idb_pin), deletes and listing in
//! [`idb_manage`](super::idb_manage), the origin's quota in
//! [`persistence`](super::persistence).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;
use js_sys::Uint8Array;
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{IdbDatabase, IdbFactory, IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::eviction::Stamps;
use super::idb_batch::{read_records, WriteBatch};
use super::idb_cache::CacheState;
use super::idb_future::{error_from_js, Connection, OpenFuture, UpgradeFn};
use super::idb_journal::JournalState;
use super::idb_lifecycle::{self, JOURNAL_STORE, META_STORE, STATE_STORE};
use super::tick_queue::TickQueue;
use super::{verify_put, StorageProvider};
use crate::error::{Error, Result};
use crate::key::Key;

pub use super::idb_lifecycle::{NODES_STORE, SCHEMA_VERSION};

/// How to open an [`IndexedDbStorage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexedDbOptions {
    /// A byte cap: the store is a cache, evicting its least recently used unpinned nodes in the
    /// background to stay within it (and when the browser's quota is hit). `Some(u64::MAX)`: a
    /// cache without a cap, evicting only on a quota error. `None` (the default): a store that
    /// never deletes anything by itself (the sync engine's pending store is one).
    pub max_bytes: Option<u64>,
}

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
    /// Nodes deleted by eviction.
    pub nodes_evicted: u32,
    /// Eviction transactions run.
    pub eviction_batches: u32,
    /// Access times written back by the access log.
    pub access_writes: u32,
    /// Journal indexing transactions run in the background once puts paused.
    pub journal_indexings: u32,
}

type PutReply = oneshot::Sender<Result<()>>;
/// Where a put issued into a write batch learns its outcome.
pub(super) type PutAnswer = oneshot::Receiver<Result<()>>;

pub(super) struct Inner {
    pub(super) name: String,
    pub(super) db: Connection,
    /// This tick's puts, in their open transaction, and who waits for its outcome.
    write: RefCell<Option<(WriteBatch, Vec<PutReply>)>>,
    /// The gets waiting for this tick's read transaction.
    gets: TickQueue<Key, Result<Option<Uint8Array>>>,
    stats: Cell<IndexedDbStats>,
    /// The cap's state: `None` for a store that never evicts.
    pub(super) cache: Option<CacheState>,
    stamps: Cell<Stamps>,
    /// Keys a pin in progress is collecting: eviction skips them (see `idb_pin`).
    pub(super) protected: RefCell<HashMap<Key, u32>>,
    /// When the journal is due for indexing (see `idb_journal`).
    pub(super) journal: JournalState,
}

/// Opens casweb's database `name` at [`SCHEMA_VERSION`], creating or upgrading its stores.
pub(super) async fn open_database(name: &str) -> Result<IdbDatabase> {
    let request = factory()?
        .open_with_u32(name, SCHEMA_VERSION)
        .map_err(|e| error_from_js(&e))?;
    let upgrading = request.clone();
    let stamp = js_sys::Date::now();
    let upgrade: UpgradeFn = Box::new(move |db| {
        let transaction = upgrading
            .transaction()
            .ok_or_else(|| JsValue::from_str("upgradeneeded without a transaction"))?;
        idb_lifecycle::upgrade(db, &transaction, stamp)
    });
    Ok(OpenFuture::new(request, Some(upgrade))
        .await?
        .unchecked_into())
}

/// Node storage in one IndexedDB database. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct IndexedDbStorage {
    pub(super) inner: Rc<Inner>,
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

impl IndexedDbStorage {
    /// Opens (creating or upgrading as needed) the database `name`, without a cap.
    ///
    /// Fails with [`Error::Blocked`] if another connection at an older version keeps it open,
    /// [`Error::VersionMismatch`] if it was created by a newer casweb, [`Error::Unavailable`]
    /// where IndexedDB does not exist.
    pub async fn open(name: &str) -> Result<IndexedDbStorage> {
        Self::open_with(name, IndexedDbOptions::default()).await
    }

    /// Opens the database `name` with `options` (a byte cap makes it a cache). Upgrading a
    /// database of an older schema keeps its nodes and builds what the new one adds. The usage
    /// record is checked against the node count; a cache over its cap starts evicting at once.
    pub async fn open_with(name: &str, options: IndexedDbOptions) -> Result<IndexedDbStorage> {
        if name.is_empty() {
            return Err(Error::InvalidArgument(
                "database name must not be empty".into(),
            ));
        }
        if options.max_bytes == Some(0) {
            return Err(Error::InvalidArgument("maxBytes must be at least 1".into()));
        }
        let db = open_database(name).await?;
        let usage = match idb_lifecycle::checked_usage(&db).await {
            Ok(usage) => usage,
            Err(error) => {
                db.close();
                return Err(error);
            }
        };
        let inner = Rc::new(Inner {
            name: name.to_owned(),
            db: Connection::new(db),
            write: RefCell::default(),
            gets: TickQueue::default(),
            stats: Cell::default(),
            cache: options.max_bytes.map(|max| CacheState::new(max, usage)),
            stamps: Cell::default(),
            protected: RefCell::default(),
            journal: JournalState::default(),
        });
        let storage = IndexedDbStorage { inner };
        storage.ensure_eviction();
        Ok(storage)
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
    /// connection stepped aside for another tab (see `Connection`); puts waiting for room fail
    /// with it too. A transaction already issued (a put batch, an eviction batch) still commits.
    pub fn close(&self) {
        self.inner.db.close();
        self.release_on_close();
    }

    /// The connection, or [`Error::Closed`].
    pub(super) fn database(&self) -> Result<IdbDatabase> {
        self.inner.db.database().ok_or(Error::Closed)
    }

    /// Diagnostic counters since the storage was opened.
    pub fn stats(&self) -> IndexedDbStats {
        self.inner.stats.get()
    }

    pub(super) fn update_stats(&self, change: impl FnOnce(&mut IndexedDbStats)) {
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

    /// A stamp for an access now (strictly increasing within this store).
    pub(super) fn stamp(&self) -> f64 {
        let mut stamps = self.inner.stamps.get();
        let stamp = stamps.next(js_sys::Date::now());
        self.inner.stamps.set(stamps);
        stamp
    }

    /// Puts `value` under `key` into this tick's write batch now, opening it (and the task
    /// that closes and commits it) if this is the tick's first put.
    pub(super) fn start_put(&self, key: Key, value: &Uint8Array) -> Result<PutAnswer> {
        let mut write = self.inner.write.borrow_mut();
        if write.is_none() {
            let db = self.database()?;
            let (stores, transaction) = idb_lifecycle::transaction(
                &db,
                &[NODES_STORE, META_STORE, STATE_STORE, JOURNAL_STORE],
                IdbTransactionMode::Readwrite,
            )?;
            let stores: [IdbObjectStore; 4] = stores.try_into().expect("four stores asked");
            self.update_stats(|s| s.write_transactions += 1);
            *write = Some((WriteBatch::new(stores, transaction), Vec::new()));
            spawn_local(self.clone().commit_puts());
        }
        let (batch, replies) = write.as_mut().expect("opened above");
        let added = batch.put(key, value, self.stamp());
        self.issued(added);
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
        let issued = batch.issued();
        if self.take_injected_quota_failure() {
            batch.fail_with_quota();
        }
        let outcome = batch.commit().await;
        if let Ok(committed) = &outcome {
            self.update_stats(|s| {
                s.records_written += committed.written;
                s.puts_skipped += committed.keys - committed.written;
            });
            if committed.journaled {
                self.journaled();
            }
        }
        self.batch_settled(issued, outcome.as_ref().ok().and_then(|c| c.usage));
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
    /// owns), or `None`. Batched with every get of the same tick. In a cache, a hit is noted in
    /// the access log (memory; written later, in the background).
    pub async fn get_array(&self, key: Key) -> Result<Option<Uint8Array>> {
        let (answer, first) = self.inner.gets.join(key);
        if first {
            spawn_local(self.clone().flush_gets());
        }
        let value = answer.await.unwrap_or(Err(Error::Closed))?;
        if value.is_some() {
            self.touch(key);
        }
        Ok(value)
    }

    /// Stores `value` under `key`: the request is issued now, in this tick's write batch
    /// (IndexedDB clones the value before this returns, so the caller may reuse its array); the
    /// future resolves once the batch's transaction committed. In a cache at its cap the put
    /// waits for eviction to make room, from a copy of `value` taken now.
    pub fn put_array(
        &self,
        key: Key,
        value: &Uint8Array,
    ) -> impl std::future::Future<Output = Result<()>> {
        let size = u64::from(value.length());
        let (started, kept) = match verify_put(key, &value.to_vec()) {
            Err(error) => (Some(Err(error)), None),
            Ok(()) if self.admits_now() => (
                Some(self.start_put(key, value)),
                Some(Kept::Callers(value.clone())),
            ),
            Ok(()) => (None, Some(Kept::Copy(value.slice(0, value.length())))),
        };
        let storage = self.clone();
        async move {
            storage
                .finish_put(key, size, started, move || match &kept {
                    // A retry after a quota error: the caller may have changed its array since.
                    Some(Kept::Callers(array)) => {
                        verify_put(key, &array.to_vec())?;
                        Ok(array.clone())
                    }
                    Some(Kept::Copy(array)) => Ok(array.clone()),
                    None => Err(Error::HashMismatch { key }),
                })
                .await
        }
    }
}

/// The array a JS put keeps for a later (or repeated) write.
enum Kept {
    /// The caller's own: written at once, kept (not copied) for a retry after a quota error.
    Callers(Uint8Array),
    /// A copy: the put waits for room, and the caller may reuse its array meanwhile.
    Copy(Uint8Array),
}

impl StorageProvider for IndexedDbStorage {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let value = self.get_array(key).await?;
        Ok(value.map(|array| Bytes::from(array.to_vec())))
    }

    /// `hash_mismatch` (nothing written) unless `bytes` hash to `key`.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        verify_put(key, &bytes)?;
        // The JS copy is dropped once IndexedDB has cloned it, not held until the commit; a
        // put that waits for room, or is retried, makes a new one from `bytes`.
        let started = self
            .admits_now()
            .then(|| self.start_put(key, &Uint8Array::from(&bytes[..])));
        self.finish_put(key, bytes.len() as u64, started, || {
            Ok(Uint8Array::from(&bytes[..]))
        })
        .await
    }
}
