//! The storage classes exported to JS: `MemoryStorage`, `IndexedDbStorage`, `CachedStorage`.
//!
//! Each wraps a registered [`AnyProvider`], so any of them (or a plain JS object with get/put)
//! can be the cache or the remote of a `CachedStorage`.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::abort::{abortable, call_signal, CallOptionsArg};
use super::convert::{array_from_js, bytes_from_js, bytes_to_js, key_from_js, string_from_js};
use super::error::{js, to_js_error, JsResult};
use super::promise::promise;
use super::provider::{provider_from_js, AnyProvider, Registered};
use crate::storage::{CachedStorage, IndexedDbStorage, MemoryStorage, StorageProvider};

#[wasm_bindgen(typescript_custom_section)]
const TS_PROVIDER: &'static str = r#"
/** Anything usable as a storage: this library's classes or your own object. */
export interface StorageProviderLike {
  get(key: string): Promise<Uint8Array | null | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
}

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
}
"#;

/// `get(key, options?)`: resolves to the bytes or `null`.
pub(super) fn get_promise(
    provider: &AnyProvider,
    key: JsValue,
    options: Option<CallOptionsArg>,
) -> Promise {
    let provider = provider.clone();
    promise(async move {
        let key = key_from_js(&key).map_err(to_js_error)?;
        let signal = js(call_signal(options))?;
        match js(abortable(signal.as_ref(), provider.get(key)).await)? {
            Some(bytes) => Ok(bytes_to_js(&bytes)),
            None => Ok(JsValue::NULL),
        }
    })
}

/// `put(key, bytes, options?)`: resolves to `undefined` once stored.
pub(super) fn put_promise(
    provider: &AnyProvider,
    key: JsValue,
    bytes: JsValue,
    options: Option<CallOptionsArg>,
) -> Promise {
    let provider = provider.clone();
    promise(async move {
        let key = key_from_js(&key).map_err(to_js_error)?;
        let bytes = bytes_from_js(&bytes, "bytes").map_err(to_js_error)?;
        let signal = js(call_signal(options))?;
        js(abortable(signal.as_ref(), provider.put(key, bytes)).await)?;
        Ok(JsValue::UNDEFINED)
    })
}

/// Adds the provider methods shared by every exported storage class (paths are `$crate::`, so a
/// caller needs nothing in scope but the macro).
macro_rules! provider_methods {
    ($class:ident, $js_class:literal) => {
        #[::wasm_bindgen::prelude::wasm_bindgen(js_class = $js_class)]
        impl $class {
            /// The bytes stored under `key` (a 26-character key string), or `null`.
            #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | null>")]
            pub fn get(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] key: ::wasm_bindgen::JsValue,
                options: ::std::option::Option<$crate::js::abort::CallOptionsArg>,
            ) -> ::js_sys::Promise {
                $crate::js::storage::get_promise(self.registered.provider(), key, options)
            }

            /// Stores `bytes` under `key`; storing an existing key again is cheap.
            #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
            pub fn put(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] key: ::wasm_bindgen::JsValue,
                #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: ::wasm_bindgen::JsValue,
                options: ::std::option::Option<$crate::js::abort::CallOptionsArg>,
            ) -> ::js_sys::Promise {
                $crate::js::storage::put_promise(self.registered.provider(), key, bytes, options)
            }
        }

        $crate::js::storage::provider_handle!($class, $js_class);
    };
}

/// Adds the hidden handle by which casweb classes recognise each other's instances.
macro_rules! provider_handle {
    ($class:ident, $js_class:literal) => {
        #[::wasm_bindgen::prelude::wasm_bindgen(js_class = $js_class)]
        impl $class {
            /// Internal: lets other casweb classes recognise this instance.
            #[wasm_bindgen(getter = __caswebHandle, skip_typescript)]
            pub fn casweb_handle(&self) -> u32 {
                self.registered.handle()
            }
        }
    };
}

pub(super) use {provider_handle, provider_methods};

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

provider_methods!(JsMemoryStorage, "MemoryStorage");

/// Nodes in IndexedDB; survives reloads. Open it with `IndexedDbStorage.open(name)`.
#[wasm_bindgen(js_name = IndexedDbStorage)]
pub struct JsIndexedDbStorage {
    storage: IndexedDbStorage,
    registered: Registered,
}

#[wasm_bindgen(js_class = IndexedDbStorage)]
impl JsIndexedDbStorage {
    /// Opens (creating if needed) the database `name`. Rejects with code `blocked` if an older
    /// connection in another tab keeps it open, `version_mismatch` if a newer casweb created it.
    pub async fn open(
        #[wasm_bindgen(unchecked_param_type = "string")] name: JsValue,
    ) -> JsResult<JsIndexedDbStorage> {
        let name = js(string_from_js(&name, "database name"))?;
        let storage = js(IndexedDbStorage::open(&name).await)?;
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

    /// The database name.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.storage.name().to_owned()
    }

    /// Closes the connection; later calls reject with code `closed`.
    pub fn close(&self) {
        self.storage.close();
    }

    /// Diagnostic counters (transactions, records written, puts skipped, gets).
    #[wasm_bindgen(unchecked_return_type = "IndexedDbStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        serde_wasm_bindgen::to_value(&self.storage.stats()).map_err(JsValue::from)
    }

    /// The bytes stored under `key` (a 26-character key string), or `null`: IndexedDB's own
    /// `Uint8Array`, handed over without a copy through wasm memory.
    #[wasm_bindgen(unchecked_return_type = "Promise<Uint8Array | null>")]
    pub fn get(&self, #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let key = key_from_js(&key).map_err(to_js_error)?;
            Ok(js(storage.get_array(key).await)?.map_or(JsValue::NULL, JsValue::from))
        })
    }

    /// Stores `bytes` under `key`; storing an existing key again is cheap. The write is issued
    /// before this returns (IndexedDB clones the bytes), so the caller may reuse its array.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn put(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
    ) -> Promise {
        let pending = key_from_js(&key).and_then(|key| {
            Ok(self
                .storage
                .put_array(key, &array_from_js(&bytes, "bytes")?))
        });
        promise(async move {
            js(pending.map_err(to_js_error)?.await)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

provider_handle!(JsIndexedDbStorage, "IndexedDbStorage");

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

provider_methods!(JsCachedStorage, "CachedStorage");
