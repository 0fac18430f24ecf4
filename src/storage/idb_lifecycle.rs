//! The schema of casweb's database and the lifecycle transactions over it, one function per
//! transaction (each issued by a helper in [`idb_batch`](super::idb_batch) and awaited here).
//!
//! Stores (schema version 2):
//!
//! | store | key | value |
//! |---|---|---|
//! | `nodes` | key text | the node's bytes (`Uint8Array`) |
//! | `meta` | key text | `{ s: size, t: last access stamp, p: pin count, e: t while p is 0 }`; index `lru` on `e` |
//! | `pins` | root key text | `{ keys: [every key of the DAG, once], bytes, nodes, at }` |
//! | `journal` | auto-increment | `[key, size, stamp, ...]`: one write batch's nodes without meta records |
//! | `state` | `"usage"` | `{ bytes, nodes, pinnedBytes }` of the nodes with meta records, `{ journalBytes, journalNodes }` of the journal |
//!
//! Every transaction that adds or removes a node changes its meta record (or journal entry)
//! and the usage record with it, so they never disagree: a page that dies mid-update loses the
//! whole transaction, not half of it. A write batch of small values journals them (one request
//! per batch instead of one per node); the journal is indexed into meta records when puts
//! pause ([`index_journal`]) and first thing in every transaction that deletes, evicts, pins,
//! counts or writes access times, so a node is never deleted before its meta record exists. The `lru` index holds only nodes without pins (IndexedDB leaves
//! a record out of an index when the indexed field is absent), so eviction, whichever tab runs
//! it, reaches nothing pinned. Upgrading a version-1 database (nodes only) keeps its nodes and
//! builds their meta records and usage in the upgrade transaction.

use std::collections::HashSet;

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{IdbDatabase, IdbObjectStore, IdbTransaction, IdbTransactionMode};

use super::eviction::{Usage, ACCESS_RESOLUTION_MS};
use super::idb_batch::{self, new_outcome, usage_from_js, Outcome};
use super::idb_future::{error_from_js, RequestFuture, TransactionFuture};
use crate::error::{Error, Result};
use crate::key::Key;

/// Schema version of casweb's database. Bump it (and extend `upgradeSchema` in `idb_batch.rs`)
/// to add stores.
pub const SCHEMA_VERSION: u32 = 3;
/// The object store holding node bytes, keyed by the key's text form.
pub const NODES_STORE: &str = "nodes";
/// Per node: size, last access, pin count (and the `lru` index over evictable nodes).
pub const META_STORE: &str = "meta";
/// Pinned roots and the keys of their DAGs.
pub const PINS_STORE: &str = "pins";
/// The usage record.
pub const STATE_STORE: &str = "state";
/// Write batches' nodes waiting for their meta records.
pub const JOURNAL_STORE: &str = "journal";
const USAGE_KEY: &str = "usage";

/// Creates what the database lacks, inside `upgradeneeded`.
pub fn upgrade(
    db: &IdbDatabase,
    transaction: &IdbTransaction,
    stamp: f64,
) -> std::result::Result<(), JsValue> {
    idb_batch::upgrade_schema(db, transaction, stamp)
}

/// A transaction over `names` and its stores, in that order.
pub fn transaction(
    db: &IdbDatabase,
    names: &[&str],
    mode: IdbTransactionMode,
) -> Result<(Vec<IdbObjectStore>, IdbTransaction)> {
    let scope: Array = names.iter().map(|name| JsValue::from(*name)).collect();
    let transaction = db
        .transaction_with_str_sequence_and_mode(&scope, mode)
        .map_err(|e| error_from_js(&e))?;
    let stores = names
        .iter()
        .map(|name| transaction.object_store(name))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| error_from_js(&e))?;
    Ok((stores, transaction))
}

