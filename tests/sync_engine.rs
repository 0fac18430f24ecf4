//! The sync engine natively, with a manual clock and an in-memory server: debounce, backoff of a
//! node's own failures only, no pass that attempts nothing, flush waiters and explicit flushes of
//! parked nodes, backpressure, resuming from the pending store, bad puts refused, random
//! fault schedules (many seeds) at 20 % and 50 % where every node ends owned, and a refused
//! token (`unauthorized`) parking nodes instead of retrying them.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/fake_server.rs"]
mod fake_server;
#[path = "support/manual_runtime.rs"]
mod manual_runtime;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::rc::Rc;

use bytes::Bytes;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt as _;
use futures::FutureExt as _;

use casweb::chunker::{chunk_file, ChunkOptions};
use casweb::error::{Error, Result};
use casweb::runtime::Runtime as _;
use casweb::sync::{
    Backoff, BufferedConfig, NoLock, PendingStore, SyncEngine, SyncHooks, SyncResult,
};
use casweb::{node, Key, StorageProvider};
use fake_server::FakeServer;
use manual_runtime::ManualRuntime;

const START_MS: u64 = 1_700_000_000_000;

/// Pending nodes kept in memory, shared by the engines opened on it (a reload).
#[derive(Clone, Default)]
struct MemoryPending(Rc<RefCell<HashMap<Key, Bytes>>>);

impl PendingStore for MemoryPending {
    async fn entries(&self) -> Result<Vec<(Key, Bytes)>> {
        Ok(self
            .0
            .borrow()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect())
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.0.borrow_mut().insert(key, bytes);
        Ok(())
    }
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        let mut map = self.0.borrow_mut();
        for key in keys {
            map.remove(key);
        }
        Ok(())
    }
    fn close(&self) {}
}

type Engine = SyncEngine<Rc<FakeServer>, MemoryPending, NoLock, ManualRuntime>;

struct Harness {
    pool: LocalPool,
    runtime: ManualRuntime,
    server: Rc<FakeServer>,
    pending: MemoryPending,
    engine: Engine,
}

fn config(base_ms: u32, max_ms: u32) -> BufferedConfig {
    BufferedConfig {
        debounce_ms: 100,
        backoff: Backoff { base_ms, max_ms },
        pending_store: None,
        ..BufferedConfig::default()
    }
}

impl Harness {
    fn new(server: FakeServer, config: BufferedConfig) -> Harness {
        let pool = LocalPool::new();
        let runtime = ManualRuntime::new(START_MS, pool.spawner());
        let mut harness = Harness {
            engine: Harness::placeholder(),
            pool,
            runtime,
            server: Rc::new(server),
            pending: MemoryPending::default(),
        };
        harness.engine = harness.open(config);
        harness
    }

    /// An engine is needed to build the struct; replaced at once by `open`.
    fn placeholder() -> Engine {
        let mut pool = LocalPool::new();
        let runtime = ManualRuntime::new(START_MS, pool.spawner());
        pool.run_until(SyncEngine::start(
            Rc::new(FakeServer::default()),
            config(1, 1),
            None,
            NoLock,
            runtime,
        ))
        .unwrap()
    }

    /// Opens an engine on this harness's server and pending store (as after a reload).
    fn open(&mut self, config: BufferedConfig) -> Engine {
        let engine = SyncEngine::start(
            self.server.clone(),
            config,
            Some(self.pending.clone()),
            NoLock,
            self.runtime.clone(),
        );
        self.pool.run_until(engine).unwrap()
    }

    fn run<T>(&mut self, future: impl Future<Output = T>) -> T {
        self.pool.run_until(future)
    }

    fn settle(&mut self) {
        self.pool.run_until_stalled();
    }

