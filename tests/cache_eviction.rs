//! The bounded cache's policy (`casweb::storage::eviction`), natively, with a manual clock: a
//! model store driven by `CapState` and `AccessLog` exactly as `IndexedDbStorage` drives them
//! (puts admitted or queued, batches committed later, eviction batches of the least recently
//! used unpinned nodes, gets logged and written when due), over random schedules. After every
//! step: the store never holds more than the cap plus one node, no pinned node is ever evicted,
//! every eviction takes the least recently used node left, and no put waits for ever.

use std::collections::{HashMap, VecDeque};

use casweb::storage::eviction::{
    low_water, rewrites_access, AccessLog, CapState, Next, Stamps, Usage, ACCESS_FLUSH_MS,
    EVICT_BATCH_NODES,
};
use casweb::Key;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

#[derive(Clone, Copy)]
struct Meta {
    size: u64,
    stamp: f64,
    pins: u32,
}

/// What IndexedDB holds, as the lifecycle stores do.
#[derive(Default)]
struct Database {
    meta: HashMap<Key, Meta>,
}

impl Database {
    fn usage(&self) -> Usage {
        let mut usage = Usage::default();
        for meta in self.meta.values() {
            usage.bytes += meta.size;
            usage.nodes += 1;
            if meta.pins > 0 {
                usage.pinned_bytes += meta.size;
            }
        }
        usage
    }

    /// The `lru` index: unpinned nodes, oldest access first (ties by key).
    fn lru(&self) -> Vec<(f64, Key)> {
        let mut order: Vec<(f64, Key)> = self
            .meta
            .iter()
            .filter(|(_, m)| m.pins == 0)
            .map(|(k, m)| (m.stamp, *k))
            .collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        order
    }
}

/// The store: admission queue, one open write batch, eviction passes, access log.
struct Store {
    db: Database,
    cap: CapState,
    waiting: VecDeque<(Key, u64)>,
    batch: Vec<(Key, u64, f64)>,
    log: AccessLog,
    stamps: Stamps,
    now: u64,
    largest: u64,
    evicted: usize,
}

impl Store {
    fn new(max_bytes: u64) -> Store {
        Store {
            db: Database::default(),
            cap: CapState::new(max_bytes, Usage::default()),
            waiting: VecDeque::new(),
            batch: Vec::new(),
            log: AccessLog::default(),
            stamps: Stamps::default(),
            now: 1_700_000_000_000,
            largest: 0,
            evicted: 0,
        }
    }

    fn issue(&mut self, key: Key, size: u64) {
        let stamp = self.stamps.next(self.now as f64);
        self.cap.issued(size);
        self.batch.push((key, size, stamp));
    }

    fn put(&mut self, key: Key, size: u64) {
        self.largest = self.largest.max(size);
        if self.waiting.is_empty() && self.cap.admits() {
            self.issue(key, size);
        } else {
            self.cap.wait(size);
            self.waiting.push_back((key, size));
        }
    }

    /// Waiting puts go while the cap admits them (one wakes the next).
    fn release(&mut self) {
        while self.cap.admits() {
            let Some((key, size)) = self.waiting.pop_front() else {
                return;
            };
            self.cap.unwait(size);
            self.issue(key, size);
        }
    }

    fn commit(&mut self) {
        let issued: u64 = self.batch.iter().map(|(_, size, _)| size).sum();
        for (key, size, stamp) in self.batch.drain(..) {
            self.db.meta.entry(key).or_insert(Meta {
                size,
                stamp,
                pins: 0,
            });
        }
        self.cap.settled(issued, Some(self.db.usage()));
        self.release();
    }

    fn flush_log(&mut self) {
        for (key, stamp) in self.log.take() {
            if let Some(meta) = self.db.meta.get_mut(&key) {
                if rewrites_access(meta.stamp, stamp) {
                    meta.stamp = stamp;
                }
            }
        }
    }

    fn get(&mut self, key: Key) {
        if self.db.meta.contains_key(&key) {
            let stamp = self.stamps.next(self.now as f64);
            self.log.touch(key, stamp, self.now);
        }
    }

    /// A whole eviction pass, batch by batch, checking LRU order.
    fn evict(&mut self) {
        if !self.cap.wants_eviction() {
            return;
        }
        self.flush_log();
        for _ in 0..1_000 {
            let target = self.cap.target();
            let mut usage = self.db.usage();
            let mut evicted = 0;
            let mut newest_evicted = f64::MIN;
            for (stamp, key) in self.db.lru() {
                if usage.bytes <= target || evicted >= EVICT_BATCH_NODES {
                    break;
                }
                let meta = self.db.meta.remove(&key).unwrap();
                assert_eq!(meta.pins, 0, "a pinned node was evicted");
                newest_evicted = stamp;
                usage.bytes -= meta.size;
                usage.nodes -= 1;
                evicted += 1;
            }
            if let Some((oldest_left, _)) = self.db.lru().first() {
                assert!(
                    *oldest_left >= newest_evicted,
                    "a more recent node went first"
                );
            }
            self.evicted += evicted as usize;
            let next = self.cap.evicted(self.db.usage(), evicted);
            self.release();
            if next == Next::Done && !self.cap.wants_eviction() {
                return;
            }
        }
        panic!("an eviction pass that never ends");
    }

