//! The storage classes exported to JS: `MemoryStorage`, `IndexedDbStorage`, `CachedStorage`.
//!
//! Each wraps a registered [`AnyProvider`], so any of them (or a plain JS object with get/put)
//! can be the cache or the remote of a `CachedStorage`.

use std::rc::Rc;

use futures::lock::Mutex;
use futures::stream::{LocalBoxStream, StreamExt};
use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use super::abort::{abortable, call_signal, signal_option, CallOptionsArg};
use super::convert::{
    array_from_js, key_from_js, known_fields, option_field, set_field, string_from_js, type_name,
};
use super::error::{js, to_js_error, JsResult};
use super::promise::promise;
use super::provider::{provider_from_js, AnyProvider, Registered};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::storage::{
    async_iterator, CachedStorage, IndexedDbOptions, IndexedDbStorage, MemoryStorage, Usage,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_STORAGE: &'static str = r#"
/** Diagnostic counters of an IndexedDbStorage. */
export interface IndexedDbStats {
  /** readwrite transactions started: one per batch of puts issued in the same tick. */
  writeTransactions: number;
  /** readonly transactions started: one per batch of gets issued in the same tick. */
  readTransactions: number;
  recordsWritten: number;
  /** puts whose key was already stored (nothing written). */
  putsSkipped: number;
  gets: number;
  /** nodes deleted by eviction (a cache opened with maxBytes). */
  nodesEvicted: number;
  /** eviction transactions run. */
  evictionBatches: number;
  /** access times written back from the access log. */
  accessWrites: number;
  /** journal indexing transactions run in the background once puts paused (meta records of
   *  small nodes, up to 1,000 per transaction). */
  journalIndexings: number;
}

/** The options of IndexedDbStorage.open. */
export interface IndexedDbOpenOptions {
  /** A byte cap: the store becomes a cache that evicts its least recently used unpinned nodes
   *  in the background to stay within it, and when the browser's quota is hit (Infinity: only
   *  then). Without it, nothing is ever evicted. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** What an IndexedDbStorage holds (kept with every change: reading it scans nothing). */
export interface StorageUsage {
  /** Bytes of every stored node. */
  bytes: number;
  nodes: number;
  /** Bytes of the nodes of pinned DAGs (never evicted). */
  pinnedBytes: number;
}

/** The options of IndexedDbStorage.pin. */
export interface PinOptions {
  /** Where to fetch the nodes that are not stored (e.g. the remote of your CachedStorage). */
  from?: StorageProviderLike;
  signal?: AbortSignal;
}

/** What IndexedDbStorage.pin did. */
export interface PinResult {
  root: string;
  /** Bytes of the DAG's distinct nodes. */
  bytes: number;
  nodes: number;
  /** Nodes fetched through `from` (they were not stored). */
  fetched: number;
}

/** A pinned root (IndexedDbStorage.pins). */
export interface PinnedRoot {
  root: string;
  bytes: number;
  nodes: number;
}

/** navigator.storage.estimate() for the whole origin. */
export interface OriginEstimate {
  usage: number;
  quota: number;
}
"#;

/// Nodes in memory: for tests, small caches, or as a remote stand-in.
#[wasm_bindgen(js_name = MemoryStorage)]
pub struct JsMemoryStorage {
    registered: Registered,
}

#[wasm_bindgen(js_class = MemoryStorage)]
impl JsMemoryStorage {
    #[wasm_bindgen(constructor)]
    pub fn new() -> JsMemoryStorage {
        JsMemoryStorage {
            registered: Registered::new(AnyProvider::new(MemoryStorage::new())),
        }
    }
}

impl Default for JsMemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

super::provider_class::provider_methods!(JsMemoryStorage, "MemoryStorage");

/// Nodes in IndexedDB; survives reloads. Open it with `IndexedDbStorage.open(name, options)`;
/// with `maxBytes` it is a bounded cache (eviction, pins, usage: docs/storage.md, "Lifecycle").
#[wasm_bindgen(js_name = IndexedDbStorage)]
pub struct JsIndexedDbStorage {
    storage: IndexedDbStorage,
    registered: Registered,
}

#[wasm_bindgen]
extern "C" {
    /// The options of `IndexedDbStorage.open`.
    #[wasm_bindgen(typescript_type = "IndexedDbOpenOptions")]
    pub type IndexedDbOpenOptionsArg;
    /// The options of `IndexedDbStorage.pin`.
    #[wasm_bindgen(typescript_type = "PinOptions")]
    pub type PinOptionsArg;
}

/// The options of `open`: `{ maxBytes, signal }`.
fn open_options(options: &JsValue) -> Result<(IndexedDbOptions, Option<AbortSignal>)> {
    known_fields(options, "IndexedDbStorage.open", &["maxBytes", "signal"])?;
    let max_bytes = match option_field(options, "maxBytes")? {
        None => None,
        Some(value) => match value.as_f64() {
            Some(n) if n == f64::INFINITY => Some(u64::MAX),
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER => Some(n as u64),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "maxBytes must be a whole number of bytes (at least 1) or Infinity, got {}",
                    value
                        .as_f64()
                        .map_or_else(|| type_name(&value), |n| n.to_string())
                )))
            }
        },
    };
    Ok((IndexedDbOptions { max_bytes }, signal_option(options)?))
}