    /// Lets time pass timer by timer (at most `limit_ms`), until `done` or nothing is scheduled;
    /// checks after each step that every pending node has a schedule. Returns the time taken.
    fn run_until(&mut self, limit_ms: u64, done: impl Fn(&Harness) -> bool) -> u64 {
        let start = self.runtime.now_ms();
        for step in 0.. {
            // An engine re-arming timers that are already due would never let time pass.
            assert!(
                step < 100_000,
                "100,000 wake-ups without reaching the limit: a busy loop"
            );
            self.settle();
            self.assert_everything_scheduled();
            if done(self) {
                break;
            }
            let Some(deadline) = self.runtime.next_deadline() else {
                break;
            };
            if deadline > start + limit_ms {
                break;
            }
            self.runtime
                .advance(deadline.saturating_sub(self.runtime.now_ms()));
        }
        self.runtime.now_ms() - start
    }

    /// The invariant: with the engine idle, every pending node is due at a known time (a
    /// timer is armed), or refused for good (parked, or waiting for a parked descendant) with
    /// an error that `failures()` reports.
    fn assert_everything_scheduled(&self) {
        let stats = self.engine.stats();
        let for_good = self
            .engine
            .failures()
            .iter()
            .filter(|(_, error)| !error.is_transient())
            .count();
        assert!(
            stats.pending == for_good || self.runtime.next_deadline().is_some(),
            "{} pending nodes, {for_good} refused for good, and no timer: {stats:?}",
            stats.pending
        );
    }

    fn put_all(&mut self, nodes: &[(Key, Bytes)]) {
        let engine = self.engine.clone();
        let nodes = nodes.to_vec();
        self.run(async move {
            for (key, bytes) in nodes {
                engine.put(key, bytes).await.unwrap();
            }
        });
    }

    fn owns_all(&self, nodes: &[(Key, Bytes)]) -> bool {
        let owned = self.server.owned.borrow();
        nodes.iter().all(|(key, _)| owned.contains(key))
    }
}

/// Nodes of `files` files of `len` bytes (128-byte chunks: several levels), children first.
fn dags(files: u32, len: usize) -> Vec<(Key, Bytes)> {
    (0..files)
        .flat_map(|file| {
            let data: Vec<u8> = (0..len as u32)
                .map(|i| ((i ^ file.wrapping_mul(7919)).wrapping_mul(2_654_435_761) >> 24) as u8)
                .collect();
            let options = ChunkOptions {
                chunk_size: 128,
                ..Default::default()
            };
            chunk_file(&data, &options).unwrap().nodes
        })
        .collect()
}

fn leaf(n: u32) -> (Key, Bytes) {
    let bytes = Bytes::from(node::encode_successor(&[], &n.to_le_bytes(), 0).unwrap());
    (Key::for_bytes(&bytes), bytes)
}

#[test]
fn a_put_is_flushed_after_the_debounce_and_leaves_the_pending_store() {
    let mut h = Harness::new(FakeServer::default(), config(500, 60_000));
    let nodes = dags(1, 2_000);
    h.put_all(&nodes);
    h.settle();
    assert_eq!(h.server.total_requests(), 0, "nothing before the debounce");
    assert_eq!(h.pending.0.borrow().len(), nodes.len());
    h.runtime.advance(99);
    h.settle();
    assert_eq!(h.server.total_requests(), 0);
    h.runtime.advance(1);
    h.settle();
    assert!(h.owns_all(&nodes));
    assert!(h.pending.0.borrow().is_empty());
    assert_eq!(h.engine.stats().passes, 1);
    assert!(
        h.runtime.next_deadline().is_none(),
        "an idle engine arms no timer"
    );
}

#[test]
fn random_faults_end_with_every_node_owned_and_passes_bounded_by_requests() {
    for percent in [20, 50] {
        for seed in 1..=40 {
            let mut h = Harness::new(FakeServer::faulty(percent, seed), config(500, 8_000));
            let nodes = dags(3, 3_000);
            h.put_all(&nodes);
            let took = h.run_until(3_600_000, |h| h.owns_all(&nodes));
            assert!(
                h.owns_all(&nodes),
                "{percent} % seed {seed}: {:?} after {took} ms; failures {:?}",
                h.engine.stats(),
                h.engine.failures().first()
            );
            let stats = h.engine.stats();
            assert_eq!(stats.pending, 0, "{percent} % seed {seed}");
            let requests = h.server.total_requests() as u64;
            assert!(
                stats.passes <= requests,
                "{percent} % seed {seed}: {} passes for {requests} requests",
                stats.passes
            );
            assert!(h.pending.0.borrow().is_empty());
        }
    }
}

