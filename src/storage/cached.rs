//! `CachedStorage`: a local cache in front of a remote, both plain providers.
//!
//! A pure decorator: it knows nothing of keys' meaning, HTTP or claims.

use bytes::Bytes;
use futures::future::join;

use super::{verify_put, StorageProvider};
use crate::error::Result;
use crate::key::Key;
use crate::log::warn;

/// `get` reads the cache, else the remote and writes the answer back into the cache;
/// `put` writes both at once.
#[derive(Debug)]
pub struct CachedStorage<C, R> {
    cache: C,
    remote: R,
}

impl<C: StorageProvider, R: StorageProvider> CachedStorage<C, R> {
    pub fn new(cache: C, remote: R) -> Self {
        CachedStorage { cache, remote }
    }

    pub fn cache(&self) -> &C {
        &self.cache
    }

    pub fn remote(&self) -> &R {
        &self.remote
    }
}

impl<C: StorageProvider, R: StorageProvider> StorageProvider for CachedStorage<C, R> {
    /// A cache failure on read falls through to the remote (and is logged): the cache is an
    /// optimisation. So do bytes in the cache that do not hash to their key (a corrupt copy
    /// must not hide the remote's good one). A failed write-back is logged, not returned.
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        match self.cache.get(key).await {
            Ok(Some(bytes)) if verify_put(key, &bytes).is_ok() => return Ok(Some(bytes)),
            Ok(Some(_)) => warn(&format!(
                "casweb: the cache holds bytes that do not hash to {key}; reading the remote"
            )),
            Ok(None) => {}
            Err(error) => warn(&format!("casweb: cache read of {key} failed: {error}")),
        }
        let found = self.remote.get(key).await?;
        if let Some(bytes) = &found {
            if let Err(error) = self.cache.put(key, bytes.clone()).await {
                warn(&format!(
                    "casweb: cache write-back of {key} failed: {error}"
                ));
            }
        }
        Ok(found)
    }

    /// Checks that `bytes` hash to `key` (`hash_mismatch`, nothing written), then writes the
    /// cache and the remote at once (with the sync engine as remote, its pending-store write
    /// and the upload overlap the cache write instead of waiting for it). The cache's error, if
    /// any, is returned first, then the remote's; after an error either side may hold the node,
    /// and a retry of the put is safe.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        verify_put(key, &bytes)?;
        let (cached, sent) = join(
            self.cache.put(key, bytes.clone()),
            self.remote.put(key, bytes),
        )
        .await;
        cached.and(sent)
    }
}
