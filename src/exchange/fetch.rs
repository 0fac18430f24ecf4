//! Fetching nodes from peers (pure): [`Fetcher`] asks the providers it knows served before (one
//! at a time), else those a DHT lookup finds ([`RACED_PROVIDERS`] at once: any of them may be a
//! closed page, costing a whole request timeout; the first answers win), for every missing key
//! at once; verifies each node against its key before keeping it; drops a provider that sends
//! bytes that are not the key's (a liar), refuses, fails or answers too late, and tries the
//! next; and stops at its deadline with what it has. The network (lookups, requests, the clock)
//! is a [`BlockNetwork`], so native tests drive this with a fake one.
//!
//! A provider that could not be reached, did not answer in time or was busy may be a moment
//! away (a relay still routing to a connection the provider left, a page reloading): once every
//! provider was asked, the fetcher pauses (1 s, then 2 s), looks up again and asks those once
//! more, at most [`MAX_LOOKUPS`] lookups in all and never past its deadline.
//!
//! A provider whose connection closed under a request is asked once more (a new connection);
//! a provider that served a node is remembered (most recent first) and asked first next time:
//! reading a DAG level by level, a file's children come from the peer that had its root, one
//! request per level (and per `max_answer_bytes`), with a single lookup for the root.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};

use bytes::Bytes;
use futures::stream::{self, FuturesUnordered, StreamExt as _};

use super::message::{BlockResponse, Refusal};
use super::{ExchangeLimits, MAX_ANSWER_BYTES, MAX_KEYS_PER_REQUEST};
use crate::dht::Provider;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::protocol::get_answer::{affordable, GetItem};

/// How many providers that served recently are remembered.
const REMEMBERED_PROVIDERS: usize = 8;

/// How many of the latest providers given up on are kept with their reason.
const DROPPED_KEPT: usize = 16;

/// Most DHT lookups in one `get_many`: the first, and one per round of asking again the
/// providers whose failure may pass (see [`worth_asking_again`]).
const MAX_LOOKUPS: u32 = 3;

/// The pause before a round of asking again, times the lookups made so far (1 s, then 2 s).
const RETRY_PAUSE_MS: u32 = 1_000;

/// Providers a lookup found that are asked at once (the first answers win).
const RACED_PROVIDERS: usize = 3;

/// What the fetcher needs from the network.
#[allow(async_fn_in_trait)]
pub trait BlockNetwork {
    /// Up to `limit` providers of `key` (never this node), found within `timeout_ms`.
    async fn find_providers(
        &self,
        key: Key,
        limit: usize,
        timeout_ms: u32,
    ) -> Result<Vec<Provider>>;
    /// Sends one request to `provider` (dialling it if needed) and waits at most `timeout_ms`
    /// for its answer.
    async fn request(
        &self,
        provider: &Provider,
        keys: &[Key],
        timeout_ms: u32,
    ) -> Result<BlockResponse>;
    /// Milliseconds on a monotonic clock.
    fn now_ms(&self) -> u64;
    /// Completes after `ms` milliseconds of that clock.
    async fn sleep(&self, ms: u32);
}

/// How a [`Fetcher`] fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Longest one `get_many` (lookup and requests) takes; what is not found by then is `None`.
    pub timeout_ms: u32,
    /// Longest one request waits for its answer: a slower provider is dropped for the next.
    pub request_timeout_ms: u32,
    /// Most providers one lookup returns.
    pub providers: usize,
    /// Requests in flight to one provider at once (a level larger than an answer is split).
    pub parallel_requests: usize,
    /// Keys per request and node bytes per answer (at most the protocol's limits).
    pub limits: ExchangeLimits,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            timeout_ms: 20_000,
            request_timeout_ms: 10_000,
            providers: 5,
            parallel_requests: 4,
            limits: ExchangeLimits::default(),
        }
    }
}

