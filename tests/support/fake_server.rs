//! An in-memory model of the server's ownership rules for one realm, for native tests of the
//! sync pass and the sync engine: request log, refusals, vanishing nodes, a failing check, a
//! seeded share of 503s, a whole outage, and a refused token. Include it with
//! `#[path = "support/fake_server.rs"] mod fake_server;`.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use casweb::node;
use casweb::sync::{CheckResult, SyncRemote};
use casweb::{Error, Key, Result, StorageProvider};

/// The server's ownership rules for one realm, in memory, with knobs to make it fail.
#[derive(Default)]
pub struct FakeServer {
    pub stored: RefCell<HashMap<Key, Bytes>>,
    pub owned: RefCell<HashSet<Key>>,
    pub requests: RefCell<Vec<(&'static str, Vec<Key>)>>,
    /// Fail the n-th check request (1-based) with a network error; 0 = never.
    pub fail_check_number: Cell<usize>,
    /// Fail the n-th upload request (1-based) with a network error; 0 = never.
    pub fail_put_number: Cell<usize>,
    /// Nodes per upload request, as the server's batch limit (`None`: no limit).
    pub max_batch_nodes: Cell<Option<usize>>,
    /// Keys whose upload the server refuses as invalid.
    pub refuse: RefCell<HashSet<Key>>,
    /// Keys that disappear between check and claim.
    pub vanish_on_claim: RefCell<HashSet<Key>>,
    /// Percentage of requests answered `503 injected_fault`, decided by a seeded generator.
    pub fault_percent: Cell<u32>,
    fault_state: Cell<u64>,
    /// While true every request fails as if the server were down (connection refused).
    pub down: Cell<bool>,
    /// While true every request is refused as if the token had expired (401 `token_expired`,
    /// which the HTTP client could not renew).
    pub refuse_token: Cell<bool>,
    /// The largest node the server says it accepts (`None`: not known yet).
    pub max_node: Cell<Option<usize>>,
    /// While true an upload takes one turn of the executor before the server stores it, so
    /// requests sent meanwhile show in the log before it is acknowledged.
    pub slow_puts: Cell<bool>,
    /// For each upload request that was stored, how many requests the log held by then.
    pub stored_after: RefCell<Vec<usize>>,
}

/// Pending once (waking itself), then ready: lets other futures of a join run.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl FakeServer {
    /// A server failing `percent` % of its requests with a 503, reproducibly for `seed`.
    pub fn faulty(percent: u32, seed: u64) -> FakeServer {
        let server = FakeServer::default();
        server.fault_percent.set(percent);
        server
            .fault_state
            .set(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        server
    }

    /// The failure this request gets from the outage or fault knobs, if any.
    fn fault(&self) -> Option<Error> {
        if self.down.get() {
            return Some(Error::Network("connection refused".into()));
        }
        if self.refuse_token.get() {
            return Some(Error::Unauthorized {
                code: "token_expired".into(),
                message: "the token expired".into(),
            });
        }
        if self.fault_percent.get() == 0 {
            return None;
        }
        // xorshift64
        let mut x = self.fault_state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.fault_state.set(x);
        (x % 100 < u64::from(self.fault_percent.get())).then(|| Error::Http {
            status: 503,
            code: "injected_fault".into(),
            message: "injected".into(),
        })
    }

    fn log(&self, kind: &'static str, keys: Vec<Key>) {
        self.requests.borrow_mut().push((kind, keys));
    }

    /// Requests received of `kind` ("check", "claim", "put").
    pub fn count(&self, kind: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|(k, _)| *k == kind)
            .count()
    }

    /// Requests received, of any kind.
    pub fn total_requests(&self) -> usize {
        self.requests.borrow().len()
    }

    /// True if `key` was sent in a claim or an upload.
    pub fn sent(&self, key: &Key) -> bool {
        self.requests
            .borrow()
            .iter()
            .any(|(kind, keys)| *kind != "check" && keys.contains(key))
    }

    fn children_owned(&self, bytes: &[u8]) -> Result<()> {
        let owned = self.owned.borrow();
        // Bytes that are not a node (some tests use plain strings) have no children.
        let missing: Vec<Key> = node::child_keys(bytes)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !owned.contains(c))
            .collect();
        match missing.first() {
            None => Ok(()),
            Some(child) => Err(Error::Rejected {
                key: *child,
                code: "missing_nodes".into(),
                message: format!("{} children missing", missing.len()),
            }),
        }
    }
}

impl SyncRemote for FakeServer {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        self.log("check", keys.to_vec());
        if self.count("check") == self.fail_check_number.get() {
            return Err(Error::Network("connection refused".into()));
        }
        if let Some(error) = self.fault() {
            return Err(error);
        }
        let mut result = CheckResult::default();
        for key in keys {
            if self.owned.borrow().contains(key) {
                result.owned.push(*key);
            } else if self.stored.borrow().contains_key(key) {
                result.unowned.push(*key);
            } else {
                result.missing.push(*key);
            }
        }
        Ok(result)
    }

    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.log("claim", nodes.iter().map(|(k, _)| *k).collect());
        if let Some(error) = self.fault() {
            return Err(error);
        }
        Ok(nodes
            .iter()
            .map(|(key, bytes)| {
                if self.vanish_on_claim.borrow().contains(key) {
                    self.stored.borrow_mut().remove(key);
                }
                if !self.stored.borrow().contains_key(key) {
                    return Err(Error::Rejected {
                        key: *key,
                        code: "not_found".into(),
                        message: "gone".into(),
                    });
                }
                self.children_owned(bytes)?;
                self.owned.borrow_mut().insert(*key);
                Ok(())
            })
            .collect())
    }

    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.log("put", nodes.iter().map(|(k, _)| *k).collect());
        if self.count("put") == self.fail_put_number.get() {
            return Err(Error::Network("connection reset".into()));
        }
        if let Some(error) = self.fault() {
            return Err(error);
        }
        if self.slow_puts.get() {
            YieldOnce(false).await;
        }
        self.stored_after
            .borrow_mut()
            .push(self.requests.borrow().len());
        Ok(nodes
            .iter()
            .map(|(key, bytes)| {
                if self.refuse.borrow().contains(key) {
                    return Err(Error::Rejected {
                        key: *key,
                        code: "invalid_node".into(),
                        message: "refused".into(),
                    });
                }
                assert!(key.matches(bytes), "bytes sent under the wrong key");
                self.children_owned(bytes)?;
                self.stored.borrow_mut().insert(*key, bytes.clone());
                self.owned.borrow_mut().insert(*key);
                Ok(())
            })
            .collect())
    }

    fn max_node_size(&self) -> Option<usize> {
        self.max_node.get()
    }

    fn upload_batches(&self, lengths: &[usize]) -> Vec<std::ops::Range<usize>> {
        let per_batch = self.max_batch_nodes.get().unwrap_or(usize::MAX).max(1);
        (0..lengths.len())
            .step_by(per_batch)
            .map(|start| start..(start + per_batch).min(lengths.len()))
            .collect()
    }
}

/// Reads as the realm sees them (what the engine falls back to for nodes it no longer holds).
impl StorageProvider for FakeServer {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        Ok(self.stored.borrow().get(&key).cloned())
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.put_many(&[(key, bytes)]).await?.remove(0)
    }
}
