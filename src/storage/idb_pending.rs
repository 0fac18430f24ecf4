//! `IdbPendingStore`: the sync engine's pending nodes in IndexedDB, one record per tick of puts.
//!
//! The engine keeps a node here from its `put` until the server owns it: a short-lived set that
//! is never capped, pinned, evicted or counted, so it keeps none of an `IndexedDbStorage`'s
//! meta, journal or usage records. Every put of one tick becomes one record: the nodes framed as
//! a batch body (`[u32 LE length][bytes]`, as uploads are) under a random number, written in
//! one transaction and acknowledged when it commits. 10,000 puts are a few records instead of
//! 10,000 (and as many deletes); the bytes cross from wasm to JS once per record. A record is
//! deleted when none of its nodes is pending any more ([`PendingRecords`]); until then it also
//! holds its synced nodes, which a reload finds again and the engine's first check skips. A
//! discarded node must not come back: its record is rewritten without it.
//!
//! The database has casweb's usual schema, so a pending database written by an earlier casweb
//! version (an `IndexedDbStorage`: one record per node, under its key) resumes as it is; its
//! bookkeeping records, if any, are cleared on open (nothing here maintains them). The engine
//! validates every node (hash, decoding) at `put` and on resume, so nothing is hashed here.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransactionMode};

use super::idb_batch::record_array;
use super::idb_future::{error_from_js, Connection, RequestFuture, TransactionFuture};
use super::idb_lifecycle::{self, JOURNAL_STORE, META_STORE, NODES_STORE, PINS_STORE, STATE_STORE};
use super::indexeddb::open_database;
use super::pending_records::{PendingRecords, RecordId};
use super::tick_queue::TickQueue;
use crate::batch;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::log::warn;

/// Pending nodes in the IndexedDB database of that name. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct IdbPendingStore {
    inner: Rc<Inner>,
}

