//! The requests of one IndexedDB batch, issued by small JS helpers: one crossing per put (the
//! request itself) or per batch of gets, not two closures and a future per key.
//!
//! `IndexedDbStorage` serves all the calls of one tick with one transaction per direction.
//! Puts go straight into the tick's `readwrite` transaction as they are called, like a plain-JS
//! loop (IndexedDB clones the value at once, so the caller may reuse its array); their
//! acknowledgement is the transaction's `complete` event. Values of at least
//! [`CHECK_BEFORE_WRITE_BYTES`] are looked up first and written only if missing. Gets resolve
//! to one array of results.

use std::collections::HashSet;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbObjectStore, IdbTransaction};

use super::idb_future::{error_from_js, TransactionFuture};
use crate::error::{Error, Result};
use crate::key::Key;

/// Values at least this large are written only if their key is missing. Measured in headless
/// Chromium (fresh keys vs re-puts, same page): at 64 KiB the lookup costs about 3-20 % on a
/// fresh put and saves 25-50 % on a re-put; at 4-16 KiB it costs 40-100 % on a fresh put, about
/// as much as rewriting the value, so small values are written directly.
pub const CHECK_BEFORE_WRITE_BYTES: u32 = 64 * 1024;

#[wasm_bindgen(inline_js = r#"
export function newPutOutcome() {
  return { written: 0, error: undefined };
}

export function putRecord(store, key, value, checkFromBytes, outcome) {
  const fail = (error) => {
    if (outcome.error === undefined) outcome.error = error;
    try { store.transaction.abort(); } catch { /* already finished */ }
  };
  try {
    if (value.byteLength < checkFromBytes) {
      store.put(value, key);
      outcome.written++;
      return;
    }
    const lookup = store.getKey(key);
    // The value is cloned now: the caller may reuse its array before the lookup answers.
    const copy = value.slice();
    lookup.onsuccess = () => {
      if (lookup.result !== undefined) return;
      try {
        store.put(copy, key);
        outcome.written++;
      } catch (error) {
        fail(error);
      }
    };
  } catch (error) {
    fail(error);
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
"#)]
extern "C" {
    /// `{ written, error }` of one write batch: final once its transaction has settled.
    type PutOutcome;
    #[wasm_bindgen(js_name = newPutOutcome)]
    fn new_put_outcome() -> PutOutcome;
    #[wasm_bindgen(js_name = putRecord)]
    fn put_record(
        store: &IdbObjectStore,
        key: &str,
        value: &Uint8Array,
        check_from_bytes: u32,
        outcome: &PutOutcome,
    );
    #[wasm_bindgen(method, getter)]
    fn written(this: &PutOutcome) -> u32;
    #[wasm_bindgen(method, getter)]
    fn error(this: &PutOutcome) -> JsValue;

    #[wasm_bindgen(js_name = getRecords)]
    fn get_records(store: &IdbObjectStore, keys: Array) -> Promise;
}

fn key_strings(keys: &[Key]) -> Array {
    keys.iter()
        .map(|key| JsValue::from(key.to_string()))
        .collect()
}

/// The puts of one tick, issued into one `readwrite` transaction as they come.
pub struct WriteBatch {
    store: IdbObjectStore,
    outcome: PutOutcome,
    keys: HashSet<Key>,
    done: TransactionFuture,
}

impl WriteBatch {
    /// A batch writing into `store`, whose transaction is `transaction`.
    pub fn new(store: IdbObjectStore, transaction: IdbTransaction) -> WriteBatch {
        WriteBatch {
            store,
            outcome: new_put_outcome(),
            keys: HashSet::new(),
            done: TransactionFuture::new(transaction),
        }
    }

    /// Issues the put of `value` under `key` now (IndexedDB clones the value before this
    /// returns). A key already in the batch is not written twice.
    pub fn put(&mut self, key: Key, value: &Uint8Array) {
        if self.keys.insert(key) {
            let key = key.to_string();
            put_record(
                &self.store,
                &key,
                value,
                CHECK_BEFORE_WRITE_BYTES,
                &self.outcome,
            );
        }
    }

    /// Waits for the transaction to commit. Returns the number of distinct keys and of records
    /// written (the others were large values already stored).
    pub async fn commit(self) -> Result<(u32, u32)> {
        let committed = self.done.await;
        // A failed request aborts the transaction: its own error says more than the abort's.
        let error = self.outcome.error();
        if !error.is_undefined() {
            return Err(error_from_js(&error));
        }
        committed.map(|()| (self.keys.len() as u32, self.outcome.written()))
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
