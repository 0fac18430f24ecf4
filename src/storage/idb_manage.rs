//! Managing what an `IndexedDbStorage` holds: deleting nodes, listing keys, clearing it, and the
//! full scan that checks the usage record. Methods of the concrete store, not of the
//! `StorageProvider` trait: a remote has no business deleting or listing.
//!
//! Each is one IndexedDB transaction (a page of keys for listing), so gets and puts of this or
//! another tab see the store before or after it, never half-way.

use futures::stream::{self, Stream};

use super::eviction::Usage;
use super::idb_lifecycle::{self, Scan};
use super::indexeddb::IndexedDbStorage;
use crate::error::Result;
use crate::key::Key;

/// Keys per page of [`IndexedDbStorage::keys`]: one `getAllKeys` transaction each.
pub const KEYS_PAGE: u32 = 512;

impl IndexedDbStorage {
    /// Deletes the node under `key`: true if it was stored. [`Error::Pinned`] (nothing deleted)
    /// if a pinned DAG holds it: unpin its root first.
    ///
    /// [`Error::Pinned`]: crate::Error::Pinned
    pub async fn delete(&self, key: Key) -> Result<bool> {
        let (deleted, usage) = idb_lifecycle::delete(&self.database()?, &[key]).await?;
        self.observed(usage);
        Ok(deleted > 0)
    }

    /// Deletes `keys` in one transaction (missing keys are ignored; none is deleted if one is
    /// pinned). Resolves after the commit.
    pub async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.update_stats(|s| s.write_transactions += 1);
        let (_, usage) = idb_lifecycle::delete(&self.database()?, keys).await?;
        self.observed(usage);
        Ok(())
    }

    /// Deletes every node and every pin: the store is empty, as if new.
    pub async fn clear(&self) -> Result<()> {
        idb_lifecycle::clear(&self.database()?).await?;
        self.observed(Usage::default());
        Ok(())
    }

    /// Every stored key, in key order, a page ([`KEYS_PAGE`] keys) per transaction: safe while
    /// gets, puts, deletes and evictions go on (a key deleted meanwhile may or may not be
    /// listed, one added after its page is not).
    pub fn keys(&self) -> impl Stream<Item = Result<Key>> + 'static {
        let storage = self.clone();
        stream::try_unfold(
            (storage, None::<Key>, Vec::<Key>::new(), false),
            |(storage, after, mut page, exhausted)| async move {
                let mut exhausted = exhausted;
                if page.is_empty() {
                    if exhausted {
                        return Ok(None);
                    }
                    page = idb_lifecycle::key_page(&storage.database()?, after, KEYS_PAGE).await?;
                    exhausted = page.len() < KEYS_PAGE as usize;
                    page.reverse();
                }
                let Some(key) = page.pop() else {
                    return Ok(None);
                };
                Ok(Some((key, (storage, Some(key), page, exhausted))))
            },
        )
    }

    /// Indexes the journal, then reads every stored value to recount what the usage record
    /// says (diagnostics and tests: O(bytes stored)).
    pub async fn scan_usage(&self) -> Result<Scan> {
        let db = self.database()?;
        idb_lifecycle::index_journal(&db).await?;
        idb_lifecycle::scan(&db).await
    }
}
