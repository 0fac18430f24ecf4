//! Why the server refuses a node, a read or a claim: domain values, apart from HTTP (the edge
//! maps each to a status and a stable code in `crate::error`).

use casweb::Key;

/// Which check a node's bytes failed against the key the client named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCheck {
    /// The key's size flag does not fit the length.
    SizeFlag,
    /// BLAKE3 of the bytes is not the key.
    Hash,
}

/// A refusal. Each variant is one client-visible code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The node is longer than the server's limit (`too_large`).
    TooLarge { limit: u64 },
    /// The bytes do not match the key the client named (`hash_mismatch`).
    HashMismatch {
        key: Key,
        check: HashCheck,
        message: String,
    },
    /// The bytes are not a valid node (`invalid_node`).
    InvalidNode(String),
    /// Children the realm neither owns nor sent first (`missing_nodes`).
    MissingChildren(Vec<Key>),
    /// No realm stored the node (`not_found`).
    NotFound(Key),
    /// The node is stored but this realm does not own it (`not_owned`).
    NotOwned(Key),
    /// A key in a request body is malformed (`invalid_key`).
    InvalidKey { text: String, reason: String },
    /// The proof of possession does not match the node's bytes (`invalid_pop`).
    InvalidProof(Key),
}
