//! The JavaScript API: a thin wasm-bindgen layer over the Rust API.
//!
//! Idiomatic for JS: camelCase, Promises, `Uint8Array` in and out, `null` for missing, keys as
//! 26-character strings, errors as `Error` objects with `name = "CaswebError"` and a stable
//! `code` (see `error.rs`).
//!
//! Feature `storage-api` exports storage, sync, files and the topo sort; feature `p2p` exports
//! the P2P classes. The npm package builds each into its own wasm module (`casweb` and
//! `casweb/p2p`): storages cross between the two as plain JS objects with get and put.

mod abort;
#[cfg(feature = "p2p")]
mod advertiser;
#[cfg(feature = "storage-api")]
mod byte_source;
#[cfg(feature = "storage-api")]
mod codec;
mod convert;
#[cfg(feature = "storage-api")]
mod dag;
#[cfg(feature = "storage-api")]
mod dag_packed;
mod error;
#[cfg(feature = "storage-api")]
mod files;
#[cfg(feature = "storage-api")]
mod http;
#[cfg(feature = "p2p")]
mod p2p;
#[cfg(feature = "p2p")]
mod peer_storage;
#[cfg(feature = "storage-api")]
mod pending;
mod promise;
mod provider;
mod provider_class;
#[cfg(feature = "storage-api")]
mod readable;
#[cfg(feature = "storage-api")]
mod storage;
#[cfg(feature = "storage-api")]
mod sync;

#[cfg(feature = "p2p")]
pub use advertiser::{JsAdvertiser, JsAdvertisingStorage};
#[cfg(feature = "storage-api")]
pub use codec::{child_keys, chunk_file, key_of, parse_key, validate_node};
#[cfg(feature = "storage-api")]
pub use dag::topo_sort_levels_js;
#[cfg(feature = "storage-api")]
pub use dag_packed::topo_sort_levels_packed_js;
pub use error::to_js_error;
#[cfg(feature = "storage-api")]
pub use files::{file_info, read_file, read_file_stream, store_file};
#[cfg(feature = "storage-api")]
pub use http::JsHttpStorage;
#[cfg(feature = "p2p")]
pub use p2p::JsP2pNode;
#[cfg(feature = "p2p")]
pub use peer_storage::JsPeerStorage;
pub use promise::{install_panic_hook, promise};
#[cfg(feature = "storage-api")]
pub use storage::{JsCachedStorage, JsIndexedDbStorage, JsMemoryStorage};
#[cfg(feature = "storage-api")]
pub use sync::JsBufferedHttpStorage;

/// Runs when the module is instantiated: Rust panics become `CaswebError`s (see `promise.rs`).
#[wasm_bindgen::prelude::wasm_bindgen(start, skip_typescript)]
fn start() {
    install_panic_hook();
}
