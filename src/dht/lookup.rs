//! What a `get_providers` query found so far: providers without duplicates, each with the
//! addresses to dial it (bounded: a hostile answer cannot make a lookup hold more than
//! [`MAX_ADDRS_PER_PROVIDER`] addresses of [`MAX_ADDR_BYTES`] each per provider), and when the
//! lookup is complete: once its limit of providers is known, its query ends, or
//! [`SETTLE_MS`] after its first providers arrived.

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

/// Once a lookup knows a provider, how much longer it waits for more before answering, in ms.
/// The peers that hold the records answer within a round trip; the rest of a query can be peers
/// that are gone (a closed page still in routing tables), each holding it up to Kademlia's
/// request timeout (10 s).
pub const SETTLE_MS: u32 = 1_000;

/// What one step of a lookup's query means for whoever waits for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupProgress {
    /// Complete: its caller is answered now.
    Complete,
    /// Its first providers just arrived: it answers with what it has [`SETTLE_MS`] from now at
    /// the latest (the node arms that deadline, and [`Lookups::expire`] answers).
    Settling,
    /// Still running.
    Running,
}

impl LookupProgress {
    /// The progress of a lookup that knows `found` of its `limit` providers after a step (`last`:
    /// its query's final one), `settling` if its first providers arrived at an earlier step.
    pub fn of(found: usize, limit: usize, last: bool, settling: bool) -> LookupProgress {
        if last || found >= limit {
            LookupProgress::Complete
        } else if found > 0 && !settling {
            LookupProgress::Settling
        } else {
            LookupProgress::Running
        }
    }
}

/// The providers a lookup has found, up to its limit.
#[derive(Debug)]
pub struct ProviderLookup {
    limit: usize,
    found: Vec<Provider>,
    /// Its first providers arrived: it answers at its settle deadline at the latest.
    settling: bool,
}

impl ProviderLookup {
    /// A lookup that is complete once `limit` providers are known (at least 1).
    pub fn new(limit: usize) -> ProviderLookup {
        ProviderLookup {
            limit: limit.max(1),
            found: Vec::new(),
            settling: false,
        }
    }

    /// The providers found so far.
    pub fn found(&self) -> &[Provider] {
        &self.found
    }

    /// Takes in one step of query `id` (`last`: its final one) and says what it means for the
    /// lookup (once complete, the query is finished early if it was not the last step). New providers
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
    ) -> LookupProgress {
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
        let progress = LookupProgress::of(self.found.len(), self.limit, last, self.settling);
        match progress {
            LookupProgress::Complete if !last => {
                if let Some(mut query) = kad.query_mut(&id) {
                    query.finish();
                }
            }
            LookupProgress::Settling => self.settling = true,
            _ => {}
        }
        progress
    }

    /// The providers, at most the limit.
    pub fn finish(self) -> Vec<Provider> {
        self.found
    }
}

/// Where a finished lookup's providers go: the waiting caller's reply channel (each node has
/// its own channel type and error type).
pub trait LookupReply {
    /// Answers the caller with the providers found.
    fn send_providers(self, providers: Vec<Provider>);
    /// Tells the caller its time ran out with nobody found.
    fn send_timeout(self);
}

/// The provider lookups a node (whose swarm's behaviour is `B`, Kademlia store `S`) has
/// running: per query its [`ProviderLookup`] and the reply of whoever waits for it.
pub struct Lookups<B, S, R> {
    /// Picks the Kademlia behaviour out of the node's behaviour.
    kad: fn(&mut B) -> &mut kad::Behaviour<S>,
    running: HashMap<QueryId, (ProviderLookup, R)>,
}

impl<B: NetworkBehaviour, S: RecordStore + Send + 'static, R: LookupReply> Lookups<B, S, R> {
    /// No lookups yet, for a node whose Kademlia behaviour `kad` picks.
    pub fn new(kad: fn(&mut B) -> &mut kad::Behaviour<S>) -> Self {
        Lookups {
            kad,
            running: HashMap::new(),
        }
    }

    /// Tracks query `id`, complete once `limit` providers are known.
    pub fn start(&mut self, id: QueryId, limit: usize, reply: R) {
        self.running.insert(id, (ProviderLookup::new(limit), reply));
    }

    /// Takes in one step of query `id` of `swarm` (see [`ProviderLookup::step`]); once the
    /// lookup is complete, answers its caller. True when its first providers just arrived: the
    /// node then arms a deadline of [`SETTLE_MS`] for `id` (which [`Lookups::expire`] answers).
    pub fn on_step(
        &mut self,
        swarm: &mut Swarm<B>,
        id: QueryId,
        result: &Result<GetProvidersOk, GetProvidersError>,
        last: bool,
    ) -> bool {
        let Some((lookup, _)) = self.running.get_mut(&id) else {
            return false;
        };
        let local = *swarm.local_peer_id();
        let external: Vec<Multiaddr> = swarm.external_addresses().cloned().collect();
        let kad = (self.kad)(swarm.behaviour_mut());
        match lookup.step(kad, id, local, &external, result, last) {
            LookupProgress::Complete => {
                if let Some((lookup, reply)) = self.running.remove(&id) {
                    reply.send_providers(lookup.finish());
                }
                false
            }
            LookupProgress::Settling => true,
            LookupProgress::Running => false,
        }
    }

    /// Query `id`'s time is up (its timeout, or its settle deadline): the query stops, and its
    /// caller gets what was found (a slow or silent peer cannot hold back providers already
    /// known), or a timeout if nothing was. A lookup already answered is left alone.
    pub fn expire(&mut self, swarm: &mut Swarm<B>, id: QueryId) {
        let Some((lookup, reply)) = self.running.remove(&id) else {
            return;
        };
        if let Some(mut query) = (self.kad)(swarm.behaviour_mut()).query_mut(&id) {
            query.finish();
        }
        if lookup.found().is_empty() {
            reply.send_timeout();
        } else {
            reply.send_providers(lookup.finish());
        }
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

#[cfg(test)]
mod tests {
    use super::LookupProgress::{self, Complete, Running, Settling};

    #[test]
    fn a_lookup_settles_once_at_its_first_providers_and_completes_at_its_limit_or_last_step() {
        // Nothing yet: running, until the query's last step.
        assert_eq!(LookupProgress::of(0, 5, false, false), Running);
        assert_eq!(LookupProgress::of(0, 5, true, false), Complete);
        // The first providers: settling, once; then running until the limit or the end.
        assert_eq!(LookupProgress::of(2, 5, false, false), Settling);
        assert_eq!(LookupProgress::of(3, 5, false, true), Running);
        assert_eq!(LookupProgress::of(5, 5, false, true), Complete);
        assert_eq!(LookupProgress::of(3, 5, true, true), Complete);
        // The limit reached at the first step: complete at once, no settling.
        assert_eq!(LookupProgress::of(1, 1, false, false), Complete);
    }
}
