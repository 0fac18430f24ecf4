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

pub use lookup::{Lookups, ProviderLookup};
pub use store::{ProviderStore, StoreLimits};

/// The Kademlia protocol name of casweb's DHT (private: other libp2p DHTs are not joined).
pub const KAD_PROTOCOL: &str = "/casweb/kad/1.0.0";
/// Identify protocol version announced by casweb nodes.
pub const IDENTIFY_PROTOCOL: &str = "/casweb/id/1.0.0";

/// The DHT key of a casweb key: its 16 raw bytes.
pub fn record_key(key: &Key) -> RecordKey {
    RecordKey::new(key.as_bytes())
}

/// True for a DHT key that names a casweb key (anything else is refused by casweb nodes).
pub fn is_record_key(key: &RecordKey) -> bool {
    key.as_ref().len() == KEY_LEN
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
