//! The node store seam: where node bytes and ownership live (`NodeStore`), and the rules every
//! backend is held to (`rules`), apart from HTTP.
//!
//! A backend only answers questions and applies writes; it decides nothing. The rules ("a realm
//! owns every child of every node it owns", proofs of possession, what a read may return) are
//! written once, in [`rules`], over the trait. Refusals are domain values ([`Rejection`]); the
//! HTTP edge (`crate::error`) turns them into status codes.
//!
//! - [`embedded`]: redb in one file, the default; [`group_commit`]: its writer thread;
//! - [`postgres_s3`]: PostgreSQL rows and S3 objects, shared by replicas; [`s3`]: the objects;
//! - [`validate`]: the pure checks of a node's bytes;
//! - [`rejection`]: why a node, a read or a claim is refused.

pub mod embedded;
pub mod group_commit;
pub mod postgres_s3;
pub mod rejection;
pub mod rules;
pub mod s3;
pub mod validate;

use async_trait::async_trait;
use bytes::Bytes;
use casweb::Key;

pub use embedded::EmbeddedStore;
pub use rejection::{HashCheck, Rejection};

/// Where a node stands for one realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No realm has stored the node.
    Missing,
    /// The node is stored but this realm does not own it.
    Unowned,
    /// This realm owns the node.
    Owned,
}

/// One insert: make `realm` an owner of `key`, storing `bytes` if the node is new.
/// `bytes` is `None` for a claim (the node is known to exist).
#[derive(Debug, Clone)]
pub struct Write {
    pub realm: String,
    pub key: Key,
    pub bytes: Option<Bytes>,
}

/// A backend failure (the database or object store did not answer, or answered nonsense). The
/// HTTP edge turns it into a 500 `internal`; nothing about it is the client's fault.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps a backend's error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError(error.into())
    }

    /// The backend's error.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self.0.as_ref()
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {}

/// What the server keeps: node bytes by key (once, whatever the realm) and which realms own
/// which nodes. Nodes and ownership are never deleted, so an answer stays true once given.
///
/// Every method takes a whole batch, so a backend over the network answers a batch in one
/// round trip.
#[async_trait]
pub trait NodeStore: Send + Sync + 'static {
    /// The status of each key for `realm`, in order, from one consistent view.
    async fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError>;

    /// The bytes of each key whatever its owners (`None` if not stored), in order.
    async fn bytes(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>, StoreError>;

    /// Applies `writes` durably and atomically: when this returns `Ok`, every write survives a
    /// crash. Returns, per write, whether the realm became an owner (false: it already was).
    /// A claim (`bytes: None`) of a node that is not stored is an error.
    async fn apply(&self, writes: Vec<Write>) -> Result<Vec<bool>, StoreError>;

    /// How many distinct nodes are stored (also the readiness probe: it must reach the
    /// backend).
    async fn node_count(&self) -> Result<u64, StoreError>;
}
