//! The client of the casweb HTTP protocol (`docs/protocol.md`): [`HttpStorage`].
//!
//! - [`wire`]: pure and native-tested: configuration checks, URLs, request bodies, response
//!   parsing, splitting work by the server's limits.
//! - [`credentials`]: pure and native-tested: the token in use and its renewal through a
//!   [`TokenSource`] (JS `getToken`) when the server refuses it.
//! - `fetch` (wasm32): one HTTP request with `fetch`, a timeout, and typed failures.
//! - `client` (wasm32): [`HttpStorage`], a `StorageProvider` plus the batch, check and claim
//!   calls the sync engine needs.
//!
//! See `docs/http.md` for the behaviour (errors, splitting, timeouts, proofs of possession).

pub mod credentials;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
pub(crate) mod fetch;

pub use crate::protocol::Limits;
#[cfg(target_arch = "wasm32")]
pub use client::HttpStorage;
pub use credentials::TokenSource;
pub use wire::{CheckResult, HttpConfig, DEFAULT_TIMEOUT_MS};
