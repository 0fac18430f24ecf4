//! casweb: content-addressed storage for web apps, compiled to WebAssembly.
//!
//! - [`key`] and [`node`]: the content keys and the node format (pure, native-tested).
//! - [`chunker`]: files as DAGs of nodes and back, in memory or streaming (incremental
//!   writer, stores with backpressure, verified byte ranges); [`batch`]: the framing of batch
//!   uploads.
//! - [`protocol`]: the HTTP protocol's contract shared with the reference server (version,
//!   limits, realm and token rules).
//! - [`storage`]: the `StorageProvider` seam and its implementations (memory, IndexedDB in the
//!   browser, a cache in front of a remote).
//! - [`sync`]: the sync engine (levels, flush passes, backoff).
//! - [`runtime`]: the clock, timers and task spawning engines run on (a trait: native tests use
//!   a manual clock).
//! - [`dht`] (feature `dht`): the libp2p DHT core shared with the reference server.
//! - [`p2p`] (feature `p2p`): peer discovery with libp2p (the node runs in wasm32 only).
//! - `js` (wasm32 only): the JavaScript API, a thin wasm-bindgen layer over the above.

pub mod batch;
pub mod chunker;
pub mod crockford;
#[cfg(feature = "dht")]
pub mod dht;
pub mod error;
#[cfg(feature = "dht")]
pub mod exchange;
pub mod http;
pub mod key;
mod log;
pub mod node;
#[cfg(feature = "p2p")]
pub mod p2p;
pub mod pop;
pub mod protocol;
pub mod runtime;
pub mod storage;
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod js;

pub use error::{Error, Result};
pub use key::Key;
pub use storage::{CachedStorage, MemoryStorage, StorageProvider};
