//! The library's error type: one enum, each variant with a stable machine-readable code.
//!
//! The code (`Error::code`) is what JavaScript sees as `error.code`; it never changes once
//! released, while messages may be reworded.

use crate::key::{Key, KeyError};
use crate::node::NodeError;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in casweb.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A key string or key bytes were malformed.
    #[error("invalid key: {0}")]
    InvalidKey(#[from] KeyError),
    /// Bytes are not a valid node.
    #[error("invalid node: {0}")]
    InvalidNode(#[from] NodeError),
    /// Bytes do not hash to the key they were stored or fetched under.
    #[error("hash mismatch: the bytes do not hash to key {key}")]
    HashMismatch { key: Key },
    /// A node that a DAG refers to is not in the storage.
    #[error("node {key} not found")]
    NotFound { key: Key },
    /// A DAG was read whole but does not add up (e.g. file length differs from its FileInfo).
    #[error("corrupt DAG: {0}")]
    CorruptDag(String),
    /// An argument has the wrong type or value (mostly from JavaScript callers).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The browser refused to store more data for this origin.
    #[error("storage quota exceeded: {0}")]
    QuotaExceeded(String),
    /// Another connection (often another tab) keeps the database open at an older version.
    #[error("database blocked: {0}")]
    Blocked(String),
    /// The database exists at a newer version than this library knows.
    #[error("database version mismatch: {0}")]
    VersionMismatch(String),
    /// IndexedDB is not available in this context (e.g. private mode, no window or worker scope).
    #[error("IndexedDB unavailable: {0}")]
    Unavailable(String),
    /// Any other IndexedDB failure, with the DOMException name.
    #[error("IndexedDB error ({name}): {message}")]
    IndexedDb { name: String, message: String },
    /// A storage provider written in JavaScript threw, rejected or returned the wrong type.
    #[error("storage provider failed: {0}")]
    Provider(String),
    /// The storage was closed (or the sync engine disposed).
    #[error("storage is closed")]
    Closed,
    /// The server answered with an error status; `code` is its error code (e.g. `not_owned`).
    #[error("HTTP {status} {code}: {message}")]
    Http {
        status: u16,
        code: String,
        message: String,
    },
    /// The server refused one item of a batch (put many, claim many) with its error code.
    #[error("server refused {key}: {code}: {message}")]
    Rejected {
        key: Key,
        code: String,
        message: String,
    },
    /// The request never got an answer (connection refused, reset, CORS, offline).
    #[error("network error: {0}")]
    Network(String),
    /// The request got no answer within the timeout.
    #[error("timed out after {ms} ms")]
    Timeout { ms: u32 },
    /// `getChildKeys` described a cycle: these keys are part of it.
    #[error("cycle among buffered nodes (first keys: {})", format_keys(keys))]
    Cycle { keys: Vec<Key> },
    /// A node was not sent because one of its children failed to sync (a parent is never sent
    /// before its children are owned); it is retried with the child.
    #[error("{key} waits for its child {child}, which failed to sync")]
    ChildNotSynced {
        key: Key,
        child: Key,
        transient: bool,
    },
    /// The `onSyncStart` hook failed; the pass is postponed and retried with backoff.
    #[error("onSyncStart failed: {0}")]
    Hook(String),
    /// A user-supplied `getChildKeys` threw or returned something other than keys.
    #[error("getChildKeys failed: {0}")]
    ChildKeys(String),
    #[error("not connected: {0}")]
    NotConnected(String),
    #[error("no route to the peer: {0}")]
    NoRoute(String),
    #[error("invalid multiaddr: {0}")]
    InvalidMultiaddr(String),
    #[error("unsupported transport: {0}")]
    UnsupportedTransport(String),
    /// `start()` on an Advertiser that is already running (or starting, or stopping).
    #[error("the advertiser is already running")]
    AlreadyRunning,
    /// `stop()` on an Advertiser that is not running.
    #[error("the advertiser is not running")]
    NotRunning,
    /// Announcing a key on the DHT failed; it is retried with backoff.
    #[error("announcing {key} failed: {reason}")]
    AdvertiseFailed { key: Key, reason: String },
    /// The Advertiser's background task is gone and cannot take the request.
    #[error("the advertiser's task is gone: {0}")]
    ChannelSendFailed(String),
    /// A node is larger than the server accepts (its `maxNodeSize`).
    #[error("node {key} is {size} bytes, more than the server's maximum of {max} bytes")]
    TooLarge { key: Key, size: usize, max: usize },
    /// A bug in casweb: a Rust panic, reported to JS instead of a bare `unreachable` trap.
    #[error("internal error (a bug in casweb, please report it): {0}")]
    Internal(String),
}

fn format_keys(keys: &[Key]) -> String {
    keys.iter()
        .take(3)
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The stable code for this error, as JavaScript sees it in `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidKey(_) => "invalid_key",
            Error::InvalidNode(_) => "invalid_node",
            Error::HashMismatch { .. } => "hash_mismatch",
            Error::NotFound { .. } => "not_found",
            Error::CorruptDag(_) => "corrupt_dag",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::QuotaExceeded(_) => "quota_exceeded",
            Error::Blocked(_) => "blocked",
            Error::VersionMismatch(_) => "version_mismatch",
            Error::Unavailable(_) => "unavailable",
            Error::IndexedDb { .. } => "indexeddb_error",
            Error::Provider(_) => "provider_error",
            Error::Closed => "closed",
            Error::Http { .. } => "http_error",
            Error::Rejected { .. } => "rejected",
            Error::Network(_) => "network_error",
            Error::Timeout { .. } => "timeout",
            Error::Cycle { .. } => "cycle",
            Error::ChildKeys(_) => "child_keys_failed",
            Error::ChildNotSynced { .. } => "child_not_synced",
            Error::Hook(_) => "hook_failed",
            Error::NotConnected(_) => "not_connected",
            Error::NoRoute(_) => "no_route",
            Error::InvalidMultiaddr(_) => "invalid_multiaddr",
            Error::UnsupportedTransport(_) => "unsupported_transport",
            Error::AlreadyRunning => "already_running",
            Error::NotRunning => "not_running",
            Error::AdvertiseFailed { .. } => "advertise_failed",
            Error::ChannelSendFailed(_) => "channel_send_failed",
            Error::TooLarge { .. } => "too_large",
            Error::Internal(_) => "internal",
        }
    }

    /// True for failures worth retrying later: network errors, timeouts, 5xx and 429.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Network(_)
            | Error::Timeout { .. }
            | Error::Hook(_)
            | Error::NotConnected(_)
            | Error::NoRoute(_)
            | Error::AdvertiseFailed { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            Error::ChildNotSynced { transient, .. } => *transient,
            _ => false,
        }
    }

    /// Every code, for documentation and the TypeScript union type.
    pub const CODES: &'static [&'static str] = &[
        "invalid_key",
        "invalid_node",
        "hash_mismatch",
        "not_found",
        "corrupt_dag",
        "invalid_argument",
        "quota_exceeded",
        "blocked",
        "version_mismatch",
        "unavailable",
        "indexeddb_error",
        "provider_error",
        "closed",
        "http_error",
        "rejected",
        "network_error",
        "timeout",
        "cycle",
        "child_keys_failed",
        "child_not_synced",
        "hook_failed",
        "not_connected",
        "no_route",
        "invalid_multiaddr",
        "unsupported_transport",
        "already_running",
        "not_running",
        "advertise_failed",
        "channel_send_failed",
        "too_large",
        "internal",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_and_declared_for_typescript() {
        let samples = [
            Error::InvalidArgument(String::new()),
            Error::Closed,
            Error::QuotaExceeded(String::new()),
            Error::Timeout { ms: 1 },
        ];
        for error in &samples {
            assert!(Error::CODES.contains(&error.code()));
        }
        assert!(Error::Timeout { ms: 1 }.is_transient());
        let http = |status| Error::Http {
            status,
            code: String::new(),
            message: String::new(),
        };
        assert!(http(503).is_transient() && http(429).is_transient());
        assert!(!http(409).is_transient() && !Error::Closed.is_transient());
        let typescript = include_str!("../npm/error.d.ts");
        for code in Error::CODES {
            assert!(
                typescript.contains(&format!("\"{code}\"")),
                "{code} missing from the TypeScript CaswebErrorCode type"
            );
        }
    }
}