/// What a fetcher did so far (serialised in camelCase for JS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchStats {
    /// DHT lookups made.
    pub lookups: u64,
    /// Block requests sent.
    pub requests: u64,
    /// Nodes received and verified.
    pub nodes: u64,
    /// Nodes received that did not hash to their key.
    pub hash_mismatches: u64,
    /// Providers given up on (a liar, a refusal, a failure, a timeout).
    pub dropped_providers: u64,
}

/// A provider given up on, and why: what its request failed with (a refusal is a
/// `peer_refused`, a wrong answer a `hash_mismatch`).
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedProvider {
    pub peer_id: String,
    pub reason: Error,
}

/// Fetches nodes from peers; see the module documentation.
pub struct Fetcher<N> {
    network: N,
    options: FetchOptions,
    /// Providers that served lately, most recent first.
    remembered: RefCell<Vec<Provider>>,
    /// The latest providers given up on, oldest first (at most `DROPPED_KEPT`).
    dropped: RefCell<VecDeque<DroppedProvider>>,
    stats: Cell<FetchStats>,
}

/// What asking one provider gave.
#[derive(Default)]
struct Asked {
    found: Vec<(Key, Bytes)>,
    lied: Vec<Key>,
    failure: Option<Error>,
}

impl<N: BlockNetwork> Fetcher<N> {
    pub fn new(network: N, options: FetchOptions) -> Fetcher<N> {
        let limits = ExchangeLimits {
            max_keys: options.limits.max_keys.clamp(1, MAX_KEYS_PER_REQUEST),
            max_answer_bytes: options.limits.max_answer_bytes.min(MAX_ANSWER_BYTES),
        };
        Fetcher {
            network,
            options: FetchOptions {
                limits,
                parallel_requests: options.parallel_requests.max(1),
                ..options
            },
            remembered: RefCell::new(Vec::new()),
            dropped: RefCell::new(VecDeque::new()),
            stats: Cell::new(FetchStats::default()),
        }
    }

    pub fn stats(&self) -> FetchStats {
        self.stats.get()
    }

    /// The latest providers given up on (at most 16), oldest first, each with its reason.
    pub fn dropped_providers(&self) -> Vec<DroppedProvider> {
        self.dropped.borrow().iter().cloned().collect()
    }

    pub fn network(&self) -> &N {
        &self.network
    }

