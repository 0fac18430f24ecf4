//! Pins: every node of a pinned DAG stays in an `IndexedDbStorage`, whatever the cap and
//! whichever tab evicts (offline availability).
//!
//! `pin` works in two steps:
//!
//! 1. **Collect.** Walk the DAG from the root, a window of nodes at a time (children from the
//!    node codec, [`node::child_keys`]): each node is read locally, or fetched from the remote
//!    given (its hash verified) and stored. While the walk runs, this store's eviction skips
//!    the keys collected so far. A DAG larger than the cap fails here, with
//!    [`Error::CapExceeded`], before fetching the rest.
//! 2. **Commit.** One transaction checks that every node is still stored (another tab may have
//!    evicted one: it is fetched again and the commit retried), that the pinned bytes stay
//!    within the cap (else [`Error::CapExceeded`], nothing changed), then adds one pin to each
//!    node (taking it out of the eviction index) and records the root with its keys. A pin is
//!    all or nothing: a page that dies during the walk leaves no pin behind.
//!
//! `unpin` removes the root's pin from each node in one transaction; nodes left with none go
//! back into the eviction order at their last access. Pinning a root twice is one pin.

use std::collections::HashSet;

use bytes::Bytes;
use futures::future::join_all;

use super::idb_lifecycle::{self, PinInfo, PinOutcome};
use super::indexeddb::IndexedDbStorage;
use super::{verify_put, StorageProvider};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::node;

/// Most nodes read (or fetched) at once while collecting a DAG.
const WINDOW_NODES: usize = 64;
/// Most bytes (by the keys' size flags) read at once while collecting a DAG.
const WINDOW_BYTES: u64 = 16 << 20;
/// Commits tried before giving up on a DAG other tabs keep evicting.
const COMMIT_ATTEMPTS: u32 = 5;

/// What [`IndexedDbStorage::pin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    /// The root pinned.
    pub root: Key,
    /// Bytes of the DAG's distinct nodes.
    pub bytes: u64,
    /// The DAG's distinct nodes.
    pub nodes: u64,
    /// Nodes fetched from the remote (they were not stored).
    pub fetched: u64,
}

/// The remote of a `pin` without one: it has nothing.
struct NoRemote;

impl StorageProvider for NoRemote {
    async fn get(&self, _key: Key) -> Result<Option<Bytes>> {
        Ok(None)
    }
    async fn put(&self, _key: Key, _bytes: Bytes) -> Result<()> {
        Ok(())
    }
}

/// Keys a pin in progress holds out of this store's eviction, released on drop.
struct Protection<'a> {
    storage: &'a IndexedDbStorage,
    keys: Vec<Key>,
}

impl Protection<'_> {
    fn add(&mut self, keys: &[Key]) {
        let mut protected = self.storage.inner.protected.borrow_mut();
        for key in keys {
            *protected.entry(*key).or_insert(0) += 1;
        }
        self.keys.extend_from_slice(keys);
    }
}

impl Drop for Protection<'_> {
    fn drop(&mut self) {
        {
            let mut protected = self.storage.inner.protected.borrow_mut();
            for key in &self.keys {
                if let Some(count) = protected.get_mut(key) {
                    *count -= 1;
                    if *count == 0 {
                        protected.remove(key);
                    }
                }
            }
        }
        if !self.keys.is_empty() {
            self.storage.protection_released();
        }
    }
}

impl IndexedDbStorage {
    /// Pins the DAG under `root`, which must be stored whole ([`Error::NotFound`] names a
    /// missing node otherwise). See [`IndexedDbStorage::pin_from`].
    pub async fn pin(&self, root: Key) -> Result<Pinned> {
        self.pin_dag(root, None::<&NoRemote>).await
    }

    /// Pins the DAG under `root`: every node of it stays stored until [`unpin`]. Nodes not
    /// stored are fetched from `remote` first (verified); resolves once all of them are stored
    /// and pinned. [`Error::CapExceeded`] (nothing pinned) if the pinned nodes would exceed the
    /// cap.
    ///
    /// [`unpin`]: IndexedDbStorage::unpin
    pub async fn pin_from<R: StorageProvider>(&self, root: Key, remote: &R) -> Result<Pinned> {
        self.pin_dag(root, Some(remote)).await
    }

