//! What the sync engine needs from a server: the batched half of the wire protocol.
//!
//! `HttpStorage` implements it for the real server; native tests implement it with an
//! in-memory model of the server's ownership rules.

use std::ops::Range;
use std::rc::Rc;

use bytes::Bytes;

use crate::error::Result;
use crate::key::Key;

pub use crate::protocol::CheckResult;

/// Batched operations of a CAS server. Per-item results are in input order; an outer `Err`
/// means the whole request failed.
#[allow(async_fn_in_trait)]
pub trait SyncRemote {
    /// Classifies `keys` as missing, unowned or owned (split into requests as the server's
    /// limits require).
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult>;
    /// Claims ownership of nodes that exist on the server, proving possession of their bytes.
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>>;
    /// Uploads nodes; children must already be owned or come earlier in `nodes`.
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>>;
    /// The largest node the server accepts, once known (the engine refuses bigger puts).
    fn max_node_size(&self) -> Option<usize> {
        None
    }
    /// How nodes of these lengths split into upload requests (consecutive ranges, in order),
    /// so a pass can call `put_many` once per request and act on each acknowledgement. The
    /// default is one call for all of them.
    fn upload_batches(&self, lengths: &[usize]) -> Vec<Range<usize>> {
        std::iter::once(0..lengths.len()).collect()
    }
}

impl<S: SyncRemote + ?Sized> SyncRemote for Rc<S> {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        (**self).check_many(keys).await
    }
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        (**self).claim_many(nodes).await
    }
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        (**self).put_many(nodes).await
    }
    fn max_node_size(&self) -> Option<usize> {
        (**self).max_node_size()
    }
    fn upload_batches(&self, lengths: &[usize]) -> Vec<Range<usize>> {
        (**self).upload_batches(lengths)
    }
}
