//! An app's own pending store, written in JS: any object with `entries()`, `put(key, bytes)`,
//! `deleteMany(keys)` and optionally `close()` (each may return a promise) keeps the sync
//! engine's pending nodes, e.g. in Node (no IndexedDB), Electron or the app's own database.

use bytes::Bytes;
use js_sys::{Array, Function, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::convert::{keys_to_js, type_name};
use super::provider::{put_through, settle};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::sync::PendingStore;

#[wasm_bindgen(typescript_custom_section)]
const TS_PENDING: &'static str = r#"
/** Where a BufferedHttpStorage keeps pending nodes, if not in IndexedDB: your own object. */
export interface PendingStoreLike {
  /** Every node kept: [key, bytes] pairs (an array or any iterable). */
  entries(): Iterable<[string, Uint8Array]> | Promise<Iterable<[string, Uint8Array]>>;
  /** Keeps a node until deleteMany removes it. */
  put(key: string, bytes: Uint8Array): void | Promise<void>;
  /** Removes nodes the server now owns (unknown keys are ignored). */
  deleteMany(keys: string[]): void | Promise<void>;
  /** Called when the engine is disposed. */
  close?(): void;
}
"#;

/// A JS object used as the engine's pending store.
pub struct JsPendingStore {
    object: JsValue,
    entries: Function,
    put: Function,
    delete_many: Function,
    close: Option<Function>,
}

impl JsPendingStore {
    pub fn new(object: &JsValue) -> Result<JsPendingStore> {
        let method = |name: &str| {
            js_sys::Reflect::get(object, &name.into())
                .ok()
                .and_then(|m| m.dyn_into::<Function>().ok())
        };
        let required = |name: &str| {
            method(name).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "pendingStore must be a database name, null, or an object with entries(), \
                     put() and deleteMany() methods; {name}() is missing"
                ))
            })
        };
        Ok(JsPendingStore {
            object: object.clone(),
            entries: required("entries")?,
            put: required("put")?,
            delete_many: required("deleteMany")?,
            close: method("close"),
        })
    }
}

fn bad_entry(what: String) -> Error {
    Error::Provider(format!("pendingStore.entries(): {what}"))
}

impl PendingStore for JsPendingStore {
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        let call = "pendingStore.entries()";
        let value = settle(self.entries.call0(&self.object), call).await?;
        let pairs = Array::from(&value);
        if pairs.length() == 0 && !Array::is_array(&value) && !value.is_object() {
            return Err(bad_entry(format!("returned {}", type_name(&value))));
        }
        pairs
            .iter()
            .map(|pair| {
                let pair = Array::from(&pair);
                let key = pair
                    .get(0)
                    .as_string()
                    .ok_or_else(|| bad_entry("an entry is not a [key, bytes] pair".into()))?;
                let key = Key::parse(&key).map_err(|e| bad_entry(format!("{e}")))?;
                let bytes = pair
                    .get(1)
                    .dyn_into::<Uint8Array>()
                    .map_err(|v| bad_entry(format!("the bytes of {key} are {}", type_name(&v))))?;
                Ok((key, Bytes::from(bytes.to_vec())))
            })
            .collect()
    }

    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        let call = format!("pendingStore.put({key})");
        put_through(&self.put, &self.object, key, &bytes, &call).await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        let call = format!("pendingStore.deleteMany({} keys)", keys.len());
        settle(
            self.delete_many.call1(&self.object, &keys_to_js(keys)),
            &call,
        )
        .await
        .map(|_| ())
    }

    fn close(&self) {
        if let Some(close) = &self.close {
            let _ = close.call0(&self.object);
        }
    }
}