const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

fn usage_to_js(usage: Usage) -> JsValue {
    let object = Object::new();
    set_field(&object, "bytes", &(usage.bytes as f64).into());
    set_field(&object, "nodes", &(usage.nodes as f64).into());
    set_field(&object, "pinnedBytes", &(usage.pinned_bytes as f64).into());
    object.into()
}

/// A `{ signal }` call on the storage: `work` raced against the signal.
fn call<F, W>(storage: &IndexedDbStorage, options: Option<CallOptionsArg>, work: W) -> Promise
where
    W: FnOnce(IndexedDbStorage) -> F + 'static,
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    let storage = storage.clone();
    promise(async move {
        let signal = js(call_signal(options))?;
        js(abortable(signal.as_ref(), work(storage)).await)
    })
}

#[wasm_bindgen(js_class = IndexedDbStorage)]
impl JsIndexedDbStorage {
    /// Opens (creating if needed) the database `name`. `maxBytes` makes it a cache that evicts
    /// its least recently used unpinned nodes to stay within that many bytes (`Infinity`: only
    /// when the browser's quota is hit); without it, nothing is ever evicted. Rejects with code
    /// `blocked` if an older connection in another tab keeps it open, `version_mismatch` if a
    /// newer casweb created it.
    #[wasm_bindgen(js_name = open)]
    pub async fn open_with_options(
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
        options: Option<IndexedDbOpenOptionsArg>,
    ) -> JsResult<JsIndexedDbStorage> {
        let name = js(string_from_js(&name, "database name"))?;
        let (options, signal) = js(open_options(
            &options.map_or(JsValue::UNDEFINED, Into::into),
        ))?;
        let storage =
            js(abortable(signal.as_ref(), IndexedDbStorage::open_with(&name, options)).await)?;
        Ok(JsIndexedDbStorage {
            registered: Registered::new(AnyProvider::new(storage.clone())),
            storage,
        })
    }

    /// Deletes the database `name` and all its nodes.
    #[wasm_bindgen(js_name = deleteDatabase)]
    pub async fn delete_database(
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> JsResult<()> {
        let name = js(string_from_js(&name, "database name"))?;
        js(IndexedDbStorage::delete_database(&name).await)
    }

    /// The origin's usage and quota from `navigator.storage.estimate()` (every database of the
    /// site, not one store).
    #[wasm_bindgen(unchecked_return_type = "Promise<OriginEstimate>")]
    pub fn estimate() -> Promise {
        promise(async move {
            let estimate = js(IndexedDbStorage::estimate().await)?;
            serde_wasm_bindgen::to_value(&estimate).map_err(JsValue::from)
        })
    }

    /// Asks the browser to keep this origin's storage under pressure
    /// (`navigator.storage.persist()`): true if it is persistent, false if the browser said no.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn persist() -> Promise {
        promise(async move { Ok(js(IndexedDbStorage::persist().await)?.into()) })
    }

    /// True if this origin's storage is persistent (`navigator.storage.persisted()`).
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn persisted() -> Promise {
        promise(async move { Ok(js(IndexedDbStorage::persisted().await)?.into()) })
    }