    fn count(&self, update: impl FnOnce(&mut FetchStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

    /// Per key, in order: the verified node, `None` if no provider had it by the deadline, or
    /// `hash_mismatch` if the only bytes offered for it were not its own.
    pub async fn get_many(&self, keys: &[Key]) -> Vec<Result<Option<Bytes>>> {
        let deadline = self.network.now_ms() + u64::from(self.options.timeout_ms);
        let mut positions: HashMap<Key, Vec<usize>> = HashMap::new();
        for (index, key) in keys.iter().enumerate() {
            positions.entry(*key).or_default().push(index);
        }
        let mut found: Vec<Option<Bytes>> = vec![None; keys.len()];
        let mut lied: HashSet<Key> = HashSet::new();
        let mut tried: HashSet<String> = HashSet::new();
        let mut reconnected: HashSet<String> = HashSet::new();
        let mut queue: VecDeque<Provider> = self.remembered.borrow().iter().cloned().collect();
        let mut lookups: u32 = 0;
        // Providers given up on in this round for a failure that may pass.
        let mut ask_again: Vec<Provider> = Vec::new();
        loop {
            let mut missing: Vec<Key> = Vec::new();
            for (index, key) in keys.iter().enumerate() {
                if found[index].is_none() && !missing.contains(key) {
                    missing.push(*key);
                }
            }
            let now = self.network.now_ms();
            if missing.is_empty() || now >= deadline {
                break;
            }
            // Remembered providers one at a time (one served the level before); those a lookup
            // found, `RACED_PROVIDERS` at once (any may be gone, each costing a request timeout).
            let width = if lookups == 0 { 1 } else { RACED_PROVIDERS };
            let mut chosen: Vec<Provider> = Vec::new();
            while chosen.len() < width {
                match queue.pop_front() {
                    Some(provider) if tried.insert(provider.peer_id.clone()) => {
                        chosen.push(provider)
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            if chosen.is_empty() {
                if lookups == 0 || (!ask_again.is_empty() && lookups < MAX_LOOKUPS) {
                    if lookups > 0 {
                        // A provider that could not be reached or did not answer may be a
                        // moment away (e.g. the relay still routes to a connection it left):
                        // pause, look up again (it may have a new address) and ask again.
                        let pause = (RETRY_PAUSE_MS * lookups).min(remaining_ms(deadline, now));
                        self.network.sleep(pause).await;
                        if self.network.now_ms() >= deadline {
                            break;
                        }
                        for provider in &ask_again {
                            tried.remove(&provider.peer_id);
                        }
                    }
                    lookups += 1;
                    self.count(|s| s.lookups += 1);
                    let remaining = remaining_ms(deadline, self.network.now_ms());
                    // A failed lookup (a timeout with none found) is "no provider".
                    let mut providers = self
                        .network
                        .find_providers(missing[0], self.options.providers, remaining)
                        .await
                        .unwrap_or_default();
                    for provider in ask_again.drain(..) {
                        if !providers.iter().any(|p| p.peer_id == provider.peer_id) {
                            providers.push(provider);
                        }
                    }
                    queue.extend(providers);
                    continue;
                }
                break;
            }
            let missing = &missing;
            let mut asks: FuturesUnordered<_> = chosen
                .into_iter()
                .map(|provider| async move {
                    let asked = self.ask(&provider, missing, deadline).await;
                    (provider, asked)
                })
                .collect();
            // Answers as they come; once every key is found the slower asks are dropped.
            while let Some((provider, asked)) = asks.next().await {
                for (key, bytes) in &asked.found {
                    for &index in &positions[key] {
                        found[index] = Some(bytes.clone());
                    }
                }
                let lost_connection = matches!(asked.failure, Some(Error::Network(_)));
                if lost_connection
                    && asked.lied.is_empty()
                    && reconnected.insert(provider.peer_id.clone())
                {
                    // The connection closed under the request (e.g. a relay circuit reached its
                    // byte or time limit): a new dial makes a new circuit. Once per provider.
                    tried.remove(&provider.peer_id);
                    queue.push_front(provider);
                } else if let Some(&key) = asked.lied.first() {
                    self.forget(&provider, Error::HashMismatch { key });
                } else if let Some(failure) = asked.failure {
                    if worth_asking_again(&failure) {
                        ask_again.push(provider.clone());
                    }
                    self.forget(&provider, failure);
                } else if !asked.found.is_empty() {
                    self.remember(provider);
                }
                lied.extend(asked.lied);
                if found.iter().all(Option::is_some) {
                    break;
                }
            }
        }
        keys.iter()
            .zip(found)
            .map(|(key, node)| match node {
                Some(bytes) => Ok(Some(bytes)),
                None if lied.contains(key) => Err(Error::HashMismatch { key: *key }),
                None => Ok(None),
            })
            .collect()
    }

    /// Asks `provider` for `keys`: one request per planned group, up to `parallel_requests` at
    /// once.
    async fn ask(&self, provider: &Provider, keys: &[Key], deadline: u64) -> Asked {
        let limits = self.options.limits;
        let mut groups = Vec::new();
        let mut rest = keys;
        while !rest.is_empty() {
            let take = affordable(rest, limits.max_answer_bytes).min(limits.max_keys);
            let (group, after) = rest.split_at(take);
            groups.push(group);
            rest = after;
        }
        let outcomes: Vec<Asked> = stream::iter(groups)
            .map(|group| self.ask_group(provider, group, deadline))
            .buffer_unordered(self.options.parallel_requests)
            .collect()
            .await;
        let mut asked = Asked::default();
        for outcome in outcomes {
            asked.found.extend(outcome.found);
            asked.lied.extend(outcome.lied);
            asked.failure = asked.failure.or(outcome.failure);
        }
        asked
    }

    /// One planned group: asks again for what an answer left out, until every key is answered,
    /// the provider lies or fails, or an answer brings nothing.
    async fn ask_group(&self, provider: &Provider, group: &[Key], deadline: u64) -> Asked {
        let mut asked = Asked::default();
        let mut rest = group;
        while !rest.is_empty() {
            let now = self.network.now_ms();
            if now >= deadline {
                asked.failure = Some(Error::Timeout {
                    ms: self.options.timeout_ms,
                });
                break;
            }
            let timeout = self
                .options
                .request_timeout_ms
                .min(remaining_ms(deadline, now));
            self.count(|s| s.requests += 1);
            let items = match self.network.request(provider, rest, timeout).await {
                Ok(BlockResponse::Nodes(items))
                    if !items.is_empty() && items.len() <= rest.len() =>
                {
                    items
                }
                Ok(BlockResponse::Nodes(items)) => {
                    asked.failure = Some(Error::PeerRefused {
                        reason: "malformed".into(),
                        message: format!(
                            "{} answered {} items to a request for {} keys",
                            provider.peer_id,
                            items.len(),
                            rest.len()
                        ),
                    });
                    break;
                }
                Ok(BlockResponse::Refused(refusal)) => {
                    asked.failure = Some(Error::PeerRefused {
                        reason: refusal.code().into(),
                        message: format!("{}: {refusal}", provider.peer_id),
                    });
                    break;
                }
                Err(error) => {
                    asked.failure = Some(error);
                    break;
                }
            };
            for (key, item) in rest.iter().zip(&items) {
                if let GetItem::Node(bytes) = item {
                    if key.matches(bytes) {
                        self.count(|s| s.nodes += 1);
                        asked.found.push((*key, bytes.clone()));
                    } else {
                        self.count(|s| s.hash_mismatches += 1);
                        asked.lied.push(*key);
                    }
                }
            }
            if !asked.lied.is_empty() {
                break;
            }
            rest = &rest[items.len()..];
        }
        asked
    }

    fn remember(&self, provider: Provider) {
        let mut remembered = self.remembered.borrow_mut();
        remembered.retain(|p| p.peer_id != provider.peer_id);
        remembered.insert(0, provider);
        remembered.truncate(REMEMBERED_PROVIDERS);
    }

    fn forget(&self, provider: &Provider, reason: Error) {
        self.count(|s| s.dropped_providers += 1);
        self.remembered
            .borrow_mut()
            .retain(|p| p.peer_id != provider.peer_id);
        let mut dropped = self.dropped.borrow_mut();
        if dropped.len() == DROPPED_KEPT {
            dropped.pop_front();
        }
        dropped.push_back(DroppedProvider {
            peer_id: provider.peer_id.clone(),
            reason,
        });
    }
}

/// Whether a provider whose request failed with `failure` may answer a moment later: it could
/// not be reached, did not answer in time, lost its connection again, or was busy. A liar, a
/// malformed answer or a refusal for any other reason is not asked again.
fn worth_asking_again(failure: &Error) -> bool {
    match failure {
        Error::Timeout { .. } | Error::NoRoute(_) | Error::Network(_) => true,
        Error::PeerRefused { reason, .. } => reason == Refusal::Busy.code(),
        _ => false,
    }
}

fn remaining_ms(deadline: u64, now: u64) -> u32 {
    u32::try_from(deadline.saturating_sub(now)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::FutureExt as _;

    use super::*;

    /// How a fake provider behaves.
    #[derive(Clone, Copy, PartialEq)]
    enum Behaviour {
        Honest,
        /// Sends other bytes under every key.
        Lies,
        /// Never answers: the request takes its whole timeout.
        Silent,
        /// Refuses as busy.
        Refuses,
        /// Refuses as not serving.
        NotServing,
        Unreachable,
        /// Its first request fails as unreachable; then it is honest.
        UnreachableOnce,
        /// Never answers, and no clock moves: its request stays pending.
        Hangs,
        /// Its first request fails as a closed connection; then it is honest.
        DropsOnce,
    }

    struct FakePeer {
        nodes: HashMap<Key, Bytes>,
        behaviour: Behaviour,
    }

    /// Peers, who announced what, a clock that requests and lookups move, and a log of calls.
    #[derive(Default)]
    struct FakeNetwork {
        peers: HashMap<String, FakePeer>,
        /// Providers of each key, in the order the DHT returns them.
        announced: HashMap<Key, Vec<String>>,
        clock: Cell<u64>,
        log: RefCell<Vec<String>>,
        dropped: Cell<bool>,
        unreachable_once: Cell<bool>,
        max_items: usize,
    }

    impl FakeNetwork {
        fn peer(
            &mut self,
            name: &str,
            behaviour: Behaviour,
            nodes: &[(Key, Bytes)],
            announces: &[Key],
        ) {
            self.peers.insert(
                name.into(),
                FakePeer {
                    nodes: nodes.iter().cloned().collect(),
                    behaviour,
                },
            );
            for key in announces {
                self.announced.entry(*key).or_default().push(name.into());
            }
        }

        fn calls(&self) -> Vec<String> {
            self.log.borrow().clone()
        }
    }

    fn provider(name: &str) -> Provider {
        Provider {
            peer_id: name.into(),
            addrs: vec![format!("/fake/{name}")],
        }
    }

    impl BlockNetwork for FakeNetwork {
        async fn find_providers(
            &self,
            key: Key,
            limit: usize,
            timeout_ms: u32,
        ) -> Result<Vec<Provider>> {
            self.log.borrow_mut().push("lookup".into());
            self.clock.set(self.clock.get() + 50);
            match self.announced.get(&key) {
                Some(names) => Ok(names.iter().take(limit).map(|n| provider(n)).collect()),
                None => {
                    self.clock.set(self.clock.get() + u64::from(timeout_ms));
                    Err(Error::Timeout { ms: timeout_ms })
                }
            }
        }

        async fn request(
            &self,
            provider: &Provider,
            keys: &[Key],
            timeout_ms: u32,
        ) -> Result<BlockResponse> {
            self.log
                .borrow_mut()
                .push(format!("{} {}", provider.peer_id, keys.len()));
            let peer = &self.peers[&provider.peer_id];
            self.clock.set(self.clock.get() + 10);
            // `max_items` 0: the whole request is answered.
            let answered = if self.max_items == 0 {
                keys.len()
            } else {
                self.max_items
            };
            let items = keys.iter().take(answered);
            let behaviour = match peer.behaviour {
                Behaviour::DropsOnce if !self.dropped.replace(true) => {
                    return Err(Error::Network("connection closed".into()))
                }
                Behaviour::DropsOnce => Behaviour::Honest,
                Behaviour::UnreachableOnce if !self.unreachable_once.replace(true) => {
                    Behaviour::Unreachable
                }
                Behaviour::UnreachableOnce => Behaviour::Honest,
                other => other,
            };
            match behaviour {
                Behaviour::Honest | Behaviour::DropsOnce | Behaviour::UnreachableOnce => {
                    Ok(BlockResponse::Nodes(
                        items
                            .map(|k| {
                                peer.nodes
                                    .get(k)
                                    .cloned()
                                    .map_or(GetItem::NotFound, GetItem::Node)
                            })
                            .collect(),
                    ))
                }
                Behaviour::Lies => Ok(BlockResponse::Nodes(
                    items
                        .map(|_| GetItem::Node(Bytes::from(leaf(b"not what you asked for").1)))
                        .collect(),
                )),
                Behaviour::Silent => {
                    self.clock.set(self.clock.get() + u64::from(timeout_ms));
                    Err(Error::Timeout { ms: timeout_ms })
                }
                Behaviour::Refuses => Ok(BlockResponse::Refused(Refusal::Busy)),
                Behaviour::NotServing => Ok(BlockResponse::Refused(Refusal::NotServing)),
                Behaviour::Unreachable => Err(Error::NoRoute("unreachable".into())),
                Behaviour::Hangs => futures::future::pending().await,
            }
        }

        fn now_ms(&self) -> u64 {
            self.clock.get()
        }

        async fn sleep(&self, ms: u32) {
            self.log.borrow_mut().push(format!("sleep {ms}"));
            self.clock.set(self.clock.get() + u64::from(ms));
        }
    }

    fn leaf(data: &[u8]) -> (Key, Vec<u8>) {
        let bytes = crate::node::encode_successor(&[], data, 0).unwrap();
        (Key::for_bytes(&bytes), bytes)
    }

    fn nodes(n: usize) -> Vec<(Key, Bytes)> {
        (0..n)
            .map(|i| {
                let (key, bytes) = leaf(format!("node {i}").as_bytes());
                (key, Bytes::from(bytes))
            })
            .collect()
    }

    fn fetcher(network: FakeNetwork) -> Fetcher<FakeNetwork> {
        Fetcher::new(network, FetchOptions::default())
    }

    fn fetch(fetcher: &Fetcher<FakeNetwork>, keys: &[Key]) -> Vec<Result<Option<Bytes>>> {
        block_on(fetcher.get_many(keys))
    }

    #[test]
    fn a_level_comes_from_the_provider_of_the_previous_one_in_one_request() {
        let all = nodes(4);
        let (root, rest) = all.split_first().unwrap();
        let mut network = FakeNetwork::default();
        network.peer("a", Behaviour::Honest, &all, &[root.0]);
        let fetcher = fetcher(network);
        assert_eq!(fetch(&fetcher, &[root.0]), vec![Ok(Some(root.1.clone()))]);
        let level: Vec<Key> = rest.iter().map(|(k, _)| *k).collect();
        let answers = fetch(&fetcher, &level);
        assert!(answers
            .iter()
            .zip(rest)
            .all(|(a, (_, b))| a.as_ref().unwrap().as_ref() == Some(b)));
        // One lookup for the root; the children's level in one request to the same peer.
        assert_eq!(fetcher.network().calls(), ["lookup", "a 1", "a 3"]);
        assert_eq!(fetcher.stats().requests, 2);
        assert_eq!(fetcher.stats().nodes, 4);
    }

    #[test]
    fn a_liar_is_detected_and_the_next_provider_used() {
        let all = nodes(2);
        let keys: Vec<Key> = all.iter().map(|(k, _)| *k).collect();
        let mut network = FakeNetwork::default();
        network.peer("liar", Behaviour::Lies, &[], &keys[..1]);
        network.peer("honest", Behaviour::Honest, &all, &keys[..1]);
        let fetcher = fetcher(network);
        let answers = fetch(&fetcher, &keys);
        assert_eq!(answers[0], Ok(Some(all[0].1.clone())));
        assert_eq!(answers[1], Ok(Some(all[1].1.clone())));
        assert_eq!(fetcher.network().calls(), ["lookup", "liar 2", "honest 2"]);
        assert_eq!(fetcher.stats().hash_mismatches, 2);
        assert_eq!(fetcher.stats().dropped_providers, 1);
        assert_eq!(
            fetcher.dropped_providers(),
            [DroppedProvider {
                peer_id: "liar".into(),
                reason: Error::HashMismatch { key: keys[0] },
            }]
        );
        // The honest one is remembered, the liar is not asked again.
        fetch(&fetcher, &keys[..1]);
        assert_eq!(fetcher.network().calls().last().unwrap(), "honest 1");
    }

    #[test]
    fn when_only_liars_have_a_key_it_is_a_hash_mismatch() {
        let (key, _) = leaf(b"wanted");
        let mut network = FakeNetwork::default();
        network.peer("liar", Behaviour::Lies, &[], &[key]);
        let fetcher = fetcher(network);
        assert_eq!(
            fetch(&fetcher, &[key]),
            vec![Err(Error::HashMismatch { key })]
        );
    }

    #[test]
    fn providers_are_tried_in_order_past_silence_refusals_and_failures() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("silent", Behaviour::Silent, &all, &[key]);
        network.peer("refuses", Behaviour::Refuses, &all, &[key]);
        network.peer("gone", Behaviour::Unreachable, &all, &[key]);
        network.peer("empty", Behaviour::Honest, &[], &[key]);
        network.peer("has", Behaviour::Honest, &all, &[key]);
        let fetcher = fetcher(network);
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(Some(all[0].1.clone()))]);
        assert_eq!(
            fetcher.network().calls(),
            [
                "lookup",
                "silent 1",
                "refuses 1",
                "gone 1",
                "empty 1",
                "has 1"
            ]
        );
        assert_eq!(fetcher.stats().dropped_providers, 3);
        let reasons: Vec<(String, &str)> = fetcher
            .dropped_providers()
            .into_iter()
            .map(|d| (d.peer_id, d.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("silent".to_string(), "timeout"),
                ("refuses".to_string(), "peer_refused"),
                ("gone".to_string(), "no_route"),
            ]
        );
        // The silent provider cost one request timeout, not the whole budget.
        assert!(fetcher.network().now_ms() < u64::from(FetchOptions::default().timeout_ms));
    }

    #[test]
    fn no_provider_is_none_within_the_timeout() {
        let (key, _) = leaf(b"nobody has it");
        let fetcher = fetcher(FakeNetwork::default());
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(None)]);
        assert!(fetcher.network().now_ms() <= u64::from(FetchOptions::default().timeout_ms) + 50);
        // Silent providers: the deadline ends the fetch, with what was found (nothing).
        let mut network = FakeNetwork::default();
        for name in ["s1", "s2", "s3", "s4", "s5"] {
            network.peer(name, Behaviour::Silent, &[], &[key]);
        }
        let fetcher = fetcher_with_timeout(network, 15_000);
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(None)]);
        assert!(
            fetcher.network().now_ms() <= 15_000 + 50,
            "{}",
            fetcher.network().now_ms()
        );
    }

    fn fetcher_with_timeout(network: FakeNetwork, timeout_ms: u32) -> Fetcher<FakeNetwork> {
        Fetcher::new(
            network,
            FetchOptions {
                timeout_ms,
                ..FetchOptions::default()
            },
        )
    }

    #[test]
    fn a_short_answer_is_completed_and_a_large_level_split_by_the_limits() {
        let all = nodes(10);
        let keys: Vec<Key> = all.iter().map(|(k, _)| *k).collect();
        let mut network = FakeNetwork {
            max_items: 3,
            ..FakeNetwork::default()
        };
        network.peer("a", Behaviour::Honest, &all, &keys[..1]);
        let fetcher = Fetcher::new(
            network,
            FetchOptions {
                limits: ExchangeLimits {
                    max_keys: 5,
                    max_answer_bytes: MAX_ANSWER_BYTES,
                },
                parallel_requests: 1,
                ..FetchOptions::default()
            },
        );
        let answers = fetch(&fetcher, &keys);
        assert!(answers.iter().all(|a| matches!(a, Ok(Some(_)))));
        // Two groups of 5 keys, each answered 3 then 2.
        assert_eq!(
            fetcher.network().calls(),
            ["lookup", "a 5", "a 2", "a 5", "a 2"]
        );
    }

    #[test]
    fn a_provider_whose_connection_closed_is_asked_once_more() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("a", Behaviour::DropsOnce, &all, &[key]);
        let fetcher = fetcher(network);
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(Some(all[0].1.clone()))]);
        assert_eq!(fetcher.network().calls(), ["lookup", "a 1", "a 1"]);
        assert_eq!(fetcher.stats().dropped_providers, 0);
    }

    #[test]
    fn a_provider_unreachable_for_a_moment_is_asked_again_after_a_pause_and_a_new_lookup() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("a", Behaviour::UnreachableOnce, &all, &[key]);
        let fetcher = fetcher(network);
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(Some(all[0].1.clone()))]);
        assert_eq!(
            fetcher.network().calls(),
            ["lookup", "a 1", "sleep 1000", "lookup", "a 1"]
        );
        assert_eq!(fetcher.stats().lookups, 2);
        assert_eq!(fetcher.stats().dropped_providers, 1);
        assert_eq!(fetcher.dropped_providers()[0].reason.code(), "no_route");
    }

    #[test]
    fn a_provider_that_stays_unreachable_is_given_up_after_three_lookups_or_at_the_deadline() {
        let all = nodes(1);
        let key = all[0].0;
        let gone = || {
            let mut network = FakeNetwork::default();
            network.peer("gone", Behaviour::Unreachable, &all, &[key]);
            network
        };
        let fetcher = fetcher(gone());
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(None)]);
        assert_eq!(
            fetcher.network().calls(),
            [
                "lookup",
                "gone 1",
                "sleep 1000",
                "lookup",
                "gone 1",
                "sleep 2000",
                "lookup",
                "gone 1"
            ]
        );
        // With 1.5 s to spend, the second pause ends at the deadline: no third lookup.
        let fetcher = fetcher_with_timeout(gone(), 1_500);
        assert_eq!(fetch(&fetcher, &[key]), vec![Ok(None)]);
        assert_eq!(
            fetcher.network().calls(),
            [
                "lookup",
                "gone 1",
                "sleep 1000",
                "lookup",
                "gone 1",
                "sleep 380"
            ]
        );
        assert_eq!(fetcher.network().now_ms(), 1_500);
    }

    #[test]
    fn the_providers_a_lookup_found_are_asked_at_once_and_the_first_answer_wins() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("hangs", Behaviour::Hangs, &all, &[key]);
        network.peer("has", Behaviour::Honest, &all, &[key]);
        let fetcher = fetcher(network);
        // Asked one after the other, the fetch would wait on the first for ever: it must be
        // done at its first poll, with the second's answer.
        let answers = fetcher
            .get_many(&[key])
            .now_or_never()
            .expect("a provider that never answers held the fetch back");
        assert_eq!(answers, vec![Ok(Some(all[0].1.clone()))]);
        assert_eq!(fetcher.network().calls(), ["lookup", "hangs 1", "has 1"]);
        // The one that answered is remembered and asked alone next time.
        fetch(&fetcher, &[key]);
        assert_eq!(fetcher.network().calls().last().unwrap(), "has 1");
    }

    #[test]
    fn liars_and_providers_that_do_not_serve_are_not_asked_again() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("liar", Behaviour::Lies, &[], &[key]);
        network.peer("off", Behaviour::NotServing, &all, &[key]);
        let fetcher = fetcher(network);
        assert_eq!(
            fetch(&fetcher, &[key]),
            vec![Err(Error::HashMismatch { key })]
        );
        assert_eq!(fetcher.network().calls(), ["lookup", "liar 1", "off 1"]);
        let reasons: Vec<&str> = fetcher
            .dropped_providers()
            .iter()
            .map(|d| d.reason.code())
            .collect();
        assert_eq!(reasons, ["hash_mismatch", "peer_refused"]);
    }

    #[test]
    fn repeated_keys_are_asked_once_and_answered_everywhere() {
        let all = nodes(1);
        let key = all[0].0;
        let mut network = FakeNetwork::default();
        network.peer("a", Behaviour::Honest, &all, &[key]);
        let fetcher = fetcher(network);
        let answers = fetch(&fetcher, &[key, key]);
        assert_eq!(
            answers,
            vec![Ok(Some(all[0].1.clone())), Ok(Some(all[0].1.clone()))]
        );
        assert_eq!(fetcher.network().calls(), ["lookup", "a 1"]);
    }
}
