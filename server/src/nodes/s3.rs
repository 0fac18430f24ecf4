//! Node bytes in an S3-compatible object store (AWS S3, R2, MinIO, Ceph, Garage, s3s-fs, ...):
//! one immutable object per node at `<prefix>nodes/<key>`, written with a bounded number of
//! concurrent puts and read with a bounded number of concurrent gets.
//!
//! Objects are content-addressed, so a put is idempotent: two replicas writing the same node
//! write the same bytes, and an object left by a write that never committed its row is
//! harmless (it is simply written again, or found identical, by the next upload). Bytes read
//! back are checked against their key, so a damaged object is a backend error, never a node.

use std::sync::Arc;

use bytes::Bytes;
use casweb::Key;
use futures::stream::{self, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};

use super::StoreError;

/// Object requests in flight at once for one batch.
pub const CONCURRENCY: usize = 16;

/// Where the bucket is and how node objects are named in it.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// `http(s)://host:port` of an S3-compatible server; `None` for AWS itself.
    pub endpoint: Option<String>,
    pub bucket: String,
    /// Prepended to every object name (e.g. `casweb/`); empty for none.
    pub prefix: String,
    /// The region to sign for (S3-compatible servers mostly accept any).
    pub region: String,
}

/// The bucket's node objects.
#[derive(Clone)]
pub struct NodeObjects {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl NodeObjects {
    /// The client for `config`; credentials come from the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, ...).
    pub fn new(config: &S3Config) -> Result<NodeObjects, String> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        let store = builder
            .build()
            .map_err(|e| format!("invalid S3 configuration: {e}"))?;
        Ok(NodeObjects {
            store: Arc::new(store),
            prefix: config.prefix.clone(),
        })
    }

    fn path(&self, key: &Key) -> Path {
        Path::from(format!("{}nodes/{key}", self.prefix))
    }

    /// Puts every node, at most [`CONCURRENCY`] at once; `Ok` once all are durable in the store.
    pub async fn put_all(&self, nodes: Vec<(Key, Bytes)>) -> Result<(), StoreError> {
        stream::iter(nodes)
            .map(|(key, bytes)| async move {
                self.store
                    .put(&self.path(&key), PutPayload::from_bytes(bytes))
                    .await
                    .map_err(|e| StoreError::new(format!("S3 put of node {key}: {e}")))
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// Gets every node, in order, at most [`CONCURRENCY`] at once. Each must exist: the caller
    /// asks only for nodes whose row says they are stored.
    pub async fn get_all(&self, keys: &[Key]) -> Result<Vec<Bytes>, StoreError> {
        stream::iter(keys.iter().copied())
            .map(|key| async move {
                let bytes = self
                    .store
                    .get(&self.path(&key))
                    .await
                    .map_err(|e| StoreError::new(format!("S3 get of node {key}: {e}")))?
                    .bytes()
                    .await
                    .map_err(|e| StoreError::new(format!("S3 read of node {key}: {e}")))?;
                if !key.matches(&bytes) {
                    return Err(StoreError::new(format!(
                        "the S3 object of node {key} does not hash to its key"
                    )));
                }
                Ok(bytes)
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }
}