struct Inner {
    db: Connection,
    /// This tick's puts and who waits for their commit.
    puts: TickQueue<(Key, Bytes), Result<()>>,
    records: RefCell<PendingRecords>,
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
                records: RefCell::default(),
            }),
        })
    }

    fn database(&self) -> Result<IdbDatabase> {
        self.inner.db.database().ok_or(Error::Closed)
    }

    /// Every node kept, record by record. A record that cannot be read as nodes is reported
    /// (`console.warn`) and left in place, never deleted.
    pub async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        let db = self.database()?;
        let (stores, _transaction) =
            idb_lifecycle::transaction(&db, &[NODES_STORE], IdbTransactionMode::Readonly)?;
        let ids = stores[0].get_all_keys().map_err(|e| error_from_js(&e))?;
        let values = stores[0].get_all().map_err(|e| error_from_js(&e))?;
        let (ids, values) =
            futures::future::join(RequestFuture::new(ids), RequestFuture::new(values)).await;
        let (ids, values): (Array, Array) = (ids?.unchecked_into(), values?.unchecked_into());
        let mut entries = Vec::new();
        let mut records = self.inner.records.borrow_mut();
        for (id, value) in ids.iter().zip(values.iter()) {
            match read_record(&id, value) {
                Ok((record, nodes)) => {
                    records.add(record, nodes.iter().map(|(key, _)| *key));
                    entries.extend(nodes);
                }
                Err(error) => warn(&format!(
                    "casweb: a pending-store record ({id:?}) cannot be read and stays: {error}"
                )),
            }
        }
        Ok(entries)
    }

    /// Keeps `bytes` under `key`; resolves when the tick's record has been written.
    pub async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        let (answer, first) = self.inner.puts.join((key, bytes));
        if first {
            spawn_local(self.clone().write_puts());
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Writes the tick's puts as one record and answers each once it has committed.
    async fn write_puts(self) {
        let puts = self.inner.puts.take();
        let id = random_record_number();
        let body = batch::encode(puts.iter().map(|((_, bytes), _)| &bytes[..]));
        let value = Uint8Array::from(&body[..]);
        drop(body);
        let outcome = match self.database() {
            Ok(db) => {
                in_nodes_transaction(&db, |store| {
                    // `add`: a record number already taken fails rather than replaces it.
                    Ok(vec![store.add_with_key(&value, &JsValue::from(id as f64))?])
                })
                .await
            }
            Err(error) => Err(error),
        };
        let emptied = match &outcome {
            Ok(()) => self
                .inner
                .records
                .borrow_mut()
                .add(RecordId::Batch(id), puts.iter().map(|((key, _), _)| *key)),
            Err(_) => Vec::new(),
        };
        for (_, reply) in puts {
            let _ = reply.send(outcome.clone());
        }
        self.delete_records(&emptied).await;
    }

    /// Forgets `keys` (unknown ones are ignored): records left without pending nodes are
    /// deleted, in one transaction.
    pub async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        let emptied = self.inner.records.borrow_mut().release(keys);
        if emptied.is_empty() {
            return Ok(());
        }
        in_nodes_transaction(&self.database()?, |store| {
            emptied
                .iter()
                .map(|record| store.delete(&record_key(record)))
                .collect()
        })
        .await
    }

    /// Removes `key` for good: its record is deleted, or rewritten without it if other pending
    /// nodes share it.
    pub async fn discard(&self, key: Key) -> Result<()> {
        let Some((record, shared)) = self.inner.records.borrow().record_of(&key) else {
            return Ok(());
        };
        if !shared {
            return self.delete_many(&[key]).await;
        }
        let (stores, transaction) = idb_lifecycle::transaction(
            &self.database()?,
            &[NODES_STORE],
            IdbTransactionMode::Readwrite,
        )?;
        let done = TransactionFuture::new(transaction);
        let id = record_key(&record);
        let read = stores[0].get(&id).map_err(|e| error_from_js(&e))?;
        let value = RequestFuture::new(read).await?;
        let (_, nodes) = read_record(&id, value)?;
        let kept = batch::encode(
            nodes
                .iter()
                .filter(|(node, _)| *node != key)
                .map(|(_, bytes)| &bytes[..]),
        );
        stores[0]
            .put_with_key(&Uint8Array::from(&kept[..]), &id)
            .map_err(|e| error_from_js(&e))?;
        done.await?;
        self.inner.records.borrow_mut().release(&[key]);
        Ok(())
    }

    /// Deletes whole records, reporting (not returning) a failure: they hold no pending node.
    async fn delete_records(&self, records: &[RecordId]) {
        if records.is_empty() {
            return;
        }
        let outcome = match self.database() {
            Ok(db) => {
                in_nodes_transaction(&db, |store| {
                    records
                        .iter()
                        .map(|r| store.delete(&record_key(r)))
                        .collect()
                })
                .await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            warn(&format!(
                "casweb: deleting synced pending-store records failed: {error}"
            ));
        }
    }

    /// Closes the connection; later calls fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.db.close();
    }
}

/// A fresh batch record number: random below 2^53 (a JS number holds it exactly), so tabs
/// writing to one pending store at once do not pick the same.
fn random_record_number() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

/// The IndexedDB key of a record.
fn record_key(record: &RecordId) -> JsValue {
    match record {
        RecordId::Node(key) => JsValue::from(key.to_string()),
        RecordId::Batch(number) => JsValue::from(*number as f64),
    }
}

/// A record's id and nodes: a number is a batch record, a string one node under its key.
fn read_record(id: &JsValue, value: JsValue) -> Result<(RecordId, Vec<(Key, Bytes)>)> {
    if let Some(text) = id.as_string() {
        let key = Key::parse(&text)?;
        let bytes = Bytes::from(record_array(key, value)?.to_vec());
        return Ok((RecordId::Node(key), vec![(key, bytes)]));
    }
    let number = id
        .as_f64()
        .ok_or_else(|| corrupt("a record key is neither text nor a number"))?;
    let body = value
        .dyn_into::<Uint8Array>()
        .map_err(|_| corrupt("a batch record is not a Uint8Array"))?
        .to_vec();
    let frames = batch::parse(&body, usize::MAX).map_err(|e| corrupt(&e.to_string()))?;
    let nodes = frames
        .into_iter()
        .map(|node| (Key::for_bytes(node), Bytes::copy_from_slice(node)))
        .collect();
    Ok((RecordId::Batch(number as u64), nodes))
}

fn corrupt(what: &str) -> Error {
    Error::IndexedDb {
        name: "DataError".into(),
        message: format!("pending store: {what}"),
    }
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
