//! [`ProviderStore`]: the Kademlia record store of every casweb node, bounded so that no single
//! peer can hide a key or grow a node's memory beyond its quota.
//!
//! - Keys must be casweb DHT keys ([`super::is_record_key`]); value records are refused (casweb
//!   only uses provider records).
//! - A record keeps at most [`StoreLimits::addrs_per_record`] addresses, each at most
//!   [`StoreLimits::addr_bytes`] long, without a trailing `/p2p/<provider>` (it is implied) and
//!   without duplicates.
//! - Each provider peer has a quota of records; a peer over it displaces its own oldest record.
//!   The whole store has a byte bound; over it, the oldest record of the peer holding the most
//!   goes. So a flood costs only the flooder. This node's own records are never evicted (their
//!   number is bounded separately).
//! - A key keeps at most [`StoreLimits::providers_per_key`] providers (the oldest is replaced).
//! - [`providers`](RecordStore::providers) answers with the most recently refreshed records
//!   first and stops before [`StoreLimits::answer_bytes`], so a GET_PROVIDERS answer always fits
//!   a Kademlia message (16 KiB, with room left for the closer peers).
//! - This node's own records carry its current addresses ([`ProviderStore::set_local_addresses`]),
//!   once each, so an answer never lists them twice.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::iter;

use libp2p::kad::store::{Error, RecordStore, Result};
use libp2p::kad::{ProviderRecord, Record, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use super::is_record_key;

/// The bounds of a [`ProviderStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most addresses kept per record.
    pub addrs_per_record: usize,
    /// Longest address kept, in bytes of its binary form.
    pub addr_bytes: usize,
    /// Most providers kept per key.
    pub providers_per_key: usize,
    /// Most records one provider peer may have in the store (this node excepted).
    pub records_per_peer: usize,
    /// Most keys this node provides itself.
    pub own_records: usize,
    /// Bound on the bytes the records of other peers take (as [`record_bytes`] counts them).
    pub total_bytes: usize,
    /// Bound on the encoded size of the providers of one GET_PROVIDERS answer.
    pub answer_bytes: usize,
}

impl Default for StoreLimits {
    /// Sized for a server: 10 000 records per peer (a browser announcing a large library), 64 MiB
    /// in all (about 300 000 records of typical size), 8 KiB of providers per answer.
    fn default() -> StoreLimits {
        StoreLimits {
            addrs_per_record: 4,
            addr_bytes: 128,
            providers_per_key: 20,
            records_per_peer: 10_000,
            own_records: 1_000_000,
            total_bytes: 64 * 1024 * 1024,
            answer_bytes: 8 * 1024,
        }
    }
}

/// What a stored record costs, in bytes: the key, the peer id, the addresses and a fixed
/// overhead for the maps that hold it.
pub fn record_bytes(record: &ProviderRecord) -> usize {
    const OVERHEAD: usize = 96;
    record.key.as_ref().len()
        + record.provider.to_bytes().len()
        + record.addresses.iter().map(Multiaddr::len).sum::<usize>()
        + OVERHEAD
}

/// What a provider adds to an encoded GET_PROVIDERS answer: its peer id and addresses, each
/// with protobuf framing.
fn answer_bytes(peer: &PeerId, addresses: &[Multiaddr]) -> usize {
    const FRAMING: usize = 4;
    peer.to_bytes().len() + FRAMING * 2 + addresses.iter().map(|a| a.len() + FRAMING).sum::<usize>()
}

#[derive(Debug, Clone)]
struct Stored {
    record: ProviderRecord,
    /// Insertion (or refresh) order: smaller is older.
    seq: u64,
}

/// A bounded provider store; see the module documentation.
#[derive(Debug)]
pub struct ProviderStore {
    local: PeerId,
    limits: StoreLimits,
    local_addresses: Vec<Multiaddr>,
    providers: HashMap<RecordKey, Vec<Stored>>,
    /// Every record of another peer by age: seq -> (key, provider).
    by_age: BTreeMap<u64, (RecordKey, PeerId)>,
    /// Per provider: seq of each of its records (oldest first).
    by_peer: HashMap<PeerId, BTreeMap<u64, RecordKey>>,
    own: usize,
    bytes: usize,
    next_seq: u64,
    /// Records refused or evicted since the store was made (for logs and metrics).
    pub capped: u64,
}

impl ProviderStore {
    pub fn new(local: PeerId, limits: StoreLimits) -> ProviderStore {
        ProviderStore {
            local,
            limits,
            local_addresses: Vec::new(),
            providers: HashMap::new(),
            by_age: BTreeMap::new(),
            by_peer: HashMap::new(),
            own: 0,
            bytes: 0,
            next_seq: 0,
            capped: 0,
        }
    }

