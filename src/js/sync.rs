//! The `BufferedHttpStorage` class exported to JS: the sync engine over an `HttpStorage`, with
//! a camelCase config object, Promise-returning `flush()`, and hooks as plain JS functions.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::abort::{abortable, call_signal, CallOptionsArg};
use super::convert::{
    bytes_to_js, key_from_js, keys_to_js, known_fields, option_field, set_field, string_from_js,
    thrown_message, type_name, whole_number_field,
};
use super::error::{js, to_js_error, JsResult};
use super::http::JsHttpStorage;
use super::pending::JsPendingStore;
use super::promise::promise;
use super::provider::{AnyProvider, Registered};
use super::provider_class::provider_methods;
use crate::error::{Error, Result};
use crate::http::HttpStorage;
use crate::key::Key;
use crate::sync::engine::{BufferedConfig, ChildKeys, SyncHooks};
use crate::sync::{AnyPendingStore, BufferedStorage};
use crate::sync::{Backoff, KeyStatus, SyncResult};

#[wasm_bindgen(typescript_custom_section)]
const TS_SYNC: &'static str = r#"
/** How a BufferedHttpStorage buffers and syncs. Every field is optional. */
export interface BufferedHttpStorageConfig {
  /** Delay between the first buffered put and the flush it triggers, ms (default 100). */
  debounceMs?: number;
  /** Bytes the buffer may hold before put() waits for a flush (default 16 MiB). */
  maxBufferBytes?: number;
  /** First retry delay after a transient failure, ms (default 500); doubles up to retryMaxMs. */
  retryBaseMs?: number;
  /** Longest retry delay, ms (default 60000). */
  retryMaxMs?: number;
  /** Child keys of a node (default: the built-in node format). */
  getChildKeys?: (bytes: Uint8Array, key: string) => string[];
  /** Where pending nodes are kept across reloads: an IndexedDB database name (default
   *  "casweb-pending"), null for memory only, or your own PendingStoreLike object (e.g. in Node). */
  pendingStore?: string | null | PendingStoreLike;
  /** Awaited before each sync pass; a rejection postpones the pass (retried with backoff). */
  onSyncStart?: () => void | Promise<void>;
  /** Called after each sync pass. */
  onSyncEnd?: (result: SyncResult) => void;
  /** Called as each key starts uploading, is done, or fails. */
  onKeySync?: (key: string, status: "uploading" | "done" | "error", error?: CaswebError) => void;
}

/** The outcome of a sync pass. Failed and deferred keys stay pending. */
export interface SyncResult {
  /** Claimed or uploaded in this pass. */
  synced: string[];
  /** Already owned by the realm: nothing sent. */
  skipped: string[];
  /** Not synced, with the reason (`child_not_synced`: a child of theirs failed). */
  failed: { key: string; error: CaswebError }[];
  /** Not attempted: a child of theirs was left out of this pass (waiting for its retry). */
  deferred: string[];
}

/** Counters of a BufferedHttpStorage. */
export interface BufferedStats {
  /** Nodes not yet owned by the server (in any state below). */
  pending: number;
  /** Of those, nodes whose own last attempt failed (retrying or parked). */
  failed: number;
  /** Of the failed, nodes refused for good: only flush(), retry(key) or discard(key) move them. */
  parked: number;
  /** Nodes waiting for a child that is not owned yet. */
  waiting: number;
  bufferedBytes: number;
  passes: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The optional config argument, typed `BufferedHttpStorageConfig` in TypeScript.
    #[wasm_bindgen(typescript_type = "BufferedHttpStorageConfig")]
    pub type BufferedConfigArg;
}

fn function_field(options: &JsValue, name: &str) -> Result<Option<Function>> {
    match option_field(options, name)? {
        None => Ok(None),
        Some(value) => value.dyn_into::<Function>().map(Some).map_err(|value| {
            Error::InvalidArgument(format!(
                "{name} must be a function, got {}",
                type_name(&value)
            ))
        }),
    }
}

/// A `SyncResult` as a plain JS object (errors as `CaswebError`s).
fn sync_result_to_js(result: &SyncResult) -> JsValue {
    let failed: Array = result
        .failed
        .iter()
        .map(|(key, error)| {
            let entry = Object::new();
            set_field(&entry, "key", &key.to_string().into());
            set_field(&entry, "error", &to_js_error(error.clone()));
            JsValue::from(entry)
        })
        .collect();
    let object = Object::new();
    set_field(&object, "synced", &keys_to_js(&result.synced));
    set_field(&object, "skipped", &keys_to_js(&result.skipped));
    set_field(&object, "failed", &failed);
    set_field(&object, "deferred", &keys_to_js(&result.deferred));
    object.into()
}

