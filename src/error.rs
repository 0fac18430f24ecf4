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
    /// The server refused the request's credentials (HTTP 401) and no new token could be had
    /// (no `getToken`, it failed, or the server refused its token too). `code` is the server's:
    /// `token_expired`, `token_revoked` or `unauthorized`. Not transient: the sync engine parks
    /// the nodes (nothing is lost) until the token works again.
    #[error("unauthorized ({code}): {message}")]
    Unauthorized { code: String, message: String },
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
    /// A peer refused a block request (`reason`: `malformed`, `too_many_keys`, `busy`,
    /// `not_serving`), or answered one with something that is not an answer (`malformed`).
    #[error("the peer refused the block request ({reason}): {message}")]
    PeerRefused { reason: String, message: String },
    /// The storage does not do this (e.g. `put` on a `PeerStorage`, which only reads).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The caller's `AbortSignal` fired: the call stopped, leaving every store consistent.
    #[error("aborted: {0}")]
    Aborted(String),
    /// Pinning `root` would make the pinned nodes of a capped store exceed its cap.
    #[error("pinning {root} needs {needed} pinned bytes, more than the cap of {max} bytes")]
    CapExceeded { root: Key, needed: u64, max: u64 },
    /// The node belongs to a pinned DAG: it cannot be deleted until its root is unpinned.
    #[error("node {key} belongs to a pinned DAG; unpin its root first")]
    Pinned { key: Key },
}

fn format_keys(keys: &[Key]) -> String {
    keys.iter()
        .take(3)
        .map(Key::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Declares [`Error::code`] and [`Error::CODES`] from one list of (variant, code): the match is
/// exhaustive, so a new variant does not compile without its code, and `CODES` (which the
/// TypeScript union in npm/error.d.ts is checked against) cannot miss one.
macro_rules! error_codes {
    ($($variant:ident => $code:literal),* $(,)?) => {
        impl Error {
            /// The stable code for this error, as JavaScript sees it in `error.code`.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Error::$variant { .. } => $code,)*
                }
            }

            /// Every code, for documentation and the TypeScript union type.
            pub const CODES: &'static [&'static str] = &[$($code),*];
        }
    };
}

error_codes! {
    InvalidKey => "invalid_key",
    InvalidNode => "invalid_node",
    HashMismatch => "hash_mismatch",
    NotFound => "not_found",
    CorruptDag => "corrupt_dag",
    InvalidArgument => "invalid_argument",
    QuotaExceeded => "quota_exceeded",
    Blocked => "blocked",
    VersionMismatch => "version_mismatch",
    Unavailable => "unavailable",
    IndexedDb => "indexeddb_error",
    Provider => "provider_error",
    Closed => "closed",
    Http => "http_error",
    Unauthorized => "unauthorized",
    Rejected => "rejected",
    Network => "network_error",
    Timeout => "timeout",
    Cycle => "cycle",
    ChildKeys => "child_keys_failed",
    ChildNotSynced => "child_not_synced",
    Hook => "hook_failed",
    NotConnected => "not_connected",
    NoRoute => "no_route",
    InvalidMultiaddr => "invalid_multiaddr",
    UnsupportedTransport => "unsupported_transport",
    AlreadyRunning => "already_running",
    NotRunning => "not_running",
    AdvertiseFailed => "advertise_failed",
    ChannelSendFailed => "channel_send_failed",
    TooLarge => "too_large",
    Internal => "internal",
    Aborted => "aborted",
    CapExceeded => "cap_exceeded",
    Pinned => "pinned",
    PeerRefused => "peer_refused",
    Unsupported => "unsupported",
}

impl Error {
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
            Error::PeerRefused { reason, .. } => reason == "busy",
            _ => false,
        }
    }
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
        let unauthorized = Error::Unauthorized {
            code: "token_expired".into(),
            message: String::new(),
        };
        assert_eq!(unauthorized.code(), "unauthorized");
        assert!(
            !unauthorized.is_transient(),
            "a refused token is not retried"
        );
        // The TypeScript union lists exactly the codes, no more, no fewer.
        let typescript = include_str!("../npm/error.d.ts");
        let union = typescript
            .split("export type CaswebErrorCode =")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .expect("npm/error.d.ts declares CaswebErrorCode");
        let mut declared: Vec<&str> = union
            .split('|')
            .map(|code| code.trim().trim_matches('"'))
            .filter(|code| !code.is_empty())
            .collect();
        let mut codes = Error::CODES.to_vec();
        declared.sort_unstable();
        codes.sort_unstable();
        assert_eq!(
            declared, codes,
            "npm/error.d.ts CaswebErrorCode differs from Error::CODES"
        );
    }
}