    /// Unpins `root`: true if it was pinned. Its nodes stay stored, evictable again (unless
    /// another pinned DAG holds them).
    pub async fn unpin(&self, root: Key) -> Result<bool> {
        match idb_lifecycle::unpin(&self.database()?, root).await? {
            Some(usage) => {
                self.observed(usage);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Every pinned root, in key order, with the size of its DAG.
    pub async fn pins(&self) -> Result<Vec<PinInfo>> {
        idb_lifecycle::pins(&self.database()?).await
    }

    async fn pin_dag<R: StorageProvider>(&self, root: Key, remote: Option<&R>) -> Result<Pinned> {
        let max = self.max_bytes().unwrap_or(u64::MAX);
        let mut protection = Protection {
            storage: self,
            keys: Vec::new(),
        };
        let (keys, mut fetched) = self.collect(root, remote, &mut protection, max).await?;
        for _ in 0..COMMIT_ATTEMPTS {
            let outcome =
                idb_lifecycle::pin(&self.database()?, root, &keys, max, self.stamp()).await?;
            let (bytes, nodes) = match outcome {
                PinOutcome::Pinned {
                    bytes,
                    nodes,
                    usage,
                } => {
                    self.observed(usage);
                    (bytes, nodes)
                }
                PinOutcome::Already { bytes, nodes } => (bytes, nodes),
                PinOutcome::OverCap { needed } => {
                    return Err(Error::CapExceeded { root, needed, max });
                }
                PinOutcome::Missing(missing) => {
                    for window in missing.chunks(WINDOW_NODES) {
                        fetched += self.read_or_fetch(window, remote).await?.1;
                    }
                    continue;
                }
            };
            return Ok(Pinned {
                root,
                bytes,
                nodes,
                fetched,
            });
        }
        Err(Error::IndexedDb {
            name: "InvalidStateError".into(),
            message: format!(
                "pinning {root}: other connections kept evicting its nodes ({COMMIT_ATTEMPTS} \
                 attempts)"
            ),
        })
    }

    /// Every key of the DAG under `root` (root first, each once), every node stored; and how
    /// many were fetched.
    async fn collect<R: StorageProvider>(
        &self,
        root: Key,
        remote: Option<&R>,
        protection: &mut Protection<'_>,
        max: u64,
    ) -> Result<(Vec<Key>, u64)> {
        let mut keys = vec![root];
        let mut seen = HashSet::from([root]);
        let (mut next, mut bytes, mut fetched) = (0, 0u64, 0u64);
        while next < keys.len() {
            let mut end = next;
            let mut window_bytes = 0u64;
            while end < keys.len()
                && end - next < WINDOW_NODES
                && (end == next || window_bytes + keys[end].max_node_len() <= WINDOW_BYTES)
            {
                window_bytes += keys[end].max_node_len();
                end += 1;
            }
            let window = keys[next..end].to_vec();
            next = end;
            protection.add(&window);
            let (nodes, window_fetched) = self.read_or_fetch(&window, remote).await?;
            fetched += window_fetched;
            for (key, value) in window.iter().zip(nodes) {
                bytes += value.len() as u64;
                for child in node::child_keys(&value).map_err(|e| {
                    Error::CorruptDag(format!("node {key} of the DAG under {root}: {e}"))
                })? {
                    if seen.insert(child) {
                        keys.push(child);
                    }
                }
            }
            if bytes > max {
                return Err(Error::CapExceeded {
                    root,
                    needed: bytes,
                    max,
                });
            }
        }
        Ok((keys, fetched))
    }

    /// The bytes of `keys`: read here, or fetched from `remote` (verified) and stored. Returns
    /// them in order, and how many were fetched.
    async fn read_or_fetch<R: StorageProvider>(
        &self,
        keys: &[Key],
        remote: Option<&R>,
    ) -> Result<(Vec<Bytes>, u64)> {
        let local = join_all(keys.iter().map(|key| self.get_array(*key))).await;
        let mut values = Vec::with_capacity(keys.len());
        let mut missing = Vec::new();
        for (i, value) in local.into_iter().enumerate() {
            match value? {
                Some(array) => values.push(Some(Bytes::from(array.to_vec()))),
                None => {
                    values.push(None);
                    missing.push(i);
                }
            }
        }
        if !missing.is_empty() {
            let Some(remote) = remote else {
                return Err(Error::NotFound {
                    key: keys[missing[0]],
                });
            };
            let found = join_all(missing.iter().map(|&i| remote.get(keys[i]))).await;
            let mut fetched = Vec::with_capacity(missing.len());
            for (&i, found) in missing.iter().zip(found) {
                let key = keys[i];
                let bytes = found?.ok_or(Error::NotFound { key })?;
                verify_put(key, &bytes)?;
                fetched.push((key, bytes.clone()));
                values[i] = Some(bytes);
            }
            for stored in
                join_all(fetched.into_iter().map(|(key, bytes)| self.put(key, bytes))).await
            {
                stored?;
            }
        }
        let values = values
            .into_iter()
            .map(|v| v.expect("read or fetched"))
            .collect();
        Ok((values, missing.len() as u64))
    }
}