/// A `readwrite` transaction over `names` for one lifecycle helper: its stores (in that order),
/// the future of its commit, and the outcome object the helper fills.
fn lifecycle_transaction(
    db: &IdbDatabase,
    names: &[&str],
) -> Result<(Vec<IdbObjectStore>, TransactionFuture, Outcome)> {
    let (stores, transaction) = transaction(db, names, IdbTransactionMode::Readwrite)?;
    Ok((stores, TransactionFuture::new(transaction), new_outcome()))
}

fn key_array(keys: &[Key]) -> Array {
    keys.iter().map(|k| JsValue::from(k.to_string())).collect()
}

/// Indexes the journal (a meta record for each node written without one) and returns the
/// exact usage: one small transaction when the journal is empty, never a scan.
pub async fn index_journal(db: &IdbDatabase) -> Result<Usage> {
    Ok(index_journal_records(db, 0).await?.0)
}

/// Indexes at most `limit` journal records (0: all of them): the usage after (exact once the
/// journal is empty), and whether records may be left.
pub async fn index_journal_records(db: &IdbDatabase, limit: u32) -> Result<(Usage, bool)> {
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[META_STORE, STATE_STORE, JOURNAL_STORE])?;
    idb_batch::index_journal_now(&stores[0], &stores[1], &stores[2], limit, &outcome);
    outcome.settle(done).await?;
    Ok((outcome.usage().unwrap_or_default(), outcome.flag("more")))
}

/// The usage record, checked at open against the number of meta records (counted from the
/// index of keys, no value read) and recounted from the meta records if they disagree or it is
/// missing. Every change updates both in one transaction, so this only repairs a database that
/// was changed outside casweb.
pub async fn checked_usage(db: &IdbDatabase) -> Result<Usage> {
    let (stores, _) = transaction(db, &[META_STORE, STATE_STORE], IdbTransactionMode::Readonly)?;
    let count = stores[0].count().map_err(|e| error_from_js(&e))?;
    let record = stores[1]
        .get(&USAGE_KEY.into())
        .map_err(|e| error_from_js(&e))?;
    let (count, record) =
        futures::future::join(RequestFuture::new(count), RequestFuture::new(record)).await;
    let count = count?.as_f64().unwrap_or(0.0) as u64;
    let record = record?;
    // Meta records count the exact part only; the journal's entries have none yet.
    let indexed = js_sys::Reflect::get(&record, &"nodes".into())
        .ok()
        .and_then(|nodes| nodes.as_f64());
    match usage_from_js(&record) {
        Some(usage) if indexed == Some(count as f64) => Ok(usage),
        _ => rebuild_usage(db).await,
    }
}

/// Indexes the journal, then recounts the usage record from every meta record.
pub async fn rebuild_usage(db: &IdbDatabase) -> Result<Usage> {
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[META_STORE, STATE_STORE, JOURNAL_STORE])?;
    idb_batch::rebuild_usage(&stores[0], &stores[1], &stores[2], &outcome);
    outcome.settle(done).await?;
    Ok(outcome.usage().unwrap_or_default())
}

/// One eviction batch: deletes the least recently used unpinned nodes, except `skip`, while the
/// stored bytes are above `target`, at most `max_nodes`. Returns the usage left and how many
/// nodes went.
pub async fn evict(
    db: &IdbDatabase,
    target: u64,
    max_nodes: u32,
    skip: &[Key],
) -> Result<(Usage, u32)> {
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[NODES_STORE, META_STORE, STATE_STORE, JOURNAL_STORE])?;
    idb_batch::evict_batch(
        &stores[0],
        &stores[1],
        &stores[2],
        &stores[3],
        target as f64,
        max_nodes,
        key_array(skip),
        &outcome,
    );
    outcome.settle(done).await?;
    Ok((
        outcome.usage().unwrap_or_default(),
        outcome.number("evicted") as u32,
    ))
}

