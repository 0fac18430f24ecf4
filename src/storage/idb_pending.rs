//! `IdbPendingStore`: the sync engine's pending nodes in IndexedDB, values only.
//!
//! The engine keeps a node here from its `put` until the server owns it, then deletes it: a
//! short-lived set that is never capped, pinned, evicted or counted, so it writes none of an
//! `IndexedDbStorage`'s meta, journal or usage records (each put is one request, each
//! acknowledged level one delete transaction), and it does not hash the bytes again (the engine
//! validated them). The database has casweb's usual schema, so a pending database written by an
//! earlier casweb version (an `IndexedDbStorage`) resumes as it is; its bookkeeping records, if
//! any, are cleared on open (they would otherwise describe nodes this store deletes without
//! them).
//!
//! As in `IndexedDbStorage`, every put of one tick goes into one `readwrite` transaction and is
//! acknowledged when it commits.

use std::rc::Rc;

use bytes::Bytes;
use js_sys::Uint8Array;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::spawn_local;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransactionMode};

use super::idb_batch::read_all_records;
use super::idb_future::{error_from_js, Connection, TransactionFuture};
use super::idb_lifecycle::{self, JOURNAL_STORE, META_STORE, NODES_STORE, PINS_STORE, STATE_STORE};
use super::indexeddb::open_database;
use super::tick_queue::TickQueue;
use crate::error::{Error, Result};
use crate::key::Key;

/// Pending nodes in the IndexedDB database of that name. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct IdbPendingStore {
    inner: Rc<Inner>,
}

struct Inner {
    db: Connection,
    /// This tick's puts and who waits for their commit.
    puts: TickQueue<(Key, Uint8Array), Result<()>>,
}

impl IdbPendingStore {
    /// Opens (or creates) the pending database `name`.
    pub async fn open(name: &str) -> Result<IdbPendingStore> {
        if name.is_empty() {
            return Err(Error::InvalidArgument(
                "pendingStore must not be an empty database name".into(),
            ));
        }
        let db = open_database(name).await?;
        if let Err(error) = clear_bookkeeping(&db).await {
            db.close();
            return Err(error);
        }
        Ok(IdbPendingStore {
            inner: Rc::new(Inner {
                db: Connection::new(db),
                puts: TickQueue::default(),
            }),
        })
    }

    fn database(&self) -> Result<IdbDatabase> {
        self.inner.db.database().ok_or(Error::Closed)
    }

    /// Every node kept, in key order.
    pub async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        read_all_records(&self.database()?).await
    }

    /// Keeps `bytes` under `key`; resolves when the tick's transaction has committed.
    pub async fn put(&self, key: Key, bytes: &[u8]) -> Result<()> {
        let (answer, first) = self.inner.puts.join((key, Uint8Array::from(bytes)));
        if first {
            spawn_local(self.clone().write_puts());
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Writes the tick's puts in one transaction and answers each once it has committed.
    async fn write_puts(self) {
        let puts = self.inner.puts.take();
        let outcome = match self.database() {
            Ok(db) => write(&db, puts.iter().map(|((key, value), _)| (*key, value))).await,
            Err(error) => Err(error),
        };
        for (_, reply) in puts {
            let _ = reply.send(outcome.clone());
        }
    }

    /// Deletes `keys` (missing ones are ignored) in one transaction.
    pub async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        in_nodes_transaction(&self.database()?, |store| {
            keys.iter()
                .map(|key| store.delete(&JsValue::from(key.to_string())))
                .collect()
        })
        .await
    }

    /// Closes the connection; later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.db.close();
    }
}

/// Puts `records` into the `nodes` store in one transaction and waits for its commit.
async fn write<'a>(
    db: &IdbDatabase,
    records: impl Iterator<Item = (Key, &'a Uint8Array)>,
) -> Result<()> {
    in_nodes_transaction(db, |store| {
        records
            .map(|(key, value)| store.put_with_key(value, &JsValue::from(key.to_string())))
            .collect()
    })
    .await
}

/// Issues `requests` in a `readwrite` transaction over the `nodes` store and waits for its
/// commit; if issuing one throws, the transaction is aborted (nothing of it is kept).
async fn in_nodes_transaction(
    db: &IdbDatabase,
    requests: impl FnOnce(&IdbObjectStore) -> std::result::Result<Vec<IdbRequest>, JsValue>,
) -> Result<()> {
    let (stores, transaction) =
        idb_lifecycle::transaction(db, &[NODES_STORE], IdbTransactionMode::Readwrite)?;
    let done = TransactionFuture::new(transaction.clone());
    if let Err(error) = requests(&stores[0]) {
        let _ = transaction.abort();
        return Err(error_from_js(&error));
    }
    done.await
}

/// Clears the records only an `IndexedDbStorage` keeps (meta, journal, pins, usage), if an
/// earlier casweb version left any: nothing here maintains them.
async fn clear_bookkeeping(db: &IdbDatabase) -> Result<()> {
    let names = [META_STORE, JOURNAL_STORE, PINS_STORE, STATE_STORE];
    let (stores, transaction) =
        idb_lifecycle::transaction(db, &names, IdbTransactionMode::Readwrite)?;
    let done = TransactionFuture::new(transaction);
    for store in &stores {
        store.clear().map_err(|e| error_from_js(&e))?;
    }
    done.await
}