    fn check(&self, max_bytes: u64) {
        let usage = self.db.usage();
        let (stored, pinned) = (usage.bytes, usage.pinned_bytes);
        let in_batch: u64 = self.batch.iter().map(|(_, size, _)| size).sum();
        assert!(
            !self.cap.stuck(),
            "stuck with only a third of the cap pinned"
        );
        assert!(
            stored + in_batch <= max_bytes.max(pinned) + self.largest,
            "{stored} stored + {in_batch} in flight over the cap {max_bytes}"
        );
    }
}

fn key(i: u64) -> Key {
    Key::for_bytes(&i.to_le_bytes())
}

fn run(seed: u64, max_bytes: u64) -> Store {
    let mut rng = Rng(seed | 1);
    let mut store = Store::new(max_bytes);
    let mut next_key = 0;
    let mut pinned = Vec::new();
    for _ in 0..1_500 {
        match rng.below(10) {
            0..=3 => {
                // A tick of puts, some of them re-puts.
                for _ in 0..=rng.below(20) {
                    let i = if next_key > 0 && rng.below(5) == 0 {
                        rng.below(next_key)
                    } else {
                        next_key += 1;
                        next_key
                    };
                    store.put(key(i), 1 + rng.below(64 * 1024));
                }
            }
            4 | 5 => store.commit(),
            6 => store.evict(),
            7 => {
                for _ in 0..rng.below(30) {
                    store.get(key(rng.below(next_key + 1)));
                }
            }
            8 => {
                store.now += rng.below(3 * ACCESS_FLUSH_MS);
                if store.log.due_in(store.now) == Some(0) {
                    store.flush_log();
                }
            }
            _ => {
                // Pin a stored node now and then (never beyond a third of the cap), unpin later.
                if rng.below(2) == 0 && !pinned.is_empty() {
                    let key: Key = pinned.swap_remove(rng.below(pinned.len() as u64) as usize);
                    store.db.meta.get_mut(&key).unwrap().pins -= 1;
                } else if let Some((&key, meta)) = store.db.meta.iter().next() {
                    if store.db.usage().pinned_bytes + meta.size <= max_bytes / 3 {
                        store.db.meta.get_mut(&key).unwrap().pins += 1;
                        pinned.push(key);
                    }
                }
                store.cap.observed(store.db.usage());
            }
        }
        store.check(max_bytes);
    }
    // Drain: everything waiting gets in, and the store ends within its cap.
    for _ in 0..10_000 {
        if store.waiting.is_empty() && store.batch.is_empty() {
            break;
        }
        store.commit();
        store.evict();
        store.check(max_bytes);
    }
    assert!(store.waiting.is_empty(), "puts wait for ever");
    store.evict();
    assert!(
        store.db.usage().bytes <= max_bytes,
        "{:?}",
        store.db.usage()
    );
    for key in &pinned {
        assert!(store.db.meta.contains_key(key), "a pinned node is gone");
    }
    store
}

#[test]
fn random_schedules_stay_within_the_cap_and_never_evict_pins_or_break_lru_order() {
    for seed in 1..=16 {
        for max_bytes in [256 * 1024, 1024 * 1024, 8 * 1024 * 1024] {
            let store = run(seed * 7919, max_bytes);
            if max_bytes <= 1024 * 1024 {
                assert!(store.evicted > 0, "seed {seed}: nothing was evicted");
            }
        }
    }
}

#[test]
fn a_full_cache_evicts_to_the_low_water_mark_not_one_node_per_put() {
    let max = 1000 * 1000;
    let mut store = Store::new(max);
    for i in 0..1000 {
        store.put(key(i), 1000);
        store.commit();
    }
    assert_eq!(store.db.usage().bytes, max);
    store.put(key(5000), 1000);
    store.commit();
    store.evict();
    assert!(
        store.db.usage().bytes <= low_water(max),
        "{:?}",
        store.db.usage()
    );
    // The next 90-odd puts need no eviction.
    let evicted = store.evicted;
    for i in 0..99 {
        store.put(key(6000 + i), 1000);
        store.commit();
        store.evict();
    }
    assert_eq!(store.evicted, evicted, "a pass per put");
}

#[test]
fn reads_written_back_keep_hot_nodes_over_colder_ones() {
    let mut store = Store::new(100 * 1000);
    for i in 0..100 {
        store.put(key(i), 1000);
    }
    store.commit();
    // An hour later the first ten are read; the log is due a second after.
    store.now += 3_600_000;
    for i in 0..10 {
        store.get(key(i));
    }
    assert_eq!(store.log.due_in(store.now), Some(ACCESS_FLUSH_MS));
    store.now += ACCESS_FLUSH_MS;
    assert_eq!(store.log.due_in(store.now), Some(0));
    store.flush_log();
    for i in 100..120 {
        store.put(key(i), 1000);
        store.commit();
        store.evict();
    }
    for i in (0..10).chain(100..120) {
        assert!(store.db.meta.contains_key(&key(i)), "node {i} was evicted");
    }
    assert!(!store.db.meta.contains_key(&key(10)));
}

#[test]
fn a_read_within_the_resolution_writes_nothing() {
    let mut store = Store::new(u64::MAX);
    store.put(key(1), 10);
    store.commit();
    let stamp = store.db.meta[&key(1)].stamp;
    store.now += 30_000;
    store.get(key(1));
    store.flush_log();
    assert_eq!(
        store.db.meta[&key(1)].stamp,
        stamp,
        "rewritten within a minute"
    );
    store.now += 60_000;
    store.get(key(1));
    store.flush_log();
    assert!(store.db.meta[&key(1)].stamp > stamp);
}