/// Writes the access stamps of `accesses` (nodes since deleted are skipped; a stamp is written
/// only if it moved by [`ACCESS_RESOLUTION_MS`]). Returns how many records were rewritten.
pub async fn write_accesses(db: &IdbDatabase, accesses: &[(Key, f64)]) -> Result<u32> {
    if accesses.is_empty() {
        return Ok(0);
    }
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[META_STORE, STATE_STORE, JOURNAL_STORE])?;
    let keys: Vec<Key> = accesses.iter().map(|(key, _)| *key).collect();
    let stamps: Vec<f64> = accesses.iter().map(|(_, stamp)| *stamp).collect();
    idb_batch::touch_records(
        &stores[0],
        &stores[1],
        &stores[2],
        key_array(&keys),
        &stamps,
        ACCESS_RESOLUTION_MS,
        &outcome,
    );
    outcome.settle(done).await?;
    Ok(outcome.number("written") as u32)
}

/// What the pin transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinOutcome {
    /// Every node now carries the pin.
    Pinned {
        bytes: u64,
        nodes: u64,
        usage: Usage,
    },
    /// The root was pinned already (by this or another tab): nothing changed.
    Already { bytes: u64, nodes: u64 },
    /// These nodes are not stored (evicted since they were read): nothing changed.
    Missing(Vec<Key>),
    /// The pinned bytes would reach `needed`, over the cap: nothing changed.
    OverCap { needed: u64 },
}

/// Pins `root` over `keys` (its DAG, every key once, root first), all or nothing, checking
/// inside the transaction that every node is stored and that the pinned bytes stay within
/// `max_pinned`.
pub async fn pin(
    db: &IdbDatabase,
    root: Key,
    keys: &[Key],
    max_pinned: u64,
    stamp: f64,
) -> Result<PinOutcome> {
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[META_STORE, STATE_STORE, PINS_STORE, JOURNAL_STORE])?;
    let max_pinned = if max_pinned == u64::MAX {
        f64::INFINITY
    } else {
        max_pinned as f64
    };
    idb_batch::pin_root(
        &stores[0],
        &stores[1],
        &stores[2],
        &stores[3],
        &root.to_string(),
        key_array(keys),
        max_pinned,
        stamp,
        &outcome,
    );
    outcome.settle(done).await?;
    let (bytes, nodes) = (
        outcome.number("bytes") as u64,
        outcome.number("nodes") as u64,
    );
    if outcome.flag("already") {
        return Ok(PinOutcome::Already { bytes, nodes });
    }
    let missing = outcome.keys("missing")?;
    if !missing.is_empty() {
        return Ok(PinOutcome::Missing(missing));
    }
    if let Some(usage) = outcome.usage() {
        return Ok(PinOutcome::Pinned {
            bytes,
            nodes,
            usage,
        });
    }
    Ok(PinOutcome::OverCap {
        needed: outcome.number("needed") as u64,
    })
}

/// Unpins `root`: the usage after, or `None` if it was not pinned.
pub async fn unpin(db: &IdbDatabase, root: Key) -> Result<Option<Usage>> {
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[META_STORE, STATE_STORE, PINS_STORE])?;
    idb_batch::unpin_root(
        &stores[0],
        &stores[1],
        &stores[2],
        &root.to_string(),
        &outcome,
    );
    outcome.settle(done).await?;
    Ok(outcome
        .flag("found")
        .then(|| outcome.usage().unwrap_or_default()))
}

/// A pinned DAG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinInfo {
    /// Its root.
    pub root: Key,
    /// Bytes of its distinct nodes.
    pub bytes: u64,
    /// Its distinct nodes.
    pub nodes: u64,
}

/// Every pinned root, in key order.
pub async fn pins(db: &IdbDatabase) -> Result<Vec<PinInfo>> {
    let (stores, _) = transaction(db, &[PINS_STORE], IdbTransactionMode::Readonly)?;
    let keys = stores[0].get_all_keys().map_err(|e| error_from_js(&e))?;
    let values = stores[0].get_all().map_err(|e| error_from_js(&e))?;
    let (keys, values) =
        futures::future::join(RequestFuture::new(keys), RequestFuture::new(values)).await;
    let (keys, values): (Array, Array) = (keys?.unchecked_into(), values?.unchecked_into());
    keys.iter()
        .zip(values.iter())
        .map(|(root, record)| {
            let number = |name: &str| {
                js_sys::Reflect::get(&record, &name.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0) as u64
            };
            Ok(PinInfo {
                root: Key::parse(&root.as_string().unwrap_or_default())?,
                bytes: number("bytes"),
                nodes: number("nodes"),
            })
        })
        .collect()
}

