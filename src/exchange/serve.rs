//! Answering block requests (pure): [`answer`] reads the asked nodes from any
//! `StorageProvider`, and [`PeerGate`] bounds how many requests are answered at once, in all
//! and per peer. Together they bound what serving costs: at most `max_concurrent` answers of at
//! most `max_answer_bytes` each are in memory or on the wire at any time.

use std::collections::HashMap;
use std::hash::Hash;

use bytes::Bytes;
use futures::future::join_all;

use super::message::{BlockResponse, Refusal};
use super::MAX_ANSWER_BYTES;
use crate::key::Key;
use crate::protocol::get_answer::{affordable, GetItem};
use crate::storage::StorageProvider;

/// How much a serving node gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Requests answered at once from all peers; more are refused as `busy`.
    pub max_concurrent: usize,
    /// Requests answered at once for one peer; more are refused as `busy`.
    pub max_concurrent_per_peer: usize,
    /// Most node bytes in one answer (at most [`MAX_ANSWER_BYTES`], what askers read).
    pub max_answer_bytes: u64,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_concurrent: 16,
            max_concurrent_per_peer: 4,
            max_answer_bytes: MAX_ANSWER_BYTES,
        }
    }
}

/// The keys of a request that one answer covers: a prefix, planned like the asker plans its
/// requests (by the size flags' bounds, [`affordable`]) so that the nodes read never exceed
/// `max_answer_bytes`; the asker asks again for the rest.
pub fn answered_prefix(keys: &[Key], max_answer_bytes: u64) -> &[Key] {
    &keys[..affordable(keys, max_answer_bytes.min(MAX_ANSWER_BYTES))]
}

/// The answer carrying `found` (the nodes read for [`answered_prefix`], in order): a key not
/// found, or whose node would take the answer past `max_answer_bytes`, is `NotFound`.
pub fn answer_of(found: Vec<Option<Bytes>>, max_answer_bytes: u64) -> BlockResponse {
    let max_answer_bytes = max_answer_bytes.min(MAX_ANSWER_BYTES);
    let mut total = 0u64;
    let items = found
        .into_iter()
        .map(|node| match node {
            Some(bytes) if total + bytes.len() as u64 <= max_answer_bytes => {
                total += bytes.len() as u64;
                GetItem::Node(bytes)
            }
            _ => GetItem::NotFound,
        })
        .collect();
    BlockResponse::Nodes(items)
}

/// Answers a request for `keys` from `storage`: the [`answered_prefix`]'s nodes, read together
/// (one `IndexedDbStorage` transaction). A key the storage does not have or cannot read is
/// `NotFound`.
pub async fn answer<S: StorageProvider>(
    storage: &S,
    keys: &[Key],
    max_answer_bytes: u64,
) -> BlockResponse {
    let prefix = answered_prefix(keys, max_answer_bytes);
    let found = join_all(prefix.iter().map(|key| storage.get(*key))).await;
    answer_of(
        found.into_iter().map(|r| r.ok().flatten()).collect(),
        max_answer_bytes,
    )
}

/// The requests being answered, in all and per peer.
#[derive(Debug)]
pub struct PeerGate<P> {
    limits: ServeLimits,
    total: usize,
    per_peer: HashMap<P, usize>,
}

impl<P: Hash + Eq + Clone> PeerGate<P> {
    pub fn new(limits: ServeLimits) -> PeerGate<P> {
        PeerGate {
            limits,
            total: 0,
            per_peer: HashMap::new(),
        }
    }

    /// Changes the limits; requests already admitted stay counted.
    pub fn set_limits(&mut self, limits: ServeLimits) {
        self.limits = limits;
    }

    /// Admits a request of `peer`, or says why not. An admitted request must be [`Self::leave`]d.
    pub fn enter(&mut self, peer: &P) -> Result<(), Refusal> {
        let current = self.per_peer.get(peer).copied().unwrap_or(0);
        if self.total >= self.limits.max_concurrent
            || current >= self.limits.max_concurrent_per_peer
        {
            return Err(Refusal::Busy);
        }
        self.total += 1;
        self.per_peer.insert(peer.clone(), current + 1);
        Ok(())
    }

    /// Ends an admitted request of `peer`.
    pub fn leave(&mut self, peer: &P) {
        if let Some(count) = self.per_peer.get_mut(peer) {
            *count -= 1;
            self.total -= 1;
            if *count == 0 {
                self.per_peer.remove(peer);
            }
        }
    }

    /// Requests being answered.
    pub fn active(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::storage::MemoryStorage;

    fn stored(storage: &MemoryStorage, len: usize, seed: u8) -> Key {
        let bytes = crate::node::encode_successor(&[], &vec![seed; len], 0).unwrap();
        let key = Key::for_bytes(&bytes);
        block_on(storage.put(key, Bytes::from(bytes))).unwrap();
        key
    }

    #[test]
    fn answers_hold_what_the_storage_has_within_the_byte_limit() {
        let storage = MemoryStorage::new();
        let a = stored(&storage, 1000, 1);
        let b = stored(&storage, 1000, 2);
        let absent = Key::for_bytes(b"absent");
        let BlockResponse::Nodes(items) = block_on(answer(&storage, &[a, absent, b], 1 << 20))
        else {
            panic!("nodes expected");
        };
        assert!(matches!(&items[0], GetItem::Node(bytes) if a.matches(bytes)));
        assert_eq!(items[1], GetItem::NotFound);
        assert!(matches!(&items[2], GetItem::Node(bytes) if b.matches(bytes)));
        // Room for one node's size-flag bound only: a prefix of one.
        let bound = a.max_node_len();
        let BlockResponse::Nodes(items) = block_on(answer(&storage, &[a, b], bound)) else {
            panic!("nodes expected");
        };
        assert_eq!(items.len(), 1);
        // A node larger than the limit is not sent.
        let BlockResponse::Nodes(items) = block_on(answer(&storage, &[a], 100)) else {
            panic!("nodes expected");
        };
        assert_eq!(items, vec![GetItem::NotFound]);
    }

    #[test]
    fn the_gate_bounds_requests_in_all_and_per_peer() {
        let mut gate = PeerGate::new(ServeLimits {
            max_concurrent: 3,
            max_concurrent_per_peer: 2,
            max_answer_bytes: 1,
        });
        assert_eq!(gate.enter(&"a"), Ok(()));
        assert_eq!(gate.enter(&"a"), Ok(()));
        assert_eq!(gate.enter(&"a"), Err(Refusal::Busy));
        assert_eq!(gate.enter(&"b"), Ok(()));
        assert_eq!(gate.enter(&"c"), Err(Refusal::Busy), "3 in all");
        gate.leave(&"a");
        assert_eq!(gate.enter(&"c"), Ok(()));
        assert_eq!(gate.active(), 3);
        gate.leave(&"unknown");
        assert_eq!(gate.active(), 3);
    }
}