#[test]
fn a_refused_token_parks_the_nodes_until_a_pass_gets_something_owned() {
    let mut h = Harness::new(FakeServer::default(), config(500, 8_000));
    h.server.refuse_token.set(true);
    let nodes = dags(1, 2_000);
    h.put_all(&nodes);
    h.run_until(600_000, |_| false);
    let stats = h.engine.stats();
    assert_eq!(stats.pending, nodes.len(), "nothing lost: {stats:?}");
    assert_eq!(stats.passes, 1, "not retried like a transient failure");
    assert_eq!(h.server.total_requests(), 1);
    assert!(h.runtime.next_deadline().is_none(), "no timer for it");
    let failures = h.engine.failures();
    assert!(failures.iter().any(|(_, e)| e.code() == "unauthorized"));
    assert!(failures.iter().all(|(_, e)| !e.is_transient()));
    assert!(h.pending.0.borrow().len() == nodes.len());
    // The token works again (renewed): the next put's pass gets its node owned and releases
    // the parked ones, which follow at once without an explicit flush.
    h.server.refuse_token.set(false);
    let fresh = leaf(7);
    h.put_all(std::slice::from_ref(&fresh));
    h.run_until(60_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes) && h.owns_all(&[fresh]));
    assert_eq!(h.engine.stats().pending, 0);
    assert!(h.pending.0.borrow().is_empty());
}

#[test]
fn nodes_parked_as_unauthorized_go_again_on_an_explicit_flush() {
    let mut h = Harness::new(FakeServer::default(), config(500, 8_000));
    h.server.refuse_token.set(true);
    let nodes = dags(1, 2_000);
    h.put_all(&nodes);
    let engine = h.engine.clone();
    let result = h.run(engine.flush()).unwrap();
    assert!(result.synced.is_empty());
    assert!(result
        .failed
        .iter()
        .any(|(_, e)| e.code() == "unauthorized"));
    assert_eq!(h.engine.stats().pending, nodes.len());
    h.server.refuse_token.set(false);
    let engine = h.engine.clone();
    let result = h.run(engine.flush()).unwrap();
    assert_eq!(
        result.synced.len(),
        nodes.len(),
        "{:?}",
        result.failed.first()
    );
    assert!(h.owns_all(&nodes));
}

