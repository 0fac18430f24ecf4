//! What a `get_providers` query found so far: providers without duplicates, each with the
//! addresses to dial it (bounded: a hostile answer cannot make a lookup hold more than
//! [`MAX_ADDRS_PER_PROVIDER`] addresses of [`MAX_ADDR_BYTES`] each per provider), and when the
//! lookup is complete.

use std::collections::HashMap;

use libp2p::core::Endpoint;
use libp2p::kad::store::RecordStore;
use libp2p::kad::{self, GetProvidersError, GetProvidersOk, QueryId, RecordKey};
use libp2p::swarm::{ConnectionId, NetworkBehaviour};
use libp2p::{Multiaddr, PeerId, Swarm};

use super::Provider;

/// Most addresses kept for one provider.
pub const MAX_ADDRS_PER_PROVIDER: usize = 8;
/// Longest address kept, in bytes of its binary form.
pub const MAX_ADDR_BYTES: usize = 256;

/// The providers a lookup has found, up to its limit.
#[derive(Debug)]
pub struct ProviderLookup {
    limit: usize,
    found: Vec<Provider>,
}

impl ProviderLookup {
    /// A lookup that is complete once `limit` providers are known (at least 1).
    pub fn new(limit: usize) -> ProviderLookup {
        ProviderLookup {
            limit: limit.max(1),
            found: Vec::new(),
        }
    }

    /// The providers found so far.
    pub fn found(&self) -> &[Provider] {
        &self.found
    }

    /// Takes in one step of query `id` (`last`: its final one) and says whether the lookup is
    /// complete (the query is then finished early if it was not the last step). New providers
    /// get their addresses from `kad` (its store and routing table); `local` with `external`
    /// are this node, which may be a provider itself.
    pub fn step<S: RecordStore + Send + 'static>(
        &mut self,
        kad: &mut kad::Behaviour<S>,
        id: QueryId,
        local: PeerId,
        external: &[Multiaddr],
        result: &Result<GetProvidersOk, GetProvidersError>,
        last: bool,
    ) -> bool {
        if let Ok(GetProvidersOk::FoundProviders { key, providers }) = result {
            for peer in providers {
                let peer_id = peer.to_string();
                if self.found.len() >= self.limit || self.found.iter().any(|p| p.peer_id == peer_id)
                {
                    continue;
                }
                let addrs = provider_addresses(kad, local, external, key, *peer);
                self.found.push(Provider { peer_id, addrs });
            }
        }
        let complete = last || self.found.len() >= self.limit;
        if complete && !last {
            if let Some(mut query) = kad.query_mut(&id) {
                query.finish();
            }
        }
        complete
    }

    /// The providers, at most the limit.
    pub fn finish(self) -> Vec<Provider> {
        self.found
    }
}

/// The provider lookups a node has running: per query its [`ProviderLookup`] and the reply
/// (`R`, the node's own channel type) of whoever waits for it.
#[derive(Debug)]
pub struct Lookups<R> {
    running: HashMap<QueryId, (ProviderLookup, R)>,
}

impl<R> Default for Lookups<R> {
    fn default() -> Self {
        Lookups {
            running: HashMap::new(),
        }
    }
}

impl<R> Lookups<R> {
    /// Tracks query `id`, complete once `limit` providers are known.
    pub fn start(&mut self, id: QueryId, limit: usize, reply: R) {
        self.running.insert(id, (ProviderLookup::new(limit), reply));
    }

    /// Takes in one step of query `id` of `swarm`, whose Kademlia behaviour `kad` picks (see
    /// [`ProviderLookup::step`]); once the lookup is complete, returns its reply with the
    /// providers found, for the caller to send.
    pub fn on_step<B: NetworkBehaviour, S: RecordStore + Send + 'static>(
        &mut self,
        swarm: &mut Swarm<B>,
        kad: fn(&mut B) -> &mut kad::Behaviour<S>,
        id: QueryId,
        result: &Result<GetProvidersOk, GetProvidersError>,
        last: bool,
    ) -> Option<(R, Vec<Provider>)> {
        let (lookup, _) = self.running.get_mut(&id)?;
        let local = *swarm.local_peer_id();
        let external: Vec<Multiaddr> = swarm.external_addresses().cloned().collect();
        if !lookup.step(kad(swarm.behaviour_mut()), id, local, &external, result, last) {
            return None;
        }
        let (lookup, reply) = self.running.remove(&id)?;
        Some((reply, lookup.finish()))
    }

    /// Stops tracking query `id` (its deadline passed): the lookup and its reply.
    pub fn take(&mut self, id: &QueryId) -> Option<(ProviderLookup, R)> {
        self.running.remove(id)
    }
}

/// Addresses of a provider a lookup just reported: those of a record in the local store (this
/// node keeps it, or is itself the provider: then its external addresses), then those Kademlia
/// keeps from the answering peers' responses and its routing table (handed out for a dial).
/// Each ends in `/p2p/<peer>`, without duplicates, bounded in number and length.
fn provider_addresses<S: RecordStore + Send + 'static>(
    kad: &mut kad::Behaviour<S>,
    local: PeerId,
    external: &[Multiaddr],
    key: &RecordKey,
    peer: PeerId,
) -> Vec<String> {
    let mut addrs: Vec<Multiaddr> = if peer == local {
        external.to_vec()
    } else {
        Vec::new()
    };
    for record in kad.store_mut().providers(key) {
        if record.provider == peer {
            addrs.extend(record.addresses);
        }
    }
    addrs.extend(
        kad.handle_pending_outbound_connection(
            ConnectionId::new_unchecked(0),
            Some(peer),
            &[],
            Endpoint::Dialer,
        )
        .unwrap_or_default(),
    );
    let mut unique: Vec<String> = Vec::new();
    for addr in addrs {
        if unique.len() == MAX_ADDRS_PER_PROVIDER {
            break;
        }
        if addr.len() > MAX_ADDR_BYTES {
            continue;
        }
        let text = addr.with_p2p(peer).unwrap_or_else(|a| a).to_string();
        if !unique.contains(&text) {
            unique.push(text);
        }
    }
    unique
}
