//! The Advertiser natively, with a deterministic fake discovery (announcements complete when the
//! test says so), a manual clock and an in-memory store: the concurrency limit, re-announce on
//! schedule, priority of new keys, dedup, pause and resume without peers, backoff, lifecycle
//! errors, and resuming a persisted schedule.
#![cfg(feature = "p2p")]

#[path = "support/manual_runtime.rs"]
mod manual_runtime;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::executor::LocalPool;
use futures::task::LocalSpawnExt as _;

use casweb::error::{Error, Result};
use casweb::p2p::advertiser::{
    AdvertStore, Advertiser, AdvertiserConfig, Discovery, KeyStatus, ScheduleConfig, Scheduler,
};
use casweb::runtime::Runtime as _;
use casweb::storage::{AdvertisingStorage, MemoryStorage};
use casweb::sync::backoff::Backoff;
use casweb::{Key, StorageProvider};
use manual_runtime::ManualRuntime;

const START_MS: u64 = 1_700_000_000_000;
const MINUTE: u64 = 60_000;

fn key(n: u32) -> Key {
    Key::for_bytes(&n.to_le_bytes())
}

// ---- fakes ----

/// Announcements wait until the test completes them; records who was announced and the most
/// in flight at once.
#[derive(Default)]
struct FakeDht {
    pending: RefCell<Vec<(Key, oneshot::Sender<Result<()>>)>>,
    announced: RefCell<Vec<Key>>,
    started: RefCell<Vec<Key>>,
    most_in_flight: Cell<usize>,
    connected: Cell<bool>,
    peer_checks: Cell<u32>,
}

#[derive(Clone)]
struct Dht(Rc<FakeDht>);

impl Discovery for Dht {
    async fn provide(&self, key: Key) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        {
            let mut pending = self.0.pending.borrow_mut();
            pending.push((key, reply));
            self.0
                .most_in_flight
                .set(self.0.most_in_flight.get().max(pending.len()));
        }
        self.0.started.borrow_mut().push(key);
        let outcome = answer.await.unwrap_or(Err(Error::Closed));
        if outcome.is_ok() {
            self.0.announced.borrow_mut().push(key);
        }
        outcome
    }
    async fn has_peers(&self) -> bool {
        self.0.peer_checks.set(self.0.peer_checks.get() + 1);
        self.0.connected.get()
    }
}

impl Dht {
    fn in_flight(&self) -> Vec<Key> {
        self.0.pending.borrow().iter().map(|(k, _)| *k).collect()
    }
    /// Completes every pending announcement with `outcome`; returns how many.
    fn complete_all(&self, outcome: impl Fn() -> Result<()>) -> usize {
        let pending: Vec<_> = self.0.pending.borrow_mut().drain(..).collect();
        let n = pending.len();
        for (_, reply) in pending {
            let _ = reply.send(outcome());
        }
        n
    }
}

#[derive(Clone, Default)]
struct MemoryStore {
    records: Rc<RefCell<HashMap<Key, u32>>>,
    saves: Rc<Cell<u32>>,
}

impl AdvertStore for MemoryStore {
    async fn load(&self) -> Result<Vec<(Key, u32)>> {
        Ok(self
            .records
            .borrow()
            .iter()
            .map(|(k, s)| (*k, *s))
            .collect())
    }
    async fn save(&self, records: &[(Key, u32)]) -> Result<()> {
        self.saves.set(self.saves.get() + 1);
        self.records.borrow_mut().extend(records.iter().copied());
        Ok(())
    }
}

struct Harness {
    pool: LocalPool,
    runtime: ManualRuntime,
    dht: Dht,
    store: MemoryStore,
    advertiser: Advertiser<Dht, MemoryStore, ManualRuntime>,
}

fn config(max_concurrent: usize, interval_ms: u64) -> AdvertiserConfig {
    AdvertiserConfig {
        schedule: ScheduleConfig {
            max_concurrent,
            readvertise_interval_ms: interval_ms,
            backoff: Backoff {
                base_ms: 1_000,
                max_ms: 8_000,
            },
        },
        ..AdvertiserConfig::default()
    }
}