    /// The database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.storage.name().to_owned()
    }

    /// The byte cap given to `open` (`Infinity`: evict only on quota errors), or `undefined`
    /// for a store that never evicts.
    #[wasm_bindgen(getter = maxBytes)]
    pub fn max_bytes(&self) -> Option<f64> {
        self.storage.max_bytes().map(|max| {
            if max == u64::MAX {
                f64::INFINITY
            } else {
                max as f64
            }
        })
    }

    /// Closes the connection; later calls reject with code `closed`.
    pub fn close(&self) {
        self.storage.close();
    }

    /// Diagnostic counters (transactions, records written, puts skipped, gets, evictions).
    #[wasm_bindgen(unchecked_return_type = "IndexedDbStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        serde_wasm_bindgen::to_value(&self.storage.stats()).map_err(JsValue::from)
    }

    /// The bytes stored under `key` (a 26-character key string), or `null`: IndexedDB's own
    /// `Uint8Array`, handed over without a copy through wasm memory.
    #[wasm_bindgen(js_name = get, unchecked_return_type = "Promise<Uint8Array | null>")]
    pub fn get_with_options(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        call(&self.storage, options, move |storage| async move {
            let key = key_from_js(&key)?;
            Ok(storage
                .get_array(key)
                .await?
                .map_or(JsValue::NULL, JsValue::from))
        })
    }

    /// Stores `bytes` under `key`; storing an existing key again is cheap. The write is issued
    /// before this returns (IndexedDB clones the bytes; a cache at its cap copies them and
    /// waits for room), so the caller may reuse its array.
    #[wasm_bindgen(js_name = put, unchecked_return_type = "Promise<void>")]
    pub fn put_with_options(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let signal = call_signal(options);
        let pending = signal.and_then(|signal| {
            let key = key_from_js(&key)?;
            let put = self
                .storage
                .put_array(key, &array_from_js(&bytes, "bytes")?);
            Ok((signal, put))
        });
        promise(async move {
            let (signal, put) = pending.map_err(to_js_error)?;
            js(abortable(signal.as_ref(), put).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// What the store holds, `{ bytes, nodes, pinnedBytes }`: one small read (the counts are
    /// kept with every change), never a scan.
    #[wasm_bindgen(unchecked_return_type = "Promise<StorageUsage>")]
    pub fn usage(&self, options: Option<CallOptionsArg>) -> Promise {
        call(&self.storage, options, |storage| async move {
            Ok(usage_to_js(storage.usage().await?))
        })
    }

    /// Waits for the running eviction pass (if any) to end: the store is then within its cap,
    /// unless what is left is pinned. Resolves with the usage.
    #[wasm_bindgen(unchecked_return_type = "Promise<StorageUsage>")]
    pub fn evict(&self, options: Option<CallOptionsArg>) -> Promise {
        call(&self.storage, options, |storage| async move {
            Ok(usage_to_js(storage.evict().await?))
        })
    }

    /// Pins the DAG under `root`: its nodes stay stored whatever the cap (offline
    /// availability). Nodes not stored are fetched from `from` (any storage; without it they
    /// must all be here, else `not_found`); resolves once every node is stored and pinned.
    /// `cap_exceeded` (nothing pinned) if the pinned nodes would exceed `maxBytes`.
    #[wasm_bindgen(unchecked_return_type = "Promise<PinResult>")]
    pub fn pin(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] root: JsValue,
        options: Option<PinOptionsArg>,
    ) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let options = options.map_or(JsValue::UNDEFINED, Into::into);
            js(known_fields(&options, "pin", &["from", "signal"]))?;
            let root = js(key_from_js(&root))?;
            let signal = js(signal_option(&options))?;
            let from = match js(option_field(&options, "from"))? {
                Some(from) => Some(js(provider_from_js(&from, "from"))?),
                None => None,
            };
            let pinned = js(abortable(signal.as_ref(), async {
                match &from {
                    Some(remote) => storage.pin_from(root, remote).await,
                    None => storage.pin(root).await,
                }
            })
            .await)?;
            let object = Object::new();
            set_field(&object, "root", &pinned.root.to_string().into());
            set_field(&object, "bytes", &(pinned.bytes as f64).into());
            set_field(&object, "nodes", &(pinned.nodes as f64).into());
            set_field(&object, "fetched", &(pinned.fetched as f64).into());
            Ok(object.into())
        })
    }

    /// Unpins `root`: true if it was pinned. Its nodes stay, evictable again.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn unpin(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] root: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        call(&self.storage, options, move |storage| async move {
            Ok(storage.unpin(key_from_js(&root)?).await?.into())
        })
    }

    /// Every pinned root, with the size of its DAG.
    #[wasm_bindgen(unchecked_return_type = "Promise<PinnedRoot[]>")]
    pub fn pins(&self, options: Option<CallOptionsArg>) -> Promise {
        call(&self.storage, options, |storage| async move {
            let pins: Array = storage
                .pins()
                .await?
                .into_iter()
                .map(|pin| {
                    let object = Object::new();
                    set_field(&object, "root", &pin.root.to_string().into());
                    set_field(&object, "bytes", &(pin.bytes as f64).into());
                    set_field(&object, "nodes", &(pin.nodes as f64).into());
                    JsValue::from(object)
                })
                .collect();
            Ok(pins.into())
        })
    }

    /// Deletes the node under `key`: true if it was stored. Rejects with `pinned` (nothing
    /// deleted) if a pinned DAG holds it.
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn delete(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        call(&self.storage, options, move |storage| async move {
            Ok(storage.delete(key_from_js(&key)?).await?.into())
        })
    }

    /// Deletes every node and every pin.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn clear(&self, options: Option<CallOptionsArg>) -> Promise {
        call(&self.storage, options, |storage| async move {
            storage.clear().await?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Every stored key, in key order, for `for await`: read a page at a time, safe while gets,
    /// puts, deletes and evictions go on. `signal` makes the next step reject with `aborted`.
    #[wasm_bindgen(unchecked_return_type = "AsyncIterableIterator<string>")]
    pub fn keys(&self, options: Option<CallOptionsArg>) -> JsResult<JsValue> {
        let signal = js(call_signal(options))?;
        type Keys = LocalBoxStream<'static, Result<Key>>;
        let keys: Rc<Mutex<Option<Keys>>> =
            Rc::new(Mutex::new(Some(self.storage.keys().boxed_local())));
        let stepping = keys.clone();
        let next = Closure::<dyn FnMut() -> Promise>::new(move || {
            let (keys, signal) = (stepping.clone(), signal.clone());
            promise(async move {
                let mut keys = keys.lock().await;
                let Some(stream) = keys.as_mut() else {
                    return Ok(JsValue::UNDEFINED);
                };
                let step = abortable(signal.as_ref(), async { stream.next().await.transpose() });
                match step.await {
                    Ok(Some(key)) => Ok(key.to_string().into()),
                    Ok(None) => {
                        *keys = None;
                        Ok(JsValue::UNDEFINED)
                    }
                    Err(error) => {
                        *keys = None;
                        Err(to_js_error(error))
                    }
                }
            })
        });
        let stop = Closure::<dyn FnMut()>::new(move || {
            if let Some(mut keys) = keys.try_lock() {
                *keys = None;
            }
        });
        Ok(async_iterator(
            next.into_js_value().unchecked_ref(),
            stop.into_js_value().unchecked_ref(),
        ))
    }
}

/// The JS methods without their options, for Rust callers (tests).
impl JsIndexedDbStorage {
    /// `IndexedDbStorage.open(name)`: no cap.
    pub async fn open(name: JsValue) -> JsResult<JsIndexedDbStorage> {
        Self::open_with_options(name, None).await
    }

    /// `get(key)`.
    pub fn get(&self, key: JsValue) -> Promise {
        self.get_with_options(key, None)
    }

    /// `put(key, bytes)`.
    pub fn put(&self, key: JsValue, bytes: JsValue) -> Promise {
        self.put_with_options(key, bytes, None)
    }

    /// The Rust store behind this object.
    pub fn storage(&self) -> &IndexedDbStorage {
        &self.storage
    }
}

super::provider_class::provider_handle!(JsIndexedDbStorage, "IndexedDbStorage");

/// A cache in front of a remote: get = cache, else remote (then written back into the cache);
/// put = cache, then remote.
#[wasm_bindgen(js_name = CachedStorage)]
pub struct JsCachedStorage {
    registered: Registered,
}

#[wasm_bindgen(js_class = CachedStorage)]
impl JsCachedStorage {
    /// `cache` and `remote`: any casweb storage or object with `get` and `put`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] cache: JsValue,
        #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] remote: JsValue,
    ) -> JsResult<JsCachedStorage> {
        let cache = js(provider_from_js(&cache, "cache"))?;
        let remote = js(provider_from_js(&remote, "remote"))?;
        Ok(JsCachedStorage {
            registered: Registered::new(AnyProvider::new(CachedStorage::new(cache, remote))),
        })
    }
}

super::provider_class::provider_methods!(JsCachedStorage, "CachedStorage");
