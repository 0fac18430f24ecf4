//! [`PeerStorage`]: peers seen as a read-only `StorageProvider`. A `get` finds providers on the
//! DHT, asks them over the block exchange and verifies every node against its key before
//! returning it (the pure [`Fetcher`] does that, over a `P2pNode`). The gets issued in the same
//! tick (a level of a DAG read concurrently) go out together, as with `HttpStorage`: a level
//! costs one request to one provider (per `MAX_ANSWER_BYTES`), and the provider that served a
//! level is asked for the next without a new lookup, so a D-level file costs O(D) round trips.
//!
//! `put` stores nothing: it fails with `unsupported`. To offer nodes to peers, keep them in the
//! storage the node serves (`P2pNode::serve`) and announce their keys (`start_provide`, or an
//! Advertiser).

use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use wasm_bindgen_futures::spawn_local;

use super::config::LookupOptions;
use super::node::P2pNode;
use crate::dht::Provider;
use crate::error::{Error, Result};
use crate::exchange::{
    BlockNetwork, BlockResponse, DroppedProvider, FetchOptions, FetchStats, Fetcher,
};
use crate::key::Key;
use crate::runtime::{BrowserRuntime, Runtime as _};
use crate::storage::tick_queue::TickQueue;
use crate::storage::StorageProvider;

/// The network of a [`Fetcher`] in the page: lookups and requests through a `P2pNode`.
struct NodeNetwork {
    node: P2pNode,
}

impl BlockNetwork for NodeNetwork {
    async fn find_providers(
        &self,
        key: Key,
        limit: usize,
        timeout_ms: u32,
    ) -> Result<Vec<Provider>> {
        let me = self.node.peer_id();
        let options = LookupOptions { limit, timeout_ms };
        let mut providers = self.node.get_providers(&key, options).await?;
        providers.retain(|p| p.peer_id != me);
        Ok(providers)
    }

    async fn request(
        &self,
        provider: &Provider,
        keys: &[Key],
        timeout_ms: u32,
    ) -> Result<BlockResponse> {
        self.node.request_blocks(provider, keys, timeout_ms).await
    }

    fn now_ms(&self) -> u64 {
        BrowserRuntime.now_ms()
    }

    async fn sleep(&self, ms: u32) {
        BrowserRuntime.sleep(u64::from(ms)).await;
    }
}

struct Inner {
    fetcher: Fetcher<NodeNetwork>,
    /// The gets of this tick, fetched together when it ends.
    gets: TickQueue<Key, Result<Option<Bytes>>>,
}

/// Nodes fetched from peers, verified. Cheap to clone (clones share the remembered providers
/// and the counters).
#[derive(Clone)]
pub struct PeerStorage {
    inner: Rc<Inner>,
}

impl PeerStorage {
    /// Reads through `node` with `options` (timeouts, providers per lookup, limits).
    pub fn new(node: P2pNode, options: FetchOptions) -> PeerStorage {
        PeerStorage {
            inner: Rc::new(Inner {
                fetcher: Fetcher::new(NodeNetwork { node }, options),
                gets: TickQueue::default(),
            }),
        }
    }

    /// Per key, in order: the verified node, `None` if no provider had it within the timeout,
    /// or `hash_mismatch` if the only bytes offered for it were not its own.
    pub async fn get_many(&self, keys: &[Key]) -> Vec<Result<Option<Bytes>>> {
        self.inner.fetcher.get_many(keys).await
    }

    /// Lookups, requests, nodes, hash mismatches and dropped providers so far.
    pub fn stats(&self) -> FetchStats {
        self.inner.fetcher.stats()
    }

    /// The latest providers given up on (at most 16), oldest first, each with its reason.
    pub fn dropped_providers(&self) -> Vec<DroppedProvider> {
        self.inner.fetcher.dropped_providers()
    }

    /// Fetches this tick's gets together and answers each caller.
    async fn flush_gets(self) {
        let batch = self.inner.gets.take();
        let mut keys: Vec<Key> = batch.iter().map(|(key, _)| *key).collect();
        keys.sort_unstable();
        keys.dedup();
        let answers = self.get_many(&keys).await;
        let by_key: HashMap<Key, Result<Option<Bytes>>> = keys.into_iter().zip(answers).collect();
        for (key, reply) in batch {
            let _ = reply.send(by_key[&key].clone());
        }
    }
}

impl StorageProvider for PeerStorage {
    /// The node's verified bytes, `None` if no provider had it within the timeout.
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let (answer, first) = self.inner.gets.join(key);
        if first {
            spawn_local(self.clone().flush_gets());
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Fails with `unsupported`: peers are read, not written (see the module documentation).
    async fn put(&self, _key: Key, _bytes: Bytes) -> Result<()> {
        Err(Error::Unsupported(
            "PeerStorage only reads: keep nodes in the storage your P2pNode serves and announce \
             their keys"
                .into(),
        ))
    }
}