#[test]
fn a_long_outage_is_retried_with_backoff_and_no_pass_in_between() {
    let mut h = Harness::new(FakeServer::default(), config(1_000, 16_000));
    h.server.down.set(true);
    let nodes = dags(1, 1_000);
    h.put_all(&nodes);
    let sleeps_before = h.runtime.sleeps.get();
    let mut pass_times = Vec::new();
    let mut last = 0;
    for _ in 0..12 {
        let Some(deadline) = h.runtime.next_deadline() else {
            h.settle();
            continue;
        };
        h.runtime.advance(deadline - h.runtime.now_ms());
        h.settle();
        if h.engine.stats().passes > last {
            last = h.engine.stats().passes;
            pass_times.push(h.runtime.now_ms() - START_MS);
        }
    }
    assert!(pass_times.len() >= 6, "{pass_times:?}");
    // Each pass sends one request (the check of the first level), never more.
    assert_eq!(h.server.total_requests() as u64, h.engine.stats().passes);
    let gaps: Vec<u64> = pass_times.windows(2).map(|w| w[1] - w[0]).collect();
    for pair in gaps.windows(2) {
        assert!(pair[1] >= pair[0], "gaps must grow until the cap: {gaps:?}");
    }
    assert!(gaps.iter().all(|gap| *gap <= 16_000), "{gaps:?}");
    assert!(*gaps.last().unwrap() >= 8_000, "{gaps:?}");
    let wakeups = h.runtime.sleeps.get() - sleeps_before;
    assert!(
        wakeups <= pass_times.len() + 2,
        "{wakeups} timers, {pass_times:?}"
    );
    h.server.down.set(false);
    h.run_until(60_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
}

#[test]
fn during_an_outage_the_engine_wakes_only_to_run_a_pass() {
    let mut h = Harness::new(FakeServer::default(), config(1_000, 16_000));
    // Jitter that differs between the nodes' own retries and the outage backoff.
    *h.runtime.jitter_cycle.borrow_mut() = vec![0.1, 0.9, 0.4, 0.7, 0.2, 0.95, 0.05];
    h.server.down.set(true);
    let nodes = dags(2, 3_000);
    h.put_all(&nodes);
    let sleeps_before = h.runtime.sleeps.get();
    h.run_until(120_000, |_| false);
    let passes = h.engine.stats().passes as usize;
    let wakeups = h.runtime.sleeps.get() - sleeps_before;
    assert!(passes >= 6, "{passes} passes");
    assert!(
        wakeups <= passes + 2,
        "{wakeups} timer wake-ups for {passes} passes: woken for nothing"
    );
    h.server.down.set(false);
    h.run_until(120_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
}

#[test]
fn a_parent_waiting_for_a_retrying_child_counts_no_attempt_and_goes_with_it() {
    // The busy loop of the reproduction: onSyncStart rejects once, retryBaseMs 4000.
    let rejected = Rc::new(Cell::new(false));
    let mut config = config(4_000, 60_000);
    let flag = rejected.clone();
    config.hooks = SyncHooks {
        on_sync_start: Some(Rc::new(move || {
            let first = !flag.replace(true);
            Box::pin(async move {
                if first {
                    Err(Error::Hook("not yet".into()))
                } else {
                    Ok(())
                }
            })
        })),
        ..SyncHooks::default()
    };
    let mut h = Harness::new(FakeServer::default(), config);
    let nodes = dags(1, 2_000);
    h.put_all(&nodes);
    let took = h.run_until(60_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
    assert!(rejected.get());
    assert_eq!(
        h.engine.stats().passes,
        2,
        "one rejected pass, one that syncs everything"
    );
    assert!((2_000..=4_200).contains(&took), "{took} ms");
}

#[test]
fn a_failed_level_makes_its_ancestors_wait_without_backoff_of_their_own() {
    let server = FakeServer::default();
    server.fail_check_number.set(2); // the second level's check
    let mut h = Harness::new(server, config(1_000, 60_000));
    let nodes = dags(1, 20_000);
    h.put_all(&nodes);
    h.run_until(150, |_| false);
    let failures: HashMap<Key, Error> = h.engine.failures().into_iter().collect();
    let root = nodes.last().unwrap().0;
    assert_eq!(failures[&root].code(), "child_not_synced");
    assert!(h.engine.stats().waiting > 0);
    // The failed level retries after ~1 s; everything above goes with it in the same pass.
    let took = h.run_until(60_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
    assert!(took <= 1_100, "{took} ms");
    assert_eq!(h.engine.stats().passes, 2);
}

#[test]
fn a_second_flush_retries_a_parked_node_whose_children_arrived() {
    let mut h = Harness::new(FakeServer::default(), config(500, 60_000));
    let (child, child_bytes) = leaf(1);
    let parent_bytes = Bytes::from(node::encode_set(&[child]).unwrap());
    let parent = Key::for_bytes(&parent_bytes);
    let engine = h.engine.clone();
    h.run(engine.put(parent, parent_bytes.clone())).unwrap();
    let first = h.run(engine.flush()).unwrap();
    assert_eq!(first.failed.len(), 1);
    assert_eq!(
        first.failed[0].1.code(),
        "rejected",
        "missing_nodes is permanent"
    );
    assert_eq!(h.engine.stats().parked, 1);
    let passes = h.engine.stats().passes;
    // The child reaches the server another way; an explicit flush takes the parked parent.
    let server = h.server.clone();
    h.run(server.put(child, child_bytes)).unwrap();
    let second = h.run(engine.flush()).unwrap();
    assert_eq!(second.synced, vec![parent]);
    assert_eq!(h.engine.stats().passes, passes + 1);
    assert_eq!(h.engine.stats().pending, 0);
}

#[test]
fn a_refused_child_parks_and_its_parent_waits_until_discarded_or_retried() {
    let server = FakeServer::default();
    let (child, child_bytes) = leaf(2);
    server.refuse.borrow_mut().insert(child);
    let mut h = Harness::new(server, config(500, 60_000));
    let parent_bytes = Bytes::from(node::encode_set(&[child]).unwrap());
    let parent = Key::for_bytes(&parent_bytes);
    h.put_all(&[(child, child_bytes.clone()), (parent, parent_bytes)]);
    h.run_until(10_000, |_| false);
    let failures: HashMap<Key, Error> = h.engine.failures().into_iter().collect();
    assert_eq!(failures[&child].code(), "rejected");
    assert_eq!(failures[&parent].code(), "child_not_synced");
    assert!(!failures[&parent].is_transient());
    let stats = h.engine.stats();
    assert_eq!((stats.parked, stats.waiting), (1, 1));
    assert!(
        h.runtime.next_deadline().is_none(),
        "nothing to do until someone acts"
    );
    // The server accepts it now: retry(child) makes it due; the parent goes with it.
    h.server.refuse.borrow_mut().clear();
    assert!(h.engine.retry(child));
    h.run_until(10_000, |h| h.engine.stats().pending == 0);
    assert!(h.server.owned.borrow().contains(&parent));
    assert!(!h.engine.retry(child), "no longer pending");
}

#[test]
fn discard_drops_a_node_for_good() {
    let server = FakeServer::default();
    let (child, child_bytes) = leaf(3);
    server.refuse.borrow_mut().insert(child);
    let mut h = Harness::new(server, config(500, 60_000));
    h.put_all(&[(child, child_bytes)]);
    h.run_until(10_000, |_| false);
    assert_eq!(h.engine.stats().parked, 1);
    let engine = h.engine.clone();
    assert!(h.run(engine.discard(child)).unwrap());
    assert_eq!(h.engine.stats().pending, 0);
    assert!(h.pending.0.borrow().is_empty());
    assert!(!h.run(engine.discard(child)).unwrap());
}

#[test]
fn a_reload_resumes_where_the_last_acknowledged_level_left_off() {
    let server = FakeServer::default();
    server.fail_check_number.set(3);
    let mut h = Harness::new(server, config(60_000, 60_000));
    let nodes = dags(1, 20_000);
    h.put_all(&nodes);
    h.run_until(150, |_| false);
    let owned = h.server.owned.borrow().len();
    assert!(owned > 0 && owned < nodes.len());
    // Owned nodes left the pending store as their level was acknowledged.
    assert_eq!(h.pending.0.borrow().len(), nodes.len() - owned);
    h.engine.dispose();
    let requests = h.server.total_requests();
    let mut config = config(500, 60_000);
    config.debounce_ms = 10;
    h.engine = h.open(config);
    assert_eq!(h.engine.stats().pending, nodes.len() - owned);
    h.run_until(1_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
    let rechecked: usize = h.server.requests.borrow()[requests..]
        .iter()
        .filter(|(kind, _)| *kind == "check")
        .map(|(_, keys)| keys.len())
        .sum();
    assert_eq!(
        rechecked,
        nodes.len() - owned,
        "only what was left is checked again"
    );
}

#[test]
fn a_full_buffer_makes_put_wait_for_room() {
    let mut config = config(500, 60_000);
    config.max_buffer_bytes = 100;
    let mut h = Harness::new(FakeServer::default(), config);
    let nodes: Vec<_> = (0..40).map(leaf).collect();
    let total: usize = nodes.iter().map(|(_, b)| b.len()).sum();
    assert!(total > 3 * 100, "{total} bytes");
    let engine = h.engine.clone();
    let all = nodes.clone();
    let most_buffered = h.run(async move {
        let mut most = 0;
        for (key, bytes) in all {
            engine.put(key, bytes).await.unwrap();
            most = most.max(engine.stats().buffered_bytes);
        }
        most
    });
    assert!(most_buffered <= 100, "{most_buffered} bytes buffered");
    assert!(h.engine.stats().passes >= 3, "puts waited for passes");
    h.run_until(60_000, |h| h.owns_all(&nodes));
    assert!(h.owns_all(&nodes));
}

#[test]
fn bad_puts_are_refused_and_nothing_is_kept() {
    let server = FakeServer::default();
    server.max_node.set(Some(300));
    let mut h = Harness::new(server, config(500, 60_000));
    let (key, bytes) = leaf(4);
    let (other, _) = leaf(5);
    let engine = h.engine.clone();
    let put = |key: Key, bytes: Bytes| engine.put(key, bytes);
    assert_eq!(
        h.run(put(other, bytes.clone())),
        Err(Error::HashMismatch { key: other })
    );
    let garbage = Bytes::from_static(b"not a node at all");
    let error = h.run(put(Key::for_bytes(&garbage), garbage)).unwrap_err();
    assert_eq!(error.code(), "invalid_node");
    let big = Bytes::from(node::encode_successor(&[], &[7; 400], 0).unwrap());
    let error = h.run(put(Key::for_bytes(&big), big)).unwrap_err();
    assert_eq!(error.code(), "too_large");
    assert_eq!(h.engine.stats().pending, 0);
    assert!(h.pending.0.borrow().is_empty());
    h.run(put(key, bytes)).unwrap();
    assert_eq!(h.engine.stats().pending, 1);
}

#[test]
fn flush_resolves_every_waiter_once_a_pass_started_after_it_ends() {
    let mut h = Harness::new(FakeServer::default(), config(500, 60_000));
    let nodes = dags(1, 2_000);
    h.put_all(&nodes);
    let engine = h.engine.clone();
    let results: Rc<RefCell<Vec<SyncResult>>> = Rc::default();
    for _ in 0..3 {
        let (engine, results) = (engine.clone(), results.clone());
        h.pool
            .spawner()
            .spawn_local(async move {
                let result = engine.flush().await.unwrap();
                results.borrow_mut().push(result);
            })
            .unwrap();
    }
    h.settle();
    assert_eq!(results.borrow().len(), 3);
    assert!(h.owns_all(&nodes));
    assert_eq!(h.engine.stats().passes, 1, "racing flushes share one pass");
    // A flush with nothing pending resolves at once, without a pass.
    let empty = h.run(engine.flush()).unwrap();
    assert_eq!(empty, SyncResult::default());
    assert_eq!(h.engine.stats().passes, 1);
}

#[test]
fn parked_nodes_leave_room_in_the_buffer_until_they_are_retried() {
    let refused: Vec<_> = (200..203).map(leaf).collect();
    let refused_bytes: usize = refused.iter().map(|(_, bytes)| bytes.len()).sum();
    let server = FakeServer::default();
    server
        .refuse
        .borrow_mut()
        .extend(refused.iter().map(|(key, _)| *key));
    let mut config = config(500, 60_000);
    config.max_buffer_bytes = refused_bytes + 1;
    let mut h = Harness::new(server, config);
    h.put_all(&refused);
    h.run_until(10_000, |h| h.engine.stats().parked == refused.len());
    assert_eq!(h.engine.stats().parked, refused.len());
    assert_eq!(h.engine.stats().buffered_bytes, refused_bytes);

    // Parked, their bytes stay buffered but take no room: a put goes through at once.
    let (key, bytes) = leaf(300);
    assert!(matches!(
        h.engine.put(key, bytes).now_or_never(),
        Some(Ok(()))
    ));
    h.run_until(10_000, |h| h.engine.stats().pending == refused.len());

    // Retried, they count again: the next put waits for a pass to make room.
    for (key, _) in &refused {
        assert!(h.engine.retry(*key));
    }
    let (key, bytes) = leaf(301);
    assert!(
        h.engine.put(key, bytes.clone()).now_or_never().is_none(),
        "the retried nodes fill the buffer"
    );
    h.server.refuse.borrow_mut().clear();
    let engine = h.engine.clone();
    h.run(engine.put(key, bytes)).unwrap();
    h.run_until(10_000, |h| h.engine.stats().pending == 0);
    assert!(h.owns_all(&refused));
}
