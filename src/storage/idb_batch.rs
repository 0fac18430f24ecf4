//! The requests of IndexedDbStorage's transactions, issued by small JS helpers: one crossing
//! per put (the request itself), per batch of gets, or per lifecycle transaction, not two
//! closures and a future per key. (They live in this one snippet on purpose: every snippet is
//! one more module a page fetches.)
//!
//! `IndexedDbStorage` serves all the calls of one tick with one transaction per direction.
//! Puts go straight into the tick's `readwrite` transaction as they are called, like a plain-JS
//! loop (IndexedDB clones the value at once, so the caller may reuse its array); their
//! acknowledgement is the transaction's `complete` event. A small value is one request, its
//! write: its key and size go into the batch's one journal record (the batch's last request),
//! and the usage record counts them as journaled. Later, when puts pause, or first thing in any
//! transaction that deletes or pins, the journal is indexed: each entry becomes the node's meta
//! record (size, access stamp), IndexedDB's `add` refusing a key already stored, which tells a
//! new node from a re-put without a lookup. Values of at least [`CHECK_BEFORE_WRITE_BYTES`] get
//! their meta record at once and are written only if that add succeeds. Gets resolve to one
//! array of results. The lifecycle helpers (eviction, access
//! times, pins, deletes, recounts) each fill an outcome object read once their transaction has
//! settled; see `idb_lifecycle.rs` for the records.

use std::collections::HashSet;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbObjectStore, IdbRequest, IdbTransaction};

use super::eviction::Usage;
use super::idb_future::{error_from_js, TransactionFuture};
use crate::error::{Error, Result};
use crate::key::Key;

/// Values at least this large are written only if their key is missing (their meta record's
/// `add` succeeded). Measured in headless Chromium (fresh keys vs re-puts, same page), when
/// the check was a `getKey` lookup: at 64 KiB it cost about 3-20 % on a fresh put and saved
/// 25-50 % on a re-put; at 4-16 KiB it cost 40-100 % on a fresh put, about as much as
/// rewriting the value, so small values are written directly.
pub const CHECK_BEFORE_WRITE_BYTES: u32 = 64 * 1024;

#[wasm_bindgen(inline_js = r#"
// Records of the lifecycle stores (src/storage/idb_lifecycle.rs). meta: { s: size in bytes,
// t: last access stamp (ms), p: pin count, e: t while p is 0 }; its "lru" index on e holds
// exactly the evictable nodes, oldest access first. journal (auto-increment keys): [key, size,
// stamp, key, size, stamp, ...], the nodes a write batch wrote without meta records (a record
// per JOURNAL_RECORD_NODES of them). state: "usage" -> { bytes, nodes, pinnedBytes } of the nodes with meta records, plus
// { journalBytes, journalNodes } of the journal's entries (an upper bound: an entry may be a
// re-put), updated in the transaction that changes what it counts.
const USAGE = "usage";
const LRU = "lru";
const JOURNAL = "journal";
/** Entries per journal record: the background indexes one record per transaction, so a
 *  connection closing waits for at most this many meta records. */
const JOURNAL_RECORD_NODES = 1000;
const zeroUsage = () => ({ bytes: 0, nodes: 0, pinnedBytes: 0, journalBytes: 0, journalNodes: 0 });
const readUsage = (request) => ({ ...zeroUsage(), ...request.result });

function fail(tx, outcome, error) {
  if (outcome.error === undefined) outcome.error = error;
  try { tx.abort(); } catch { /* already finished */ }
}

/** `fn` as an event handler: a throw aborts the transaction, its error kept in `outcome`. */
function guarded(tx, outcome, fn) {
  return (event) => {
    try { fn(event); } catch (error) { fail(tx, outcome, error); }
  };
}

export function newPutOutcome() {
  return { written: 0, bytes: 0, nodes: 0, journal: [], journalBytes: 0, error: undefined, usage: undefined };
}

export function newOutcome() {
  return { error: undefined };
}