/// Deletes `keys`, all or nothing: [`Error::Pinned`] (nothing deleted) if one is pinned.
/// Returns how many were stored, and the usage after.
pub async fn delete(db: &IdbDatabase, keys: &[Key]) -> Result<(u32, Usage)> {
    let mut seen = HashSet::new();
    let distinct: Vec<Key> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    let (stores, done, outcome) =
        lifecycle_transaction(db, &[NODES_STORE, META_STORE, STATE_STORE, JOURNAL_STORE])?;
    idb_batch::delete_records(
        &stores[0],
        &stores[1],
        &stores[2],
        &stores[3],
        key_array(&distinct),
        &outcome,
    );
    outcome.settle(done).await?;
    if let Some(key) = outcome.keys("pinned")?.first() {
        return Err(Error::Pinned { key: *key });
    }
    Ok((
        outcome.number("deleted") as u32,
        outcome.usage().unwrap_or_default(),
    ))
}

/// Deletes every node, pin, meta record and journal entry; the usage becomes zero.
pub async fn clear(db: &IdbDatabase) -> Result<()> {
    let (stores, transaction) = transaction(
        db,
        &[
            NODES_STORE,
            META_STORE,
            PINS_STORE,
            JOURNAL_STORE,
            STATE_STORE,
        ],
        IdbTransactionMode::Readwrite,
    )?;
    let done = TransactionFuture::new(transaction);
    let issue = || -> std::result::Result<(), JsValue> {
        for store in &stores[..4] {
            store.clear()?;
        }
        let zero = serde_wasm_bindgen::to_value(&Usage::default())?;
        stores[4].put_with_key(&zero, &USAGE_KEY.into())?;
        Ok(())
    };
    issue().map_err(|e| error_from_js(&e))?;
    done.await
}

/// Up to `limit` stored keys after `after` (from the first if `None`), in key order.
pub async fn key_page(db: &IdbDatabase, after: Option<Key>, limit: u32) -> Result<Vec<Key>> {
    let (stores, _) = transaction(db, &[NODES_STORE], IdbTransactionMode::Readonly)?;
    let after = after.map_or(JsValue::UNDEFINED, |key| key.to_string().into());
    let request = idb_batch::key_page(&stores[0], &after, limit).map_err(|e| error_from_js(&e))?;
    let keys: Array = RequestFuture::new(request).await?.unchecked_into();
    keys.iter()
        .map(|key| Ok(Key::parse(&key.as_string().unwrap_or_default())?))
        .collect()
}

/// What a full scan found: the usage recomputed from every stored value (and the pins from the
/// meta records), and what the meta records add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// From the values themselves.
    pub usage: Usage,
    /// Number of meta records.
    pub meta_nodes: u64,
    /// Sizes the meta records hold, added up.
    pub meta_bytes: u64,
}

/// Reads every stored value and meta record (diagnostics and tests: it is O(bytes stored)).
pub async fn scan(db: &IdbDatabase) -> Result<Scan> {
    let (stores, transaction) =
        transaction(db, &[NODES_STORE, META_STORE], IdbTransactionMode::Readonly)?;
    let done = TransactionFuture::new(transaction);
    let outcome: Outcome = new_outcome();
    idb_batch::scan_stores(&stores[0], &stores[1], &outcome);
    outcome.settle(done).await?;
    let number = |name: &str| outcome.number(name) as u64;
    Ok(Scan {
        usage: Usage {
            bytes: number("bytes"),
            nodes: number("nodes"),
            pinned_bytes: number("pinnedBytes"),
        },
        meta_nodes: number("metaNodes"),
        meta_bytes: number("metaBytes"),
    })
}
