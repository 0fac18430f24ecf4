//! [`HttpStorage`]: a casweb server seen as a `StorageProvider`, plus the batch calls of the
//! protocol (get many, put many, check many, claim, claim many), each split to fit the server's
//! limits.
//!
//! `get` is one-key, but the gets issued in the same tick (a level of a DAG read concurrently)
//! are sent together as many-nodes gets, as `IndexedDbStorage` does with its transactions: a
//! cold read of a file costs a request per level (and per `maxGetKeys`), not one per node.
//!
//! Every realm request goes through [`HttpStorage::send_authed`]: refused with a 401, it is sent
//! once more with a token from the configured `get_token` (see `credentials`), its body rebuilt
//! for the new token (proofs of possession depend on it).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use wasm_bindgen_futures::spawn_local;

use super::credentials::{Credentials, CurrentToken};
use super::fetch::{self, Body, Reply};
use super::wire::{self, CheckResult, HttpConfig, ValidConfig};
use crate::batch;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::pop;
use crate::protocol::Limits;
use crate::storage::tick_queue::TickQueue;
use crate::storage::StorageProvider;
use crate::sync::SyncRemote;

/// How many check requests of one `check_many` are in flight at once.
pub const CHECK_CONCURRENCY: usize = 4;
/// How many requests of one `get_many` are in flight at once (also single `GET`s to a server
/// without the many-nodes endpoint).
pub const GET_CONCURRENCY: usize = 4;

struct Inner {
    config: ValidConfig,
    credentials: Credentials,
    limits: RefCell<Option<Limits>>,
    requests: Cell<u64>,
    /// The gets of this tick, sent together when it ends.
    gets: TickQueue<Key, Result<Option<Bytes>>>,
}

/// A casweb server for one realm. Cheap to clone (shared state: the cached limits and the
/// request counter).
#[derive(Clone)]
pub struct HttpStorage {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for HttpStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStorage")
            .field("base_url", &self.inner.config.base_url)
            .field("realm", &self.inner.config.realm)
            .field("requests", &self.inner.requests.get())
            .finish_non_exhaustive()
    }
}

impl HttpStorage {
    /// Checks the configuration (URL, realm, token, timeout); sends nothing.
    pub fn new(config: HttpConfig) -> Result<HttpStorage> {
        let config = wire::validate_config(&config)?;
        let credentials = Credentials::new(
            &config.realm,
            &config.token,
            config.pop_key,
            config.get_token.clone(),
        );
        Ok(HttpStorage {
            inner: Rc::new(Inner {
                config,
                credentials,
                limits: RefCell::new(None),
                requests: Cell::new(0),
                gets: TickQueue::default(),
            }),
        })
    }

