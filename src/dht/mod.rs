//! The libp2p DHT core every casweb node shares, the browser's `P2pNode` and the reference
//! server's node alike (Cargo feature `dht`; no transport, so it builds natively and in wasm):
//! protocol names, the DHT key of a casweb key, the Kademlia, identify and ping settings, the
//! bounded provider store, and the provider-lookup accumulators.
//!
//! - [`store`]: [`ProviderStore`], the record store with per-peer quotas and a memory bound,
//!   whose answers always fit a Kademlia message;
//! - [`lookup`]: [`ProviderLookup`], what a `get_providers` query found so far.

pub mod lookup;
pub mod store;

use std::time::Duration;

use libp2p::identity::PublicKey;
use libp2p::kad::{self, RecordKey};
use libp2p::{identify, ping, StreamProtocol};
use serde::Serialize;

use crate::key::{Key, KEY_LEN};

pub use lookup::{LookupProgress, LookupReply, Lookups, ProviderLookup, SETTLE_MS};
pub use store::{ProviderStore, StoreLimits};

/// The Kademlia protocol name of casweb's DHT (private: other libp2p DHTs are not joined).
/// Version 2 addresses keys as multihashes ([`record_key`]); version 1 used the 16 raw bytes.
pub const KAD_PROTOCOL: &str = "/casweb/kad/2.0.0";
/// The multihash code of a casweb key, from the multicodec table's private-use range
/// (0x300000-0x3fffff). Not `identity` (0x00), which means "the digest is the content", nor
/// `blake3` (0x1e), since a casweb key is BLAKE3-128 with its first byte replaced by a size
/// flag: a verifier hashing the content with BLAKE3 would find a different first byte.
pub const MULTIHASH_CODE: u64 = 0x30_0cab;
/// Identify protocol version announced by casweb nodes.
pub const IDENTIFY_PROTOCOL: &str = "/casweb/id/1.0.0";

/// The DHT key of a casweb key: the key as a multihash, `varint(MULTIHASH_CODE) varint(16)`
/// then its 16 bytes (20 bytes in all). The multihash of a CIDv1 made from it, e.g.
/// `CID.createV1(0x55, Digest.create(0x300cab, key))` in js-multiformats, so IPFS tooling
/// (js-libp2p's kad-dht, Helia) can announce and find casweb keys natively.
pub fn record_key(key: &Key) -> RecordKey {
    let mut bytes = Vec::with_capacity(MULTIHASH_PREFIX.len() + KEY_LEN);
    bytes.extend_from_slice(&MULTIHASH_PREFIX);
    bytes.extend_from_slice(key.as_bytes());
    RecordKey::new(&bytes)
}

/// The multihash prefix of a DHT key: `MULTIHASH_CODE` and the digest length 16, as varints.
const MULTIHASH_PREFIX: [u8; 5] = [0xab, 0x99, 0xc0, 0x01, KEY_LEN as u8];

/// The casweb key a DHT key names, if it is one (anything else is refused by casweb nodes).
pub fn key_of_record(record: &RecordKey) -> Option<Key> {
    let key = record.as_ref().strip_prefix(&MULTIHASH_PREFIX)?;
    Key::from_slice(key).ok()
}

/// True for a DHT key that names a casweb key.
pub fn is_record_key(key: &RecordKey) -> bool {
    key_of_record(key).is_some()
}

/// What every casweb DHT protocol name starts with, whatever its version.
const CASWEB_KAD_PREFIX: &str = "/casweb/kad/";

/// The casweb DHT versions in `protocols` (a peer's, from identify), comma-separated, if it
/// speaks casweb's DHT but not this version ([`KAD_PROTOCOL`]): such a peer answers no query.
pub fn other_casweb_dht(protocols: &[StreamProtocol]) -> Option<String> {
    let casweb: Vec<&str> = protocols
        .iter()
        .map(|p| p.as_ref())
        .filter(|p| p.starts_with(CASWEB_KAD_PREFIX))
        .collect();
    (!casweb.is_empty() && !casweb.contains(&KAD_PROTOCOL)).then(|| casweb.join(", "))
}

/// A provider found by a lookup: who, and where to dial it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub peer_id: String,
    /// Dialable addresses, each ending in `/p2p/<peer id>`.
    pub addrs: Vec<String>,
}

/// Kademlia settings of every casweb node: the protocol, how long one query may run, and how
/// long provider records live: `Some(ttl)` for a DHT server (republished at half the TTL),
/// `None` for a browser, whose own records never expire locally (re-announcing is the caller's
/// or the Advertiser's job).
pub fn kad_config(provider_ttl: Option<Duration>, query_timeout: Duration) -> kad::Config {
    let mut config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
    config
        .set_provider_record_ttl(provider_ttl)
        .set_provider_publication_interval(provider_ttl.map(|ttl| ttl / 2))
        .set_query_timeout(query_timeout);
    config
}

/// The identify behaviour of every casweb node (announcing [`IDENTIFY_PROTOCOL`]).
pub fn identify_behaviour(public: PublicKey) -> identify::Behaviour {
    identify::Behaviour::new(identify::Config::new(IDENTIFY_PROTOCOL.into(), public))
}

/// The ping behaviour of every casweb node (libp2p's defaults: a ping every 15 s).
pub fn ping_behaviour() -> ping::Behaviour {
    ping::Behaviour::new(ping::Config::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends `value` as an unsigned LEB128 varint (the multiformats varint).
    fn push_varint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    #[test]
    fn peers_of_another_casweb_dht_version_are_recognised() {
        let list = |names: &[&'static str]| -> Vec<StreamProtocol> {
            names.iter().map(|n| StreamProtocol::new(n)).collect()
        };
        assert_eq!(
            other_casweb_dht(&list(&["/ipfs/id/1.0.0", "/casweb/kad/1.0.0"])),
            Some("/casweb/kad/1.0.0".into())
        );
        assert_eq!(
            other_casweb_dht(&list(&["/casweb/kad/1.0.0", KAD_PROTOCOL])),
            None
        );
        assert_eq!(other_casweb_dht(&list(&["/ipfs/kad/1.0.0"])), None);
        assert_eq!(other_casweb_dht(&[]), None);
    }

    #[test]
    fn dht_keys_are_multihashes_of_casweb_keys() {
        let mut prefix = Vec::new();
        push_varint(&mut prefix, MULTIHASH_CODE);
        push_varint(&mut prefix, KEY_LEN as u64);
        assert_eq!(prefix, MULTIHASH_PREFIX);
        let key = Key::for_bytes(b"a node");
        let record = record_key(&key);
        // 0x300cab as a varint is ab 99 c0 01; the length 16 is 10.
        assert_eq!(record.as_ref().len(), 21);
        assert_eq!(key_of_record(&record), Some(key));
        // The raw 16 bytes (version 1), other codes, other lengths and bad keys are refused.
        assert!(!is_record_key(&RecordKey::new(key.as_bytes())));
        let mut other_code = record.as_ref().to_vec();
        other_code[0] = 0x1e;
        assert!(!is_record_key(&RecordKey::new(&other_code)));
        assert!(!is_record_key(&RecordKey::new(
            &record.as_ref()[..20].to_vec()
        )));
        let mut bad_flag = record.as_ref().to_vec();
        bad_flag[5] = 0x10; // H = 1, L = 0: not canonical
        assert!(!is_record_key(&RecordKey::new(&bad_flag)));
        assert!(!is_record_key(&RecordKey::new(&[])));
    }
}
