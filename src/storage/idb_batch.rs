//! The requests of one IndexedDB batch, issued in JS: one wasm/JS crossing per batch, not two
//! closures and a future per key.
//!
//! `IndexedDbStorage` queues single-key calls and serves each tick's batch with one transaction;
//! these helpers fill that transaction. Puts are fire-and-forget requests (the transaction's
//! `complete` event is their acknowledgement), except that values of at least
//! [`CHECK_BEFORE_WRITE_BYTES`] are looked up first and written only if missing. Gets resolve to
//! one array of results.

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
export function putRecords(store, keys, values, checkFromBytes) {
  const outcome = { written: 0, error: undefined };
  const fail = (error) => {
    if (outcome.error === undefined) outcome.error = error;
    try { store.transaction.abort(); } catch { /* already finished */ }
  };
  try {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const value = values[i];
      if (value.byteLength < checkFromBytes) {
        store.put(value, key);
        outcome.written++;
        continue;
      }
      const lookup = store.getKey(key);
      lookup.onsuccess = () => {
        if (lookup.result !== undefined) return;
        try {
          store.put(value, key);
          outcome.written++;
        } catch (error) {
          fail(error);
        }
      };
    }
  } catch (error) {
    fail(error);
  }
  return outcome;
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
    /// `{ written, error }`: final once the transaction has settled.
    type PutOutcome;
    #[wasm_bindgen(js_name = putRecords)]
    fn put_records(
        store: &IdbObjectStore,
        keys: Array,
        values: Array,
        check_from_bytes: u32,
    ) -> PutOutcome;
    #[wasm_bindgen(method, getter)]
    fn written(this: &PutOutcome) -> u32;
    #[wasm_bindgen(method, getter)]
    fn error(this: &PutOutcome) -> JsValue;

    #[wasm_bindgen(js_name = getRecords)]
    fn get_records(store: &IdbObjectStore, keys: Array) -> Promise;
}

fn key_strings(keys: impl IntoIterator<Item = Key>) -> Array {
    keys.into_iter()
        .map(|key| JsValue::from(key.to_string()))
        .collect()
}

/// Writes `records` in the transaction of `store` and waits for it to commit. Returns how many
/// records were written (the others were large and already stored).
pub async fn write_records(
    store: &IdbObjectStore,
    transaction: IdbTransaction,
    records: &[(Key, Uint8Array)],
) -> Result<u32> {
    let done = TransactionFuture::new(transaction);
    let values: Array = records.iter().map(|(_, value)| value.clone()).collect();
    let outcome = put_records(
        store,
        key_strings(records.iter().map(|(key, _)| *key)),
        values,
        CHECK_BEFORE_WRITE_BYTES,
    );
    let committed = done.await;
    // A failed request aborts the transaction: its own error says more than the abort's.
    let error = outcome.error();
    if !error.is_undefined() {
        return Err(error_from_js(&error));
    }
    committed.map(|()| outcome.written())
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
    let values = JsFuture::from(get_records(store, key_strings(keys.iter().copied())))
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
