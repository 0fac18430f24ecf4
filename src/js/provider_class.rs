//! What every storage class exported to JS has: `get` and `put` over its registered
//! [`AnyProvider`] (a macro adds them), the hidden handle by which the classes of one wasm module
//! recognise each other's instances, and the `StorageProviderLike` type they all satisfy.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::abort::{abortable, call_signal, CallOptionsArg};
use super::convert::{bytes_from_js, key_from_js, node_or_null};
use super::error::{js, to_js_error};
use super::promise::promise;
use super::provider::AnyProvider;
use crate::storage::StorageProvider;

#[wasm_bindgen(typescript_custom_section)]
const TS_PROVIDER: &'static str = r#"
/** Anything usable as a storage: this library's classes or your own object. */
export interface StorageProviderLike {
  get(key: string): Promise<Uint8Array | null | undefined>;
  put(key: string, bytes: Uint8Array): Promise<void>;
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
        let node = js(abortable(signal.as_ref(), provider.get(key)).await)?;
        Ok(node_or_null(node.as_deref()))
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
                $crate::js::provider_class::get_promise(self.registered.provider(), key, options)
            }

            /// Stores `bytes` under `key`; storing an existing key again is cheap.
            #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
            pub fn put(
                &self,
                #[wasm_bindgen(unchecked_param_type = "string")] key: ::wasm_bindgen::JsValue,
                #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: ::wasm_bindgen::JsValue,
                options: ::std::option::Option<$crate::js::abort::CallOptionsArg>,
            ) -> ::js_sys::Promise {
                $crate::js::provider_class::put_promise(
                    self.registered.provider(),
                    key,
                    bytes,
                    options,
                )
            }
        }

        $crate::js::provider_class::provider_handle!($class, $js_class);
    };
}

/// Adds the hidden handle by which casweb classes recognise each other's instances.
macro_rules! provider_handle {
    ($class:ident, $js_class:literal) => {
        // One getter name per wasm module (see `HANDLE_PROPERTY`).
        #[cfg(feature = "storage-api")]
        #[::wasm_bindgen::prelude::wasm_bindgen(js_class = $js_class)]
        impl $class {
            /// Internal: lets other casweb classes of this module recognise this instance.
            #[wasm_bindgen(getter = __caswebHandle, skip_typescript)]
            pub fn casweb_handle(&self) -> u32 {
                self.registered.handle()
            }
        }

        #[cfg(not(feature = "storage-api"))]
        #[::wasm_bindgen::prelude::wasm_bindgen(js_class = $js_class)]
        impl $class {
            /// Internal: lets other casweb classes of this module recognise this instance.
            #[wasm_bindgen(getter = __caswebP2pHandle, skip_typescript)]
            pub fn casweb_handle(&self) -> u32 {
                self.registered.handle()
            }
        }
    };
}

pub(super) use {provider_handle, provider_methods};