/// Wraps a JS `getChildKeys(bytes, key) => string[]`.
fn child_keys_from_js(function: Function) -> ChildKeys {
    Rc::new(move |key: Key, bytes: &[u8]| {
        let returned = function
            .call2(
                &JsValue::UNDEFINED,
                &bytes_to_js(bytes),
                &key.to_string().into(),
            )
            .map_err(|e| {
                Error::ChildKeys(format!("getChildKeys({key}) threw: {}", thrown_message(&e)))
            })?;
        if !Array::is_array(&returned) {
            return Err(Error::ChildKeys(format!(
                "getChildKeys({key}) returned {}, expected an array of key strings",
                type_name(&returned)
            )));
        }
        Array::from(&returned)
            .iter()
            .map(|child| {
                let text = string_from_js(&child, "a child key")
                    .map_err(|e| Error::ChildKeys(format!("getChildKeys({key}): {e}")))?;
                Key::parse(&text).map_err(|e| Error::ChildKeys(format!("getChildKeys({key}): {e}")))
            })
            .collect()
    })
}

fn hooks_from_js(options: &JsValue) -> Result<SyncHooks> {
    let mut hooks = SyncHooks::default();
    if let Some(on_start) = function_field(options, "onSyncStart")? {
        hooks.on_sync_start = Some(Rc::new(move || {
            let returned = on_start.call0(&JsValue::UNDEFINED);
            Box::pin(async move {
                let settled = match returned {
                    Ok(value) => JsFuture::from(Promise::resolve(&value)).await,
                    Err(error) => Err(error),
                };
                settled
                    .map(|_| ())
                    .map_err(|e| Error::Hook(thrown_message(&e)))
            })
        }));
    }
    if let Some(on_end) = function_field(options, "onSyncEnd")? {
        hooks.on_sync_end = Some(Rc::new(move |result: &SyncResult| {
            let _ = on_end.call1(&JsValue::UNDEFINED, &sync_result_to_js(result));
        }));
    }
    if let Some(on_key) = function_field(options, "onKeySync")? {
        hooks.on_key_sync = Some(Rc::new(
            move |key: Key, status: KeyStatus, error: Option<&Error>| {
                let error = error.map_or(JsValue::UNDEFINED, |e| to_js_error(e.clone()));
                let _ = on_key.call3(
                    &JsValue::UNDEFINED,
                    &key.to_string().into(),
                    &status.as_str().into(),
                    &error,
                );
            },
        ));
    }
    Ok(hooks)
}

/// Where the engine keeps pending nodes, as the config says.
enum PendingChoice {
    /// `config.pending_store` names the IndexedDB database, or is `None` (memory only).
    Config,
    /// The app's own object.
    Js(JsPendingStore),
}

fn config_from_js(options: &JsValue) -> Result<(BufferedConfig, PendingChoice)> {
    known_fields(
        options,
        "BufferedHttpStorage",
        &[
            "debounceMs",
            "maxBufferBytes",
            "retryBaseMs",
            "retryMaxMs",
            "getChildKeys",
            "pendingStore",
            "onSyncStart",
            "onSyncEnd",
            "onKeySync",
        ],
    )?;
    let mut config = BufferedConfig::default();
    let max = u64::from(u32::MAX);
    if let Some(ms) = whole_number_field(options, "debounceMs", 0, max)? {
        config.debounce_ms = ms as u32;
    }
    if let Some(bytes) = whole_number_field(options, "maxBufferBytes", 1, 1 << 40)? {
        config.max_buffer_bytes = bytes as usize;
    }
    let base = whole_number_field(options, "retryBaseMs", 1, max)?;
    let top = whole_number_field(options, "retryMaxMs", 1, max)?;
    config.backoff = Backoff {
        base_ms: base.map_or(config.backoff.base_ms, |ms| ms as u32),
        max_ms: top.map_or(config.backoff.max_ms, |ms| ms as u32),
    };
    if let Some(function) = function_field(options, "getChildKeys")? {
        config.child_keys = Some(child_keys_from_js(function));
    }
    let mut pending = PendingChoice::Config;
    if !options.is_undefined() && !options.is_null() {
        let store = Reflect::get(options, &"pendingStore".into()).unwrap_or(JsValue::UNDEFINED);
        if store.is_null() {
            config.pending_store = None;
        } else if store.is_object() {
            config.pending_store = None;
            pending = PendingChoice::Js(JsPendingStore::new(&store)?);
        } else if !store.is_undefined() {
            config.pending_store = Some(string_from_js(&store, "pendingStore")?);
        }
    }
    config.hooks = hooks_from_js(options)?;
    Ok((config, pending))
}