    /// The addresses this node's own records carry (its external addresses), deduplicated and
    /// bounded like any record's.
    pub fn set_local_addresses(&mut self, addresses: impl IntoIterator<Item = Multiaddr>) {
        self.local_addresses = self.normalize(self.local, addresses.into_iter().collect());
    }

    /// Records held for other peers, and the bytes they take.
    pub fn usage(&self) -> (usize, usize) {
        (self.by_age.len(), self.bytes)
    }

    /// Records `peer` has in the store.
    pub fn records_of(&self, peer: &PeerId) -> usize {
        self.by_peer.get(peer).map_or(0, BTreeMap::len)
    }

    /// The addresses of a record as kept: without `/p2p/<provider>`, once each, within bounds.
    fn normalize(&self, provider: PeerId, addresses: Vec<Multiaddr>) -> Vec<Multiaddr> {
        let mut kept: Vec<Multiaddr> = Vec::new();
        for mut addr in addresses {
            if let Some(Protocol::P2p(peer)) = addr.iter().last() {
                if peer != provider {
                    continue; // an address of another peer
                }
                addr.pop();
            }
            if addr.is_empty() || addr.len() > self.limits.addr_bytes || kept.contains(&addr) {
                continue;
            }
            kept.push(addr);
            if kept.len() == self.limits.addrs_per_record {
                break;
            }
        }
        kept
    }

    /// Removes one stored record (bookkeeping included); returns it.
    fn take(&mut self, key: &RecordKey, provider: &PeerId) -> Option<Stored> {
        let list = self.providers.get_mut(key)?;
        let index = list.iter().position(|s| &s.record.provider == provider)?;
        let stored = list.remove(index);
        if list.is_empty() {
            self.providers.remove(key);
        }
        if *provider == self.local {
            self.own -= 1;
        } else {
            self.by_age.remove(&stored.seq);
            if let Some(seqs) = self.by_peer.get_mut(provider) {
                seqs.remove(&stored.seq);
                if seqs.is_empty() {
                    self.by_peer.remove(provider);
                }
            }
            self.bytes -= record_bytes(&stored.record);
        }
        Some(stored)
    }

    /// Evicts the oldest record of `peer` (`why` goes to the log).
    fn evict_oldest_of(&mut self, peer: PeerId, why: &str) {
        let oldest = self
            .by_peer
            .get(&peer)
            .and_then(|seqs| seqs.first_key_value())
            .map(|(_, key)| key.clone());
        if let Some(key) = oldest {
            self.take(&key, &peer);
            self.capped += 1;
            tracing::warn!(%peer, why, "provider record evicted");
        }
    }

    /// The peer with the most records (ties: the one whose oldest record is oldest).
    fn heaviest_peer(&self) -> Option<PeerId> {
        self.by_peer
            .iter()
            .max_by_key(|(_, seqs)| {
                (
                    seqs.len(),
                    std::cmp::Reverse(seqs.keys().next().copied().unwrap_or(0)),
                )
            })
            .map(|(peer, _)| *peer)
    }
}

impl RecordStore for ProviderStore {
    type RecordsIter<'a> = iter::Empty<Cow<'a, Record>>;
    type ProvidedIter<'a> = Box<dyn Iterator<Item = Cow<'a, ProviderRecord>> + 'a>;

