//! The JavaScript API: a thin wasm-bindgen layer over the Rust API.
//!
//! Idiomatic for JS: camelCase, Promises, `Uint8Array` in and out, `null` for missing, keys as
//! 26-character strings, errors as `Error` objects with `name = "CaswebError"` and a stable
//! `code` (see `error.rs`).

mod abort;
#[cfg(feature = "p2p")]
mod advertiser;
mod byte_source;
mod codec;
mod convert;
mod dag;
mod dag_packed;
mod error;
mod files;
mod http;
#[cfg(feature = "p2p")]
mod p2p;
#[cfg(feature = "p2p")]
mod peer_storage;
mod pending;
mod promise;
mod provider;
mod readable;
mod storage;
mod sync;

#[cfg(feature = "p2p")]
pub use advertiser::{JsAdvertiser, JsAdvertisingStorage};
pub use codec::{child_keys, chunk_file, key_of, parse_key, validate_node};
pub use dag::topo_sort_levels_js;
pub use dag_packed::topo_sort_levels_packed_js;
pub use error::to_js_error;
pub use files::{file_info, read_file, read_file_stream, store_file};
pub use http::JsHttpStorage;
#[cfg(feature = "p2p")]
pub use p2p::JsP2pNode;
#[cfg(feature = "p2p")]
pub use peer_storage::JsPeerStorage;
pub use promise::{install_panic_hook, promise};
pub use storage::{JsCachedStorage, JsIndexedDbStorage, JsMemoryStorage};
pub use sync::JsBufferedHttpStorage;

/// Runs when the module is instantiated: Rust panics become `CaswebError`s (see `promise.rs`).
#[wasm_bindgen::prelude::wasm_bindgen(start, skip_typescript)]
fn start() {
    install_panic_hook();
}