/// The sync engine: `put` buffers and returns; flushes go to the server in batches, children
/// first; pending nodes survive reloads. Open it with `BufferedHttpStorage.open(http, config)`.
#[wasm_bindgen(js_name = BufferedHttpStorage)]
pub struct JsBufferedHttpStorage {
    engine: BufferedStorage<HttpStorage>,
    registered: Registered,
}

#[wasm_bindgen(js_class = BufferedHttpStorage)]
impl JsBufferedHttpStorage {
    /// Opens the engine over `http`, resuming nodes left pending in the same pending store.
    #[wasm_bindgen(unchecked_return_type = "Promise<BufferedHttpStorage>")]
    pub fn open(http: &JsHttpStorage, config: Option<BufferedConfigArg>) -> Promise {
        let http = http.storage().clone();
        promise(async move {
            let (config, pending) = js(config_from_js(
                &config.map_or(JsValue::UNDEFINED, Into::into),
            ))?;
            let engine = match pending {
                PendingChoice::Config => js(BufferedStorage::open(http, config).await)?,
                PendingChoice::Js(store) => {
                    let store = Some(AnyPendingStore::new(store));
                    let lock = "casweb-sync:custom-pending-store";
                    js(BufferedStorage::open_on(http, config, store, lock).await)?
                }
            };
            Ok(JsBufferedHttpStorage {
                registered: Registered::new(AnyProvider::new(engine.clone())),
                engine,
            }
            .into())
        })
    }

    /// Syncs everything buffered so far (failed nodes included); resolves with the outcome.
    /// `signal` stops the waiting (code `aborted`), not the sync: nodes stay pending and keep
    /// syncing in the background.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncResult>")]
    pub fn flush(&self, options: Option<CallOptionsArg>) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let signal = js(call_signal(options))?;
            let result = js(abortable(signal.as_ref(), engine.flush()).await)?;
            Ok(sync_result_to_js(&result))
        })
    }

    /// Stops timers and flushing; pending nodes stay in the pending store.
    pub fn dispose(&self) {
        self.engine.dispose();
    }

    /// Counters: pending, failed, bufferedBytes, passes.
    #[wasm_bindgen(unchecked_return_type = "BufferedStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        serde_wasm_bindgen::to_value(&self.engine.stats()).map_err(JsValue::from)
    }

    /// Keys not yet owned by the server.
    #[wasm_bindgen(js_name = pendingKeys, unchecked_return_type = "string[]")]
    pub fn pending_keys(&self) -> Array {
        keys_to_js(&self.engine.pending_keys())
    }

    /// Pending keys that are not due at once, with why: their own last error (retrying, or
    /// parked for good) or what they wait for (`child_not_synced`).
    #[wasm_bindgen(unchecked_return_type = "{ key: string; error: CaswebError }[]")]
    pub fn failures(&self) -> Array {
        self.engine
            .failures()
            .into_iter()
            .map(|(key, error)| {
                let entry = Object::new();
                set_field(&entry, "key", &key.to_string().into());
                set_field(&entry, "error", &to_js_error(error));
                JsValue::from(entry)
            })
            .collect()
    }

    /// Makes a retrying, parked or waiting key due at once; false if it is not pending.
    pub fn retry(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> JsResult<bool> {
        Ok(self.engine.retry(js(key_from_js(&key))?))
    }

    /// Gives up on a pending key (e.g. one the server will never accept): it leaves the buffer
    /// and the pending store; resolves to false if it was not pending.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn discard(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        let engine = self.engine.clone();
        promise(async move {
            let key = js(key_from_js(&key))?;
            Ok(js(engine.discard(key).await)?.into())
        })
    }
}

provider_methods!(JsBufferedHttpStorage, "BufferedHttpStorage");