    /// The base URL (without trailing slashes).
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.inner.config.realm
    }

    /// HTTP requests sent so far (every attempt, failed ones included).
    pub fn request_count(&self) -> u64 {
        self.inner.requests.get()
    }

    /// Replaces the token (an access token of this realm, or a realm token) for the requests
    /// sent from now on; `invalid_argument` if it is not one. Nodes the sync engine parked as
    /// `unauthorized` go again at its next `flush()`.
    pub fn set_token(&self, token: &str) -> Result<()> {
        self.inner.credentials.set(token)
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Body,
    ) -> Result<Reply> {
        self.inner.requests.set(self.inner.requests.get() + 1);
        fetch::send(method, url, token, body, self.inner.config.timeout_ms).await
    }

    /// A realm request with the current token; refused with a 401, sent once more after a
    /// renewal (the body is built again for the new token), else [`Error::Unauthorized`].
    async fn send_authed(
        &self,
        method: &str,
        url: &str,
        body: impl Fn(&CurrentToken) -> Body,
    ) -> Result<Reply> {
        let credentials = &self.inner.credentials;
        let token = credentials.current();
        match self
            .send(method, url, Some(&token.text), body(&token))
            .await
        {
            Err(refused @ Error::Unauthorized { .. }) => {
                credentials.renew(token.generation, refused).await?;
                let token = credentials.current();
                self.send(method, url, Some(&token.text), body(&token))
                    .await
            }
            other => other,
        }
    }

    /// The server's limits (`GET /api/info`, no authentication). Fetched once: after the first
    /// success the answer is cached for the life of this storage (and its clones).
    pub async fn info(&self) -> Result<Limits> {
        if let Some(limits) = *self.inner.limits.borrow() {
            return Ok(limits);
        }
        let url = wire::info_url(&self.inner.config.base_url);
        let reply = self.send("GET", &url, None, Body::None).await?;
        let limits = wire::parse_info(reply.status, &reply.body)?;
        *self.inner.limits.borrow_mut() = Some(limits);
        Ok(limits)
    }

    fn url(&self, build: fn(&str, &str) -> String) -> String {
        build(&self.inner.config.base_url, &self.inner.config.realm)
    }

    /// Reads many nodes: per key, in order, its bytes (checked against the key) or `None` if no
    /// realm stored it. A node stored but not owned by this realm fails the call with
    /// `Http { 403, "not_owned" }`, as `get` does; bytes that are not the key's with
    /// [`Error::HashMismatch`].
    ///
    /// Sent as many-nodes gets (`POST .../nodes/get`), each sized by `maxGetKeys` and
    /// `maxGetBytes` (from the keys' size flags) so the server answers it whole, up to
    /// [`GET_CONCURRENCY`] in flight. To a server without that endpoint, one `GET` per key.
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let limits = self.info().await?;
        if limits.max_get_keys == 0 {
            return stream::iter(keys)
                .map(|key| self.get_one(*key))
                .buffered(GET_CONCURRENCY)
                .try_collect()
                .await;
        }
        let mut groups = Vec::new();
        let mut rest = keys;
        while !rest.is_empty() {
            let (group, after) = rest.split_at(wire::next_get_group(rest, &limits));
            groups.push(group);
            rest = after;
        }
        let url = self.url(wire::get_many_url);
        let url = &url;
        let parts: Vec<Vec<Option<Bytes>>> = stream::iter(groups)
            .map(|group| self.get_group(url, group))
            .buffered(GET_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// One planned group of a many-nodes get; asks again for what a server with other limits
    /// left out.
    async fn get_group(&self, url: &str, group: &[Key]) -> Result<Vec<Option<Bytes>>> {
        let mut found = Vec::with_capacity(group.len());
        while found.len() < group.len() {
            let asked = &group[found.len()..];
            let reply = self
                .send_authed("POST", url, |_| Body::Json(wire::get_body(asked)))
                .await?;
            found.extend(wire::parse_get_many(reply.status, reply.body, asked)?);
        }
        Ok(found)
    }

    /// One `GET .../raw/{key}`.
    async fn get_one(&self, key: Key) -> Result<Option<Bytes>> {
        let url = wire::raw_url(&self.inner.config.base_url, &self.inner.config.realm, &key);
        match self.send_authed("GET", &url, |_| Body::None).await {
            Ok(reply) if key.matches(&reply.body) => Ok(Some(Bytes::from(reply.body))),
            Ok(_) => Err(Error::HashMismatch { key }),
            Err(Error::Http {
                status: 404, code, ..
            }) if code == "not_found" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Sends this tick's gets as one [`HttpStorage::get_many`] and answers each caller (a
    /// caller that stopped waiting is skipped; a failure reaches every caller).
    async fn flush_gets(self) {
        let batch = self.inner.gets.take();
        let mut keys: Vec<Key> = batch.iter().map(|(key, _)| *key).collect();
        keys.sort_unstable();
        keys.dedup();
        if let [key] = keys[..] {
            // One key: a plain GET (no limits needed, cacheable by the browser).
            let answer = self.get_one(key).await;
            for (_, reply) in batch {
                let _ = reply.send(answer.clone());
            }
            return;
        }
        match self.get_many(&keys).await {
            Ok(values) => {
                let by_key: HashMap<Key, Option<Bytes>> = keys.into_iter().zip(values).collect();
                for (key, reply) in batch {
                    let _ = reply.send(Ok(by_key[&key].clone()));
                }
            }
            Err(error) => {
                // One not-owned or corrupt node must not fail the others' gets: ask alone.
                for (key, reply) in batch {
                    let answer = match &error {
                        Error::Http { status: 403, .. } | Error::HashMismatch { .. } => {
                            self.get_one(key).await
                        }
                        other => Err(other.clone()),
                    };
                    let _ = reply.send(answer);
                }
            }
        }
    }

    /// Uploads nodes, children before parents (the caller's order is kept), in as few batch
    /// requests as the limits allow, sent one after the other so a later batch may rely on
    /// nodes of an earlier one.
    ///
    /// One outcome per node, in input order: `Ok(())` once the realm owns it, otherwise
    /// [`Error::Rejected`] with the server's code (`missing_nodes`, `invalid_node`, `too_large`).
    /// Nodes whose bytes do not hash to their key are [`Error::HashMismatch`] and nodes over the
    /// limits `Rejected { code: "too_large" }`, both without being sent. The outer error is a
    /// failed request (network, timeout, HTTP status); batches sent before it stay stored.
    pub async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<(), Error>>> {
        self.upload(nodes, Verify::Hash).await
    }

    /// [`Self::put_many`], hashing each node first unless `verify` says its caller already did
    /// (the sync engine validates every node as it is put; the server checks again anyway).
    async fn upload(&self, nodes: &[(Key, Bytes)], verify: Verify) -> Result<Vec<Result<()>>> {
        let mut outcomes: Vec<Option<Result<(), Error>>> = vec![None; nodes.len()];
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let limits = self.info().await?;
        let mut sendable = Vec::with_capacity(nodes.len());
        for (index, (key, bytes)) in nodes.iter().enumerate() {
            if verify == Verify::Hash && !key.matches(bytes) {
                outcomes[index] = Some(Err(Error::HashMismatch { key: *key }));
            } else if !wire::fits(bytes.len(), &limits) {
                outcomes[index] = Some(Err(Error::Rejected {
                    key: *key,
                    code: "too_large".into(),
                    message: format!(
                        "the node is {} bytes; the server takes at most {}",
                        bytes.len(),
                        limits.max_node_size
                    ),
                }));
            } else {
                sendable.push(index);
            }
        }
        let lengths: Vec<usize> = sendable.iter().map(|&i| nodes[i].1.len()).collect();
        let url = self.url(wire::batch_url);
        for range in wire::plan_batches(&lengths, limits.batch_bytes(), limits.max_batch_nodes) {
            let indices = &sendable[range];
            let keys: Vec<Key> = indices.iter().map(|&i| nodes[i].0).collect();
            let body = |_: &CurrentToken| {
                Body::Binary(batch::encode(indices.iter().map(|&i| &nodes[i].1[..])))
            };
            let reply = self.send_authed("POST", &url, body).await?;
            let results = wire::parse_item_results(reply.status, &reply.body, &keys)?;
            for (&index, result) in indices.iter().zip(results) {
                outcomes[index] = Some(result);
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every node was decided or sent"))
            .collect())
    }

    /// Where this realm stands with each key (missing, unowned, owned). Duplicates are asked
    /// once; the keys are split into requests of at most `maxCheckKeys`, up to
    /// [`CHECK_CONCURRENCY`] in flight, and the answers merged in input order.
    pub async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        let keys = wire::dedup_keys(keys);
        if keys.is_empty() {
            return Ok(CheckResult::default());
        }
        let limits = self.info().await?;
        let url = self.url(wire::check_url);
        let url = &url;
        let parts: Vec<CheckResult> = stream::iter(wire::split_keys(&keys, limits.max_check_keys))
            .map(|group| async move {
                let body = |_: &CurrentToken| Body::Json(wire::check_body(group));
                let reply = self.send_authed("POST", url, body).await?;
                wire::parse_check(reply.status, &reply.body)
            })
            .buffered(CHECK_CONCURRENCY)
            .try_collect()
            .await?;
        let mut merged = CheckResult::default();
        for part in parts {
            merged.missing.extend(part.missing);
            merged.unowned.extend(part.unowned);
            merged.owned.extend(part.owned);
        }
        Ok(merged)
    }

    /// Claims a stored node with a proof of possession computed from `bytes` and this
    /// storage's token. Errors are the server's: `Http { 404, "not_found" }`,
    /// `Http { 403, "invalid_pop" }` (the bytes are not the node's), `Http { 409,
    /// "missing_nodes" }` (claim or put the children first). Claiming an owned node succeeds.
    pub async fn claim(&self, key: Key, bytes: &[u8]) -> Result<()> {
        let url = wire::claim_url(&self.inner.config.base_url, &self.inner.config.realm, &key);
        let body = |token: &CurrentToken| {
            Body::Json(wire::claim_body(&pop::proof_with_key(
                &token.pop_key,
                bytes,
            )))
        };
        self.send_authed("POST", &url, body).await.map(|_| ())
    }

    /// Claims many nodes, children before parents, in requests of at most `maxClaimBatch`,
    /// sent one after the other. One outcome per node in input order; a refused claim is
    /// [`Error::Rejected`] (`not_found`, `invalid_pop`, `missing_nodes`). The outer error is a
    /// failed request.
    pub async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<(), Error>>> {
        if nodes.is_empty() {
            return Ok(Vec::new());
        }
        let limits = self.info().await?;
        let url = self.url(wire::claim_many_url);
        let mut outcomes = Vec::with_capacity(nodes.len());
        for group in nodes.chunks(limits.max_claim_batch.max(1)) {
            let keys: Vec<Key> = group.iter().map(|(key, _)| *key).collect();
            let body = |token: &CurrentToken| {
                let claims: Vec<(Key, String)> = group
                    .iter()
                    .map(|(key, bytes)| (*key, pop::proof_with_key(&token.pop_key, bytes)))
                    .collect();
                Body::Json(wire::claims_body(&claims))
            };
            let reply = self.send_authed("POST", &url, body).await?;
            outcomes.extend(wire::parse_item_results(reply.status, &reply.body, &keys)?);
        }
        Ok(outcomes)
    }
}

impl StorageProvider for HttpStorage {
    /// The node's bytes (checked against the key), `None` only for `not_found`. A node
    /// stored but not owned by this realm is `Http { 403, "not_owned" }`. Sent with every get
    /// of the same tick in many-nodes gets (alone in its tick: one `GET .../raw/{key}`).
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let (answer, first) = self.inner.gets.join(key);
        if first {
            spawn_local(self.clone().flush_gets());
        }
        answer.await.unwrap_or(Err(Error::Closed))
    }

    /// Uploads one node (`PUT`); succeeds if the realm now owns it (stored now or before).
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        let url = wire::raw_url(&self.inner.config.base_url, &self.inner.config.realm, &key);
        self.send_authed("PUT", &url, |_| Body::Binary(bytes.to_vec()))
            .await
            .map(|_| ())
    }
}

/// The sync engine's view of the server: the batched calls above.
impl SyncRemote for HttpStorage {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        HttpStorage::check_many(self, keys).await
    }
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        HttpStorage::claim_many(self, nodes).await
    }
    /// Nodes reach the engine's passes only after its `put` validated them.
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.upload(nodes, Verify::Trusted).await
    }
    fn max_node_size(&self) -> Option<usize> {
        let limits = self.inner.limits.borrow();
        limits.as_ref().map(Limits::largest_node)
    }
    /// The batches `put_many` sends, once the server's limits are known (the pass's check has
    /// fetched them); before that, one call.
    fn upload_batches(&self, lengths: &[usize]) -> Vec<Range<usize>> {
        match self.inner.limits.borrow().as_ref() {
            Some(limits) => {
                wire::plan_batches(lengths, limits.batch_bytes(), limits.max_batch_nodes)
            }
            None => std::iter::once(0..lengths.len()).collect(),
        }
    }
}

/// Whether an upload hashes its nodes before sending them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    /// Every node is hashed; one whose bytes do not match its key is refused unsent.
    Hash,
    /// The caller validated every node already.
    Trusted,
}