export function putRecord(nodes, meta, key, value, stamp, checkFromBytes, outcome) {
  const tx = nodes.transaction;
  try {
    const size = value.byteLength;
    if (size < checkFromBytes) {
      nodes.put(value, key);
      outcome.written++;
      outcome.journal.push(key, size, stamp);
      outcome.journalBytes += size;
      return;
    }
    // add refuses a key already stored: that answers "is it new?" with the write itself.
    const added = meta.add({ s: size, t: stamp, p: 0, e: stamp }, key);
    added.onerror = (event) => {
      if (added.error?.name !== "ConstraintError") return; // aborts the transaction
      event.preventDefault(); // stored already: nothing to count, the transaction goes on
      event.stopPropagation();
    };
    // The value is cloned now: the caller may reuse its array before the add answers.
    const copy = value.slice();
    added.onsuccess = guarded(tx, outcome, () => {
      nodes.put(copy, key);
      outcome.written++;
      outcome.bytes += size;
      outcome.nodes++;
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** Placed after the batch's puts: writes its journal record, and answers after all their adds,
 *  so the counts are final. */
export function closePuts(state, journal, outcome) {
  const tx = state.transaction;
  try {
    const journaled = outcome.journal.length / 3;
    for (let at = 0; at < outcome.journal.length; at += 3 * JOURNAL_RECORD_NODES) {
      journal.add(outcome.journal.slice(at, at + 3 * JOURNAL_RECORD_NODES));
    }
    const read = state.get(USAGE);
    read.onsuccess = guarded(tx, outcome, () => {
      const usage = readUsage(read);
      usage.bytes += outcome.bytes;
      usage.nodes += outcome.nodes;
      usage.journalBytes += outcome.journalBytes;
      usage.journalNodes += journaled;
      if (outcome.nodes > 0 || journaled > 0) state.put(usage, USAGE);
      outcome.usage = usage;
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** Indexes the journal inside `tx` (over meta, state and journal): a meta record for each entry
 *  not stored with one yet, the usage moved from its journal part to its exact part; then calls
 *  `next(usage, more)` in the same transaction (so nothing can delete a journaled node before
 *  its meta record exists, and what `next` reads is indexed). `limit`: at most that many journal
 *  records (`more`: some may be left), undefined for all of them. */
function indexJournal(tx, meta, state, journal, limit, outcome, next) {
  const usageRead = state.get(USAGE);
  const keys = journal.getAllKeys(null, limit);
  const records = journal.getAll(null, limit);
  records.onsuccess = guarded(tx, outcome, () => {
    const usage = readUsage(usageRead);
    const entries = records.result;
    const more = limit !== undefined && entries.length === limit;
    let waiting = 0;
    let indexedBytes = 0;
    let indexedNodes = 0;
    const finish = () => {
      if (entries.length > 0) {
        usage.journalBytes = more ? Math.max(0, usage.journalBytes - indexedBytes) : 0;
        usage.journalNodes = more ? Math.max(0, usage.journalNodes - indexedNodes) : 0;
        journal.delete(IDBKeyRange.bound(keys.result[0], keys.result[keys.result.length - 1]));
        state.put(usage, USAGE);
      }
      next(usage, more);
    };
    for (const entry of entries) {
      for (let i = 0; i < entry.length; i += 3) {
        const size = entry[i + 1];
        const t = entry[i + 2];
        waiting++;
        indexedBytes += size;
        indexedNodes += 1;
        const added = meta.add({ s: size, t, p: 0, e: t }, entry[i]);
        added.onsuccess = guarded(tx, outcome, () => {
          usage.bytes += size;
          usage.nodes += 1;
          if (--waiting === 0) finish();
        });
        added.onerror = (event) => {
          if (added.error?.name !== "ConstraintError") return; // aborts the transaction
          event.preventDefault(); // a re-put of a node indexed already: nothing to count
          event.stopPropagation();
          guarded(tx, outcome, () => { if (--waiting === 0) finish(); })();
        };
      }
    }
    if (waiting === 0) finish();
  });
}

/** Indexes up to `limit` journal records (0: all); the usage after in `outcome.usage`, and
 *  whether records may be left in `outcome.more`. */
export function indexJournalNow(meta, state, journal, limit, outcome) {
  const tx = meta.transaction;
  try {
    indexJournal(tx, meta, state, journal, limit > 0 ? limit : undefined, outcome, (usage, more) => {
      outcome.usage = usage;
      outcome.more = more;
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

export function getRecords(store, keys) {
  return new Promise((resolve, reject) => {
    const values = new Array(keys.length);
    let waiting = keys.length;
    if (waiting === 0) resolve(values);
    try {
      for (let i = 0; i < keys.length; i++) {
        const request = store.get(keys[i]);
        request.onsuccess = () => {
          values[i] = request.result;
          if (--waiting === 0) resolve(values);
        };
        request.onerror = () => reject(request.error);
      }
    } catch (error) {
      reject(error);
    }
  });
}

/** Deletes the least recently used unpinned nodes (skipping `skip`) while the stored bytes are
 *  above `target`, at most `maxNodes`. The candidates come in two bulk reads of the `lru` index
 *  (keys, then records, in the same order), not a cursor step per node. */
export function evictBatch(nodes, meta, state, journal, target, maxNodes, skip, outcome) {
  const tx = meta.transaction;
  outcome.evicted = 0;
  try {
    const protectedKeys = new Set(skip);
    indexJournal(tx, meta, state, journal, undefined, outcome, (usage) => {
      outcome.usage = usage;
      if (usage.bytes <= target) return;
      const lru = meta.index(LRU);
      const wanted = maxNodes + protectedKeys.size;
      const keys = lru.getAllKeys(null, wanted);
      const records = lru.getAll(null, wanted);
      records.onsuccess = guarded(tx, outcome, () => {
        for (let i = 0; i < keys.result.length; i++) {
          if (usage.bytes <= target || outcome.evicted >= maxNodes) break;
          const key = keys.result[i];
          if (protectedKeys.has(key)) continue;
          nodes.delete(key);
          meta.delete(key);
          usage.bytes -= records.result[i].s;
          usage.nodes -= 1;
          outcome.evicted += 1;
        }
        if (outcome.evicted > 0) state.put(usage, USAGE);
      });
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** Writes access times (once the journal is indexed): a record's t moves only if the new stamp
 *  is `resolution` ms later. */
export function touchRecords(meta, state, journal, keys, stamps, resolution, outcome) {
  const tx = meta.transaction;
  outcome.written = 0;
  try {
    indexJournal(tx, meta, state, journal, undefined, outcome, () => keys.forEach((key, i) => {
      const read = meta.get(key);
      read.onsuccess = guarded(tx, outcome, () => {
        const record = read.result;
        if (record === undefined || stamps[i] - record.t < resolution) return;
        record.t = stamps[i];
        if (record.p === 0) record.e = record.t;
        meta.put(record, key);
        outcome.written++;
      });
    }));
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** Pins the DAG `keys` (root first, each key once) under `root`, all or nothing: nothing is
 *  written if the root is pinned already (already), a node is missing (missing), or the pinned
 *  bytes would exceed `maxPinned` (needed). */
export function pinRoot(meta, state, pins, journal, root, keys, maxPinned, stamp, outcome) {
  const tx = meta.transaction;
  Object.assign(outcome, { already: false, missing: [], needed: 0, bytes: 0, nodes: keys.length });
  try {
    indexJournal(tx, meta, state, journal, undefined, outcome, (usage) => pinIndexed(tx, meta, state, pins, root, keys,
      maxPinned, stamp, usage, outcome));
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** pinRoot's work once the journal is indexed (runs inside a guarded handler). */
function pinIndexed(tx, meta, state, pins, root, keys, maxPinned, stamp, usage, outcome) {
  const existing = pins.get(root);
  const records = new Array(keys.length);
  let waiting = keys.length;
  const finish = () => {
    if (existing.result !== undefined) {
      outcome.already = true;
      outcome.bytes = existing.result.bytes;
      outcome.nodes = existing.result.nodes;
      return;
    }
    if (outcome.missing.length > 0) return;
    let newlyPinned = 0;
    for (const record of records) {
      outcome.bytes += record.s;
      if (record.p === 0) newlyPinned += record.s;
    }
    if (usage.pinnedBytes + newlyPinned > maxPinned) {
      outcome.needed = usage.pinnedBytes + newlyPinned;
      return;
    }
    keys.forEach((key, i) => {
      const record = records[i];
      record.p += 1;
      delete record.e;
      meta.put(record, key);
    });
    usage.pinnedBytes += newlyPinned;
    state.put(usage, USAGE);
    pins.put({ keys, bytes: outcome.bytes, nodes: keys.length, at: stamp }, root);
    outcome.usage = usage;
  };
  keys.forEach((key, i) => {
    const read = meta.get(key);
    read.onsuccess = guarded(tx, outcome, () => {
      records[i] = read.result;
      if (read.result === undefined) outcome.missing.push(key);
      if (--waiting === 0) finish();
    });
  });
}

/** Unpins `root`: each node of its DAG loses one pin; a node left with none becomes evictable
 *  again, ranked by its last access. */
export function unpinRoot(meta, state, pins, root, outcome) {
  const tx = meta.transaction;
  outcome.found = false;
  try {
    const usageRead = state.get(USAGE);
    const read = pins.get(root);
    read.onsuccess = guarded(tx, outcome, () => {
      const pin = read.result;
      if (pin === undefined) return;
      outcome.found = true;
      const usage = readUsage(usageRead);
      let waiting = pin.keys.length;
      let freed = 0;
      for (const key of pin.keys) {
        const get = meta.get(key);
        get.onsuccess = guarded(tx, outcome, () => {
          const record = get.result;
          if (record !== undefined && record.p > 0) {
            record.p -= 1;
            if (record.p === 0) {
              record.e = record.t;
              freed += record.s;
            }
            meta.put(record, key);
          }
          if (--waiting > 0) return;
          usage.pinnedBytes -= freed;
          state.put(usage, USAGE);
          pins.delete(root);
          outcome.usage = usage;
        });
      }
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** Deletes `keys` (distinct), all or nothing: none if any is pinned (listed in `pinned`). */
export function deleteRecords(nodes, meta, state, journal, keys, outcome) {
  const tx = meta.transaction;
  Object.assign(outcome, { deleted: 0, pinned: [] });
  try {
    indexJournal(tx, meta, state, journal, undefined, outcome, (usage) => deleteIndexed(tx, nodes, meta, state, keys, usage,
      outcome));
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** deleteRecords' work once the journal is indexed (runs inside a guarded handler). */
function deleteIndexed(tx, nodes, meta, state, keys, usage, outcome) {
  const records = new Array(keys.length);
  let waiting = keys.length;
  const finish = () => {
    if (outcome.pinned.length > 0) return;
    keys.forEach((key, i) => {
      nodes.delete(key);
      const record = records[i];
      if (record === undefined) return;
      meta.delete(key);
      usage.bytes -= record.s;
      usage.nodes -= 1;
      outcome.deleted++;
    });
    if (outcome.deleted > 0) state.put(usage, USAGE);
    outcome.usage = usage;
  };
  keys.forEach((key, i) => {
    const read = meta.get(key);
    read.onsuccess = guarded(tx, outcome, () => {
      records[i] = read.result;
      if (read.result !== undefined && read.result.p > 0) outcome.pinned.push(key);
      if (--waiting === 0) finish();
    });
  });
}

/** The schema's upgrade, in the versionchange transaction `tx`: creates the stores and index a
 *  database lacks (names as in idb_lifecycle.rs); an existing nodes store keeps its records and
 *  gets the meta records and usage it had none of. */
export function upgradeSchema(db, tx, stamp) {
  const names = db.objectStoreNames;
  const open = (name) => (names.contains(name) ? tx.objectStore(name) : db.createObjectStore(name));
  const nodes = open("nodes");
  const state = open("state");
  open("pins");
  if (!names.contains(JOURNAL)) db.createObjectStore(JOURNAL, { autoIncrement: true });
  if (!names.contains("meta")) {
    const meta = db.createObjectStore("meta");
    meta.createIndex(LRU, "e");
    buildMeta(nodes, meta, state, stamp);
  }
}

/** Upgrade: a meta record for every node of a database created before the lifecycle stores,
 *  and the usage they add up to. Runs in the versionchange transaction. */
function buildMeta(nodes, meta, state, stamp) {
  const usage = zeroUsage();
  const cursor = nodes.openCursor();
  cursor.onsuccess = () => {
    const at = cursor.result;
    if (at) {
      const size = at.value?.byteLength ?? 0;
      meta.put({ s: size, t: stamp, p: 0, e: stamp }, at.primaryKey);
      usage.bytes += size;
      usage.nodes += 1;
      at.continue();
    } else {
      state.put(usage, USAGE);
    }
  };
}

/** Recounts the usage record from the meta records (which every change keeps in step). */
export function rebuildUsage(meta, state, journal, outcome) {
  const tx = meta.transaction;
  try {
    indexJournal(tx, meta, state, journal, undefined, outcome, () => countMeta(tx, meta, state, outcome));
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** rebuildUsage's count, once the journal is indexed (runs inside a guarded handler). */
function countMeta(tx, meta, state, outcome) {
  const usage = zeroUsage();
  const cursor = meta.openCursor();
  cursor.onsuccess = guarded(tx, outcome, () => {
    const at = cursor.result;
    if (at) {
      usage.bytes += at.value.s;
      usage.nodes += 1;
      if (at.value.p > 0) usage.pinnedBytes += at.value.s;
      at.continue();
    } else {
      state.put(usage, USAGE);
      outcome.usage = usage;
    }
  });
}

/** A full scan for diagnostics: every value's length in nodes, the pins in meta. */
export function scanStores(nodes, meta, outcome) {
  const tx = meta.transaction;
  Object.assign(outcome, { bytes: 0, nodes: 0, pinnedBytes: 0, metaNodes: 0, metaBytes: 0 });
  try {
    const values = nodes.openCursor();
    values.onsuccess = guarded(tx, outcome, () => {
      const at = values.result;
      if (!at) return;
      outcome.bytes += at.value.byteLength;
      outcome.nodes += 1;
      at.continue();
    });
    const records = meta.openCursor();
    records.onsuccess = guarded(tx, outcome, () => {
      const at = records.result;
      if (!at) return;
      outcome.metaNodes += 1;
      outcome.metaBytes += at.value.s;
      if (at.value.p > 0) outcome.pinnedBytes += at.value.s;
      at.continue();
    });
  } catch (error) {
    fail(tx, outcome, error);
  }
}

/** An async iterator (and iterable, as generators are) over `next` (a function returning a
 *  promise of the next value, undefined at the end) and `stop` (called by `return`, e.g. on a
 *  `break` out of `for await`). */
export function asyncIterator(next, stop) {
  return {
    next: () => next().then((value) => (value === undefined ? { done: true, value } : { done: false, value })),
    return: (value) => {
      stop();
      return Promise.resolve({ done: true, value });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Up to `limit` keys after `after` (all from the first if undefined), in key order. */
export function keyPage(store, after, limit) {
  const range = after === undefined ? null : IDBKeyRange.lowerBound(after, true);
  return store.getAllKeys(range, limit);
}
"#)]
extern "C" {
    /// `{ written, bytes, nodes, usage, error }` of one write batch: final once its transaction
    /// has settled.
    type PutOutcome;
    #[wasm_bindgen(js_name = newPutOutcome)]
    fn new_put_outcome() -> PutOutcome;
    #[wasm_bindgen(js_name = putRecord)]
    fn put_record(
        nodes: &IdbObjectStore,
        meta: &IdbObjectStore,
        key: &str,
        value: &Uint8Array,
        stamp: f64,
        check_from_bytes: u32,
        outcome: &PutOutcome,
    );
    #[wasm_bindgen(js_name = closePuts, catch)]
    fn close_puts(
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        outcome: &PutOutcome,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter)]
    fn written(this: &PutOutcome) -> u32;
    #[wasm_bindgen(method, getter)]
    fn error(this: &PutOutcome) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn usage(this: &PutOutcome) -> JsValue;
    /// `[key, size, stamp, ...]` of the values written without a meta record.
    #[wasm_bindgen(method, getter)]
    fn journal(this: &PutOutcome) -> Array;

    #[wasm_bindgen(js_name = getRecords)]
    fn get_records(store: &IdbObjectStore, keys: Array) -> Promise;

    /// The outcome object of a lifecycle helper below: `error`, `usage` and its own fields,
    /// read with [`Outcome::number`] and friends once the transaction has settled.
    pub type Outcome;
    #[wasm_bindgen(js_name = newOutcome)]
    pub fn new_outcome() -> Outcome;
    #[wasm_bindgen(js_name = indexJournalNow)]
    pub fn index_journal_now(
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        limit: u32,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = evictBatch)]
    #[allow(clippy::too_many_arguments)]
    pub fn evict_batch(
        nodes: &IdbObjectStore,
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        target: f64,
        max_nodes: u32,
        skip: Array,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = touchRecords)]
    #[allow(clippy::too_many_arguments)]
    pub fn touch_records(
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        keys: Array,
        stamps: &[f64],
        resolution: f64,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = pinRoot)]
    #[allow(clippy::too_many_arguments)]
    pub fn pin_root(
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        pins: &IdbObjectStore,
        journal: &IdbObjectStore,
        root: &str,
        keys: Array,
        max_pinned: f64,
        stamp: f64,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = unpinRoot)]
    pub fn unpin_root(
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        pins: &IdbObjectStore,
        root: &str,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = deleteRecords)]
    pub fn delete_records(
        nodes: &IdbObjectStore,
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        keys: Array,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = upgradeSchema, catch)]
    pub fn upgrade_schema(db: &IdbDatabase, tx: &IdbTransaction, stamp: f64)
        -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = rebuildUsage)]
    pub fn rebuild_usage(
        meta: &IdbObjectStore,
        state: &IdbObjectStore,
        journal: &IdbObjectStore,
        outcome: &Outcome,
    );
    #[wasm_bindgen(js_name = scanStores)]
    pub fn scan_stores(nodes: &IdbObjectStore, meta: &IdbObjectStore, outcome: &Outcome);
    /// An `AsyncIterableIterator` over `next` and `stop` (see the JS above).
    #[wasm_bindgen(js_name = asyncIterator)]
    pub fn async_iterator(next: &js_sys::Function, stop: &js_sys::Function) -> JsValue;
    #[wasm_bindgen(js_name = keyPage, catch)]
    pub fn key_page(
        store: &IdbObjectStore,
        after: &JsValue,
        limit: u32,
    ) -> Result<IdbRequest, JsValue>;
}

impl Outcome {
    /// A numeric field (0 if absent).
    pub fn number(&self, name: &str) -> f64 {
        field(self, name).as_f64().unwrap_or(0.0)
    }

    /// A boolean field (false if absent).
    pub fn flag(&self, name: &str) -> bool {
        field(self, name).is_truthy()
    }

    /// A field holding an array of key strings.
    pub fn keys(&self, name: &str) -> Result<Vec<Key>> {
        Array::from(&field(self, name))
            .iter()
            .map(|key| Ok(Key::parse(&key.as_string().unwrap_or_default())?))
            .collect()
    }

    /// The usage the transaction left, if it got that far.
    pub fn usage(&self) -> Option<Usage> {
        usage_from_js(&field(self, "usage"))
    }

    /// Waits for `done` (the transaction of the helper that filled this outcome); the error a
    /// request of the helper failed with says more than the transaction's abort.
    pub async fn settle(&self, done: TransactionFuture) -> Result<()> {
        let committed = done.await;
        let error = field(self, "error");
        if !error.is_undefined() {
            return Err(error_from_js(&error));
        }
        committed
    }
}

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A usage record read from IndexedDB: its journal part (entries not indexed yet, an upper
/// bound) added to its exact part.
pub fn usage_from_js(value: &JsValue) -> Option<Usage> {
    if !value.is_object() {
        return None;
    }
    let number = |name: &str| field(value, name).as_f64().unwrap_or(0.0).max(0.0) as u64;
    Some(Usage {
        bytes: number("bytes") + number("journalBytes"),
        nodes: number("nodes") + number("journalNodes"),
        pinned_bytes: number("pinnedBytes"),
    })
}

fn key_strings(keys: &[Key]) -> Array {
    keys.iter()
        .map(|key| JsValue::from(key.to_string()))
        .collect()
}

/// What a committed write batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Distinct keys put.
    pub keys: u32,
    /// Records of `nodes` written (large values already stored are not).
    pub written: u32,
    /// The usage the transaction left (every tab's changes included; an upper bound while
    /// the journal holds re-puts).
    pub usage: Option<Usage>,
    /// Whether the batch wrote a journal record (the background indexing has work).
    pub journaled: bool,
}

/// The puts of one tick, issued into one `readwrite` transaction (over the nodes, meta, state and
/// journal stores) as they come.
pub struct WriteBatch {
    nodes: IdbObjectStore,
    meta: IdbObjectStore,
    state: IdbObjectStore,
    journal: IdbObjectStore,
    transaction: IdbTransaction,
    outcome: PutOutcome,
    keys: HashSet<Key>,
    /// Bytes of the values issued (duplicates not counted twice).
    issued: u64,
    done: TransactionFuture,
}

impl WriteBatch {
    /// A batch writing through `transaction`, whose stores are `[nodes, meta, state, journal]`.
    pub fn new(stores: [IdbObjectStore; 4], transaction: IdbTransaction) -> WriteBatch {
        let [nodes, meta, state, journal] = stores;
        WriteBatch {
            nodes,
            meta,
            state,
            journal,
            done: TransactionFuture::new(transaction.clone()),
            transaction,
            outcome: new_put_outcome(),
            keys: HashSet::new(),
            issued: 0,
        }
    }

    /// Issues the put of `value` under `key` now (IndexedDB clones the value before this
    /// returns), with its access stamp. A key already in the batch is not written twice.
    /// Returns the bytes this added to the batch.
    pub fn put(&mut self, key: Key, value: &Uint8Array, stamp: f64) -> u64 {
        if !self.keys.insert(key) {
            return 0;
        }
        let size = u64::from(value.length());
        self.issued += size;
        put_record(
            &self.nodes,
            &self.meta,
            &key.to_string(),
            value,
            stamp,
            CHECK_BEFORE_WRITE_BYTES,
            &self.outcome,
        );
        size
    }

    /// Bytes of the values issued.
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// Makes the batch fail as the browser does when the origin's quota is used up (tests of
    /// the quota path: no headless browser lets a test fill its quota quickly).
    pub fn fail_with_quota(&self) {
        let error = web_sys::DomException::new_with_message_and_name(
            "injected by a test: the quota is used up",
            "QuotaExceededError",
        )
        .map(JsValue::from)
        .unwrap_or_else(|e| e);
        let _ = js_sys::Reflect::set(&self.outcome, &"error".into(), &error);
        let _ = self.transaction.abort();
    }

    /// Closes the batch (its usage update goes after every put) and waits for the commit.
    pub async fn commit(self) -> Result<Committed> {
        if let Err(error) = close_puts(&self.state, &self.journal, &self.outcome) {
            let _ = self.transaction.abort();
            let _ = self.done.await;
            return Err(error_from_js(&error));
        }
        let committed = self.done.await;
        // A failed request aborts the transaction: its own error says more than the abort's.
        let error = self.outcome.error();
        if !error.is_undefined() {
            return Err(error_from_js(&error));
        }
        committed.map(|()| Committed {
            keys: self.keys.len() as u32,
            written: self.outcome.written(),
            usage: usage_from_js(&self.outcome.usage()),
            journaled: self.outcome.journal().length() > 0,
        })
    }
}

/// A stored record's value, which must be a `Uint8Array` (else `indexeddb_error`, `DataError`).
pub fn record_array(key: Key, value: JsValue) -> Result<Uint8Array> {
    value
        .dyn_into::<Uint8Array>()
        .map_err(|_| Error::IndexedDb {
            name: "DataError".into(),
            message: format!("record {key} is not a Uint8Array"),
        })
}

/// The values stored under `keys` (`None`: missing), in order, read in the transaction of
/// `store`.
pub async fn read_records(store: &IdbObjectStore, keys: &[Key]) -> Result<Vec<Option<Uint8Array>>> {
    let values = JsFuture::from(get_records(store, key_strings(keys)))
        .await
        .map_err(|e| error_from_js(&e))?;
    Array::from(&values)
        .iter()
        .zip(keys)
        .map(|(value, key)| {
            if value.is_undefined() {
                return Ok(None);
            }
            record_array(*key, value).map(Some)
        })
        .collect()
}