impl Harness {
    fn new(config: AdvertiserConfig) -> Harness {
        Harness::with_store(config, MemoryStore::default(), START_MS)
    }

    fn with_store(config: AdvertiserConfig, store: MemoryStore, now: u64) -> Harness {
        let pool = LocalPool::new();
        let runtime = ManualRuntime::new(now, pool.spawner());
        let dht = Dht(Rc::new(FakeDht::default()));
        dht.0.connected.set(true);
        let advertiser = Advertiser::new(dht.clone(), store.clone(), runtime.clone(), config);
        Harness {
            pool,
            runtime,
            dht,
            store,
            advertiser,
        }
    }

    fn run<T>(&mut self, future: impl std::future::Future<Output = T>) -> T {
        self.pool.run_until(future)
    }

    fn settle(&mut self) {
        self.pool.run_until_stalled();
    }

    fn start(&mut self) {
        let advertiser = self.advertiser.clone();
        self.run(advertiser.start()).expect("start");
        self.settle();
    }

    /// Advances time in 1 s steps, completing every announcement successfully as it starts.
    fn run_for(&mut self, ms: u64) {
        for _ in 0..ms / 1000 {
            self.runtime.advance(1000);
            self.settle();
            while self.dht.complete_all(|| Ok(())) > 0 {
                self.settle();
            }
        }
    }
}

// ---- the pure scheduler ----

#[test]
fn scheduler_never_exceeds_the_limit_and_serves_new_keys_first() {
    let mut scheduler = Scheduler::new(ScheduleConfig {
        max_concurrent: 3,
        ..ScheduleConfig::default()
    });
    scheduler.load([(key(100), 1), (key(101), 2)]);
    for n in 0..5 {
        assert!(scheduler.enqueue(key(n)));
    }
    let now = START_MS;
    let first: Vec<Key> = std::iter::from_fn(|| scheduler.next(now)).collect();
    assert_eq!(first, vec![key(0), key(1), key(2)]);
    assert_eq!(scheduler.next(now), None, "limit of 3");
    scheduler.succeeded(key(0), now);
    assert_eq!(scheduler.next(now), Some(key(3)));
    scheduler.succeeded(key(1), now);
    scheduler.succeeded(key(2), now);
    // New key 4 before the two long-overdue refreshes.
    assert_eq!(scheduler.next(now), Some(key(4)));
    assert_eq!(scheduler.next(now), Some(key(100)));
    assert_eq!(scheduler.next(now), None);
    scheduler.succeeded(key(3), now);
    assert_eq!(scheduler.next(now), Some(key(101)));
    assert_eq!(scheduler.in_flight(), 3);
}

#[test]
fn scheduler_dedups_keys_queued_in_flight_or_announced() {
    let mut scheduler = Scheduler::new(ScheduleConfig::default());
    assert!(scheduler.enqueue(key(1)));
    assert!(!scheduler.enqueue(key(1)), "queued");
    assert_eq!(scheduler.next(START_MS), Some(key(1)));
    assert!(!scheduler.enqueue(key(1)), "in flight");
    assert_eq!(scheduler.status(key(1)), Some(KeyStatus::InFlight));
    scheduler.succeeded(key(1), START_MS);
    assert!(!scheduler.enqueue(key(1)), "announced");
    assert_eq!(scheduler.next(START_MS), None);
    assert_eq!(scheduler.tracked_count(), 1);
    assert_eq!(scheduler.advertised_count(), 1);
    assert!(scheduler.is_advertised(key(1)) && !scheduler.is_advertised(key(2)));
    assert_eq!(
        scheduler.take_dirty(),
        vec![(key(1), 0), (key(1), (START_MS / 1000) as u32)]
    );
}