    fn get(&self, _key: &RecordKey) -> Option<Cow<'_, Record>> {
        None
    }

    /// casweb stores no value records.
    fn put(&mut self, _record: Record) -> Result<()> {
        Err(Error::ValueTooLarge)
    }

    fn remove(&mut self, _key: &RecordKey) {}

    fn records(&self) -> Self::RecordsIter<'_> {
        iter::empty()
    }

    fn add_provider(&mut self, mut record: ProviderRecord) -> Result<()> {
        if !is_record_key(&record.key) {
            self.capped += 1;
            tracing::warn!(
                peer = %record.provider,
                key_bytes = record.key.as_ref().len(),
                "provider record refused: not a casweb key"
            );
            return Err(Error::ValueTooLarge);
        }
        let provider = record.provider;
        let own = provider == self.local;
        record.addresses = if own {
            Vec::new() // filled in with the current local addresses when answering
        } else {
            let offered = record.addresses.len();
            let oversized = offered > self.limits.addrs_per_record
                || record
                    .addresses
                    .iter()
                    .any(|a| a.len() > self.limits.addr_bytes);
            let kept = self.normalize(provider, std::mem::take(&mut record.addresses));
            if oversized {
                self.capped += 1;
                tracing::warn!(%provider, offered, kept = kept.len(), "provider record capped");
            }
            kept
        };
        let refreshed = self.take(&record.key, &provider).is_some();
        if own {
            if !refreshed && self.own >= self.limits.own_records {
                return Err(Error::MaxProvidedKeys);
            }
            self.own += 1;
        } else {
            if self.records_of(&provider) >= self.limits.records_per_peer {
                self.evict_oldest_of(provider, "the peer is at its quota");
            }
            let size = record_bytes(&record);
            while self.bytes + size > self.limits.total_bytes {
                match self.heaviest_peer() {
                    Some(heaviest) => {
                        self.evict_oldest_of(heaviest, "the store is full: heaviest peer first")
                    }
                    None => break,
                }
            }
        }
        let full = self
            .providers
            .get(&record.key)
            .is_some_and(|list| list.len() >= self.limits.providers_per_key);
        if full {
            // Replace the oldest record of another peer (never this node's own).
            let oldest = self.providers[&record.key]
                .iter()
                .filter(|s| s.record.provider != self.local)
                .min_by_key(|s| s.seq)
                .map(|s| s.record.provider);
            match oldest {
                Some(peer) => {
                    self.take(&record.key, &peer);
                    self.capped += 1;
                    tracing::warn!(%peer, "provider record replaced: the key has enough providers");
                }
                None => return Err(Error::MaxRecords),
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if !own {
            self.bytes += record_bytes(&record);
            self.by_age.insert(seq, (record.key.clone(), provider));
            self.by_peer
                .entry(provider)
                .or_default()
                .insert(seq, record.key.clone());
        }
        self.providers
            .entry(record.key.clone())
            .or_default()
            .push(Stored { record, seq });
        Ok(())
    }

    /// The key's providers, most recently refreshed first, within the answer budget.
    fn providers(&self, key: &RecordKey) -> Vec<ProviderRecord> {
        let Some(list) = self.providers.get(key) else {
            return Vec::new();
        };
        let mut newest_first: Vec<&Stored> = list.iter().collect();
        newest_first.sort_by_key(|s| std::cmp::Reverse(s.seq));
        let mut budget = self.limits.answer_bytes;
        let mut answer = Vec::new();
        for stored in newest_first {
            let mut record = stored.record.clone();
            if record.provider == self.local {
                record.addresses = self.local_addresses.clone();
            }
            let cost = answer_bytes(&record.provider, &record.addresses);
            if cost > budget {
                continue;
            }
            budget -= cost;
            answer.push(record);
        }
        answer
    }

    fn provided(&self) -> Self::ProvidedIter<'_> {
        Box::new(
            self.providers
                .values()
                .flatten()
                .filter(|s| s.record.provider == self.local)
                .map(|s| Cow::Borrowed(&s.record)),
        )
    }

    fn remove_provider(&mut self, key: &RecordKey, provider: &PeerId) {
        self.take(key, provider);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dht::record_key;
    use crate::key::Key;

    fn key(n: u32) -> RecordKey {
        record_key(&Key::for_bytes(&n.to_le_bytes()))
    }

    fn record(key: RecordKey, provider: PeerId, addresses: Vec<Multiaddr>) -> ProviderRecord {
        ProviderRecord {
            key,
            provider,
            expires: None,
            addresses,
        }
    }

    fn addr(n: u32) -> Multiaddr {
        format!(
            "/ip4/10.0.{}.{}/tcp/{}",
            n / 256 % 256,
            n % 256,
            1000 + n % 60000
        )
        .parse()
        .unwrap()
    }

    fn findable(store: &ProviderStore, key: &RecordKey, peer: &PeerId) -> bool {
        store.providers(key).iter().any(|r| &r.provider == peer)
    }

    #[test]
    fn keys_must_be_casweb_keys_and_value_records_are_refused() {
        let mut store = ProviderStore::new(PeerId::random(), StoreLimits::default());
        let peer = PeerId::random();
        for bad in [
            RecordKey::new(&[]),
            RecordKey::new(&[1u8; 15]),
            RecordKey::new(&[1u8; 17]),
        ] {
            assert!(store.add_provider(record(bad, peer, vec![])).is_err());
        }
        assert_eq!(store.usage().0, 0);
        assert!(store.put(Record::new(key(1), vec![1])).is_err());
    }

    #[test]
    fn addresses_are_bounded_normalized_and_unique() {
        let mut store = ProviderStore::new(PeerId::random(), StoreLimits::default());
        let peer = PeerId::random();
        let other = PeerId::random();
        let long: Multiaddr = format!("/dns4/{}.example/tcp/1", "a".repeat(200))
            .parse()
            .unwrap();
        let mut addresses = vec![
            addr(1).with(Protocol::P2p(peer)),
            addr(1),
            addr(2).with(Protocol::P2p(other)),
            long,
        ];
        addresses.extend((3..600).map(addr));
        store.add_provider(record(key(1), peer, addresses)).unwrap();
        let kept = &store.providers(&key(1))[0].addresses;
        assert_eq!(kept.len(), 4);
        assert_eq!(
            kept[0],
            addr(1),
            "/p2p/<provider> is implied, duplicates dropped"
        );
        assert!(
            !kept.contains(&addr(2)),
            "an address of another peer is dropped"
        );
        assert!(kept.iter().all(|a| a.len() <= 128));
    }

    #[test]
    fn a_flood_from_one_peer_leaves_every_other_peers_records_findable() {
        let limits = StoreLimits {
            records_per_peer: 500,
            total_bytes: 400 * 1024,
            ..StoreLimits::default()
        };
        let mut store = ProviderStore::new(PeerId::random(), limits);
        let honest: Vec<PeerId> = (0..20).map(|_| PeerId::random()).collect();
        for (i, peer) in honest.iter().enumerate() {
            store
                .add_provider(record(key(i as u32), *peer, vec![addr(i as u32)]))
                .unwrap();
        }
        let flooder = PeerId::random();
        let maximal: Vec<Multiaddr> = (0..560).map(addr).collect();
        for n in 0..20_000 {
            // The same keys the honest peers provide, and many more.
            let _ = store.add_provider(record(key(n % 5_000), flooder, maximal.clone()));
        }
        assert!(store.records_of(&flooder) <= 500);
        assert!(store.usage().1 <= 400 * 1024, "{:?}", store.usage());
        for (i, peer) in honest.iter().enumerate() {
            assert!(
                findable(&store, &key(i as u32), peer),
                "peer {i} was hidden"
            );
        }
        // A thousand Sybil peers on one key: every answer stays within the budget.
        for _ in 0..1_000 {
            let sybil = PeerId::random();
            let _ = store.add_provider(record(key(3), sybil, maximal.clone()));
        }
        let answer = store.providers(&key(3));
        let size: usize = answer
            .iter()
            .map(|r| answer_bytes(&r.provider, &r.addresses))
            .sum();
        assert!(size <= StoreLimits::default().answer_bytes, "{size} bytes");
        assert!(answer.len() <= 20);
    }

    #[test]
    fn the_global_bound_evicts_the_heaviest_peer_first() {
        let limits = StoreLimits {
            records_per_peer: 100_000,
            total_bytes: 64 * 1024,
            ..StoreLimits::default()
        };
        let mut store = ProviderStore::new(PeerId::random(), limits);
        let light = PeerId::random();
        store
            .add_provider(record(key(0), light, vec![addr(0)]))
            .unwrap();
        let heavy = PeerId::random();
        for n in 1..5_000 {
            store
                .add_provider(record(key(n), heavy, vec![addr(n)]))
                .unwrap();
        }
        assert!(store.usage().1 <= 64 * 1024);
        assert!(findable(&store, &key(0), &light));
        assert!(store.capped > 0);
        // The newest records of the heavy peer stay, the oldest went.
        assert!(findable(&store, &key(4_999), &heavy));
        assert!(!findable(&store, &key(1), &heavy));
    }

    #[test]
    fn own_records_carry_the_local_addresses_once_and_are_never_evicted() {
        let local = PeerId::random();
        let limits = StoreLimits {
            providers_per_key: 3,
            ..StoreLimits::default()
        };
        let mut store = ProviderStore::new(local, limits);
        store.set_local_addresses(vec![addr(1), addr(1), addr(2).with(Protocol::P2p(local))]);
        store.add_provider(record(key(7), local, vec![])).unwrap();
        for _ in 0..10 {
            store
                .add_provider(record(key(7), PeerId::random(), vec![addr(3)]))
                .unwrap();
        }
        let answer = store.providers(&key(7));
        let own = answer
            .iter()
            .find(|r| r.provider == local)
            .expect("own record kept");
        assert_eq!(own.addresses, vec![addr(1), addr(2)]);
        assert_eq!(answer.len(), 3);
        assert_eq!(store.provided().count(), 1);
        store.remove_provider(&key(7), &local);
        assert_eq!(store.provided().count(), 0);
    }

    #[test]
    fn a_refresh_replaces_the_record_and_keeps_the_accounting_straight() {
        let mut store = ProviderStore::new(PeerId::random(), StoreLimits::default());
        let peer = PeerId::random();
        for _ in 0..10 {
            store
                .add_provider(record(key(1), peer, vec![addr(1)]))
                .unwrap();
        }
        assert_eq!(store.records_of(&peer), 1);
        let (records, bytes) = store.usage();
        assert_eq!(records, 1);
        store.remove_provider(&key(1), &peer);
        assert_eq!(store.usage(), (0, 0));
        assert!(bytes > 0);
    }
}