#[test]
fn scheduler_backs_off_failures_and_pauses_without_peers() {
    let mut scheduler = Scheduler::new(ScheduleConfig {
        max_concurrent: 10,
        readvertise_interval_ms: 30 * MINUTE,
        backoff: Backoff {
            base_ms: 1_000,
            max_ms: 8_000,
        },
    });
    scheduler.enqueue(key(1));
    scheduler.enqueue(key(2));
    let now = START_MS;
    assert_eq!(scheduler.next(now), Some(key(1)));
    scheduler.failed(key(1), Error::Timeout { ms: 30_000 }, now, 0.5);
    match scheduler.status(key(1)) {
        Some(KeyStatus::Failed {
            error,
            failures: 1,
            retry_ms,
            announced_ms: None,
        }) => {
            assert_eq!(error.code(), "advertise_failed");
            assert_eq!(retry_ms, now + 750);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(scheduler.next(now), Some(key(2)));
    // No peers: key 2 goes back to the queue, no failure counted, nothing handed out.
    scheduler.failed(key(2), Error::NotConnected("none".into()), now, 0.5);
    assert!(scheduler.is_paused());
    assert_eq!(scheduler.status(key(2)), Some(KeyStatus::Queued));
    assert_eq!(scheduler.next(now + 5_000), None);
    assert_eq!(scheduler.metrics(now).failures_total, 1);
    scheduler.resume();
    assert_eq!(scheduler.next(now + 5_000), Some(key(2)));
    assert_eq!(scheduler.next(now + 5_000), Some(key(1)), "retry due");
    scheduler.failed(key(1), Error::Timeout { ms: 1 }, now + 5_000, 0.5);
    assert_eq!(scheduler.next_wake_ms(now + 5_000), Some(now + 6_500));
}

// ---- the engine ----

#[test]
fn the_limit_is_never_exceeded() {
    let mut h = Harness::new(config(4, 30 * MINUTE));
    h.start();
    for n in 0..50 {
        h.advertiser.advertise(key(n)).unwrap();
    }
    h.settle();
    let mut rounds = 0;
    while h.advertiser.advertised_count() < 50 {
        assert!(h.dht.in_flight().len() <= 4);
        // Complete one at a time: a slot frees, the next key starts at once.
        let first = h.dht.0.pending.borrow_mut().remove(0);
        first.1.send(Ok(())).unwrap();
        h.settle();
        rounds += 1;
    }
    assert_eq!(rounds, 50);
    assert_eq!(h.dht.0.most_in_flight.get(), 4);
    assert_eq!(
        *h.dht.0.started.borrow(),
        (0..50).map(key).collect::<Vec<_>>()
    );
    let metrics = h.advertiser.metrics();
    assert_eq!((metrics.announced_total, metrics.in_flight), (50, 0));
}

#[test]
fn re_advertises_on_schedule() {
    let mut h = Harness::new(config(10, 10 * MINUTE));
    h.start();
    h.advertiser.advertise(key(1)).unwrap();
    h.settle();
    h.dht.complete_all(|| Ok(()));
    h.settle();
    h.runtime.advance(5 * MINUTE);
    h.advertiser.advertise(key(2)).unwrap();
    h.settle();
    h.dht.complete_all(|| Ok(()));
    h.settle();
    assert_eq!(h.dht.0.started.borrow().len(), 2);
    // Key 1 is due at 10 min, key 2 at 15 min; nothing before.
    h.runtime.advance(5 * MINUTE - 1_000);
    h.settle();
    assert!(h.dht.in_flight().is_empty());
    h.runtime.advance(1_000);
    h.settle();
    assert_eq!(h.dht.in_flight(), vec![key(1)]);
    h.dht.complete_all(|| Ok(()));
    h.settle();
    h.runtime.advance(5 * MINUTE);
    h.settle();
    assert_eq!(h.dht.in_flight(), vec![key(2)]);
    h.dht.complete_all(|| Ok(()));
    h.settle();
    match h.advertiser.status(key(2)) {
        Some(KeyStatus::Announced { at_ms, next_ms }) => {
            assert_eq!(at_ms, START_MS + 15 * MINUTE);
            assert_eq!(next_ms, at_ms + 10 * MINUTE);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.advertiser.advertised_count(), 2);
}

#[test]
fn new_keys_go_before_due_refreshes() {
    let mut h = Harness::new(config(1, MINUTE));
    h.start();
    for n in 0..3 {
        h.advertiser.advertise(key(n)).unwrap();
    }
    h.run_for(2_000);
    assert_eq!(h.advertiser.advertised_count(), 3);
    h.dht.0.started.borrow_mut().clear();
    // All three are due for refresh; two new keys arrive while key 10 is in flight.
    h.runtime.advance(MINUTE);
    h.advertiser.advertise(key(10)).unwrap();
    h.settle();
    h.advertiser.advertise(key(11)).unwrap();
    h.advertiser.advertise(key(12)).unwrap();
    h.settle();
    while h.dht.complete_all(|| Ok(())) > 0 {
        h.settle();
    }
    let order = h.dht.0.started.borrow().clone();
    assert_eq!(order, [10, 11, 12, 0, 1, 2].map(key).to_vec());
}

#[test]
fn a_key_is_never_queued_twice() {
    let mut h = Harness::new(config(10, 30 * MINUTE));
    let storage = AdvertisingStorage::new(MemoryStorage::new(), h.advertiser.clone());
    h.start();
    let bytes = bytes::Bytes::from_static(b"same block");
    let k = Key::for_bytes(&bytes);
    h.run(async {
        storage.put(k, bytes.clone()).await.unwrap();
        storage.put(k, bytes.clone()).await.unwrap();
    });
    h.settle();
    assert_eq!(h.dht.in_flight(), vec![k]);
    assert_eq!(h.advertiser.advertise(k), Ok(false), "in flight");
    h.dht.complete_all(|| Ok(()));
    h.settle();
    h.run(storage.put(k, bytes)).unwrap();
    h.settle();
    assert_eq!(h.advertiser.advertise(k), Ok(false), "announced");
    assert_eq!(h.dht.0.started.borrow().len(), 1);
}

#[test]
fn pauses_without_peers_and_resumes_on_reconnect() {
    let mut h = Harness::new(config(5, 30 * MINUTE));
    h.start();
    for n in 0..20 {
        h.advertiser.advertise(key(n)).unwrap();
    }
    h.settle();
    assert_eq!(h.dht.in_flight().len(), 5);
    // The connection drops: every announcement in flight reports not_connected.
    h.dht.0.connected.set(false);
    h.dht
        .complete_all(|| Err(Error::NotConnected("no connection to the DHT".into())));
    h.settle();
    assert!(h.advertiser.metrics().paused);
    // Ten seconds offline: no new attempts, no failures, only cheap peer checks.
    h.run_for(10_000);
    assert_eq!(h.dht.0.started.borrow().len(), 5);
    assert_eq!(h.advertiser.metrics().failures_total, 0);
    assert!(h.dht.0.peer_checks.get() >= 9);
    assert_eq!(h.advertiser.status(key(0)), Some(KeyStatus::Queued));
    // Back online: within one poll every key is announced, the interrupted ones first.
    h.dht.0.connected.set(true);
    h.run_for(2_000);
    assert_eq!(h.advertiser.advertised_count(), 20);
    assert!(!h.advertiser.metrics().paused);
    let sorted = |keys: &[Key]| {
        let mut keys = keys.to_vec();
        keys.sort();
        keys
    };
    let started = h.dht.0.started.borrow().clone();
    assert_eq!(sorted(&started[5..10]), sorted(&started[..5]));
}

#[test]
fn failures_retry_with_backoff() {
    let mut h = Harness::new(config(10, 30 * MINUTE));
    h.start();
    h.advertiser.advertise(key(1)).unwrap();
    h.settle();
    let mut attempts_at = Vec::new();
    for _ in 0..4 {
        attempts_at.push(h.runtime.now_ms() - START_MS);
        h.dht.complete_all(|| Err(Error::Timeout { ms: 30_000 }));
        h.settle();
        while h.dht.in_flight().is_empty() {
            h.runtime.advance(250);
            h.settle();
        }
    }
    // Jitter 0.5 gives 3/4 of 1, 2, 4, 8 s.
    assert_eq!(attempts_at, vec![0, 750, 2_250, 5_250]);
    let metrics = h.advertiser.metrics();
    assert_eq!((metrics.failures_total, metrics.failing), (4, 1));
    h.dht.complete_all(|| Ok(()));
    h.settle();
    assert!(matches!(
        h.advertiser.status(key(1)),
        Some(KeyStatus::Announced { .. })
    ));
    assert_eq!(h.advertiser.metrics().failing, 0);
}

#[test]
fn lifecycle_errors_and_stop_waits_for_in_flight() {
    let mut h = Harness::new(config(10, 30 * MINUTE));
    let advertiser = h.advertiser.clone();
    assert_eq!(h.run(advertiser.stop()), Err(Error::NotRunning));
    // Keys queued while stopped are announced once started.
    advertiser.advertise(key(1)).unwrap();
    advertiser.advertise(key(2)).unwrap();
    h.start();
    assert_eq!(h.run(advertiser.start()), Err(Error::AlreadyRunning));
    assert_eq!(h.dht.in_flight().len(), 2);

    let stopped = Rc::new(Cell::new(false));
    let (flag, stopping) = (stopped.clone(), advertiser.clone());
    h.runtime
        .spawner
        .spawn_local(async move {
            stopping.stop().await.unwrap();
            flag.set(true);
        })
        .unwrap();
    h.settle();
    assert!(!stopped.get(), "stop waits for the announcements in flight");
    assert_eq!(h.run(advertiser.start()), Err(Error::AlreadyRunning));
    advertiser.advertise(key(3)).unwrap();
    h.dht.complete_all(|| Ok(()));
    h.settle();
    assert!(stopped.get());
    assert!(!advertiser.is_running());
    assert_eq!(h.dht.0.started.borrow().len(), 2, "nothing new after stop");
    // Persisted on stop, including the key queued meanwhile.
    let records = h.store.records.borrow().clone();
    assert_eq!(records[&key(1)], (START_MS / 1000) as u32);
    assert_eq!(records[&key(3)], 0);
    assert_eq!(h.run(advertiser.stop()), Err(Error::NotRunning));
    // And it restarts.
    h.start();
    assert_eq!(h.dht.in_flight(), vec![key(3)]);
}

#[test]
fn a_reload_resumes_the_schedule() {
    let interval = 10 * MINUTE;
    let mut first = Harness::new(config(10, interval));
    first.start();
    for n in 0..10 {
        first.advertiser.advertise(key(n)).unwrap();
    }
    first.run_for(1_000);
    first.runtime.advance(6 * MINUTE);
    for n in 10..20 {
        first.advertiser.advertise(key(n)).unwrap();
    }
    first.run_for(1_000);
    // Two more stored, never announced (no peers) before the page goes away.
    first.dht.0.connected.set(false);
    first.advertiser.advertise(key(20)).unwrap();
    first.settle();
    first
        .dht
        .complete_all(|| Err(Error::NotConnected("offline".into())));
    first.settle();
    first.advertiser.advertise(key(21)).unwrap();
    first.run_for(2_000); // persisted within the persist interval
    assert!(first.store.saves.get() <= 4, "batched writes");
    assert_eq!(first.store.records.borrow().len(), 22);

    // Reload 5 minutes later: keys 0-9 are due (11 min old), 10-19 are not (5 min old).
    let now = first.runtime.now_ms() + 5 * MINUTE;
    let mut second = Harness::with_store(config(10, interval), first.store.clone(), now);
    second.start();
    let started = second.dht.in_flight();
    assert!(
        started[..2].contains(&key(20)) && started[..2].contains(&key(21)),
        "never announced first"
    );
    assert_eq!(started.len(), 10, "no more than the limit");
    second.run_for(5_000);
    let announced: Vec<Key> = second.dht.0.started.borrow().clone();
    assert_eq!(announced.len(), 12);
    assert!(announced[2..]
        .iter()
        .all(|k| (0..10).map(key).any(|d| d == *k)));
    assert_eq!(second.advertiser.advertised_count(), 22);
    assert!(second.advertiser.is_advertised(key(15)));
    // The rest when due: 10 minutes after their last announcement, not before.
    second.run_for(4 * MINUTE);
    assert_eq!(second.dht.0.started.borrow().len(), 12);
    second.run_for(MINUTE);
    assert_eq!(second.dht.0.started.borrow().len(), 22);
}
