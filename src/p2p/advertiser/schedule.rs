//! The Advertiser's scheduler: which key to announce next and when, as a pure state machine
//! driven by explicit time (milliseconds since the Unix epoch), so it is tested natively.
//!
//! Per tracked key it keeps a compact row (key, last announcement in whole seconds, state,
//! failure count) in parallel vectors, found through a [`RowIndex`] (4-byte slots). Work comes from three
//! places, in priority order:
//!
//! 1. `fresh`: keys never announced (newly stored blocks), first in, first out;
//! 2. `retries`: keys whose last attempt failed, in a min-heap by retry time;
//! 3. `refresh`: announced keys, in order of their last announcement: since time only moves
//!    forward, appending each success keeps this queue sorted by due time, so the re-announce
//!    schedule costs 4 bytes per key and no heap.
//!
//! Between 2 and 3 the earlier due time wins. A key sits in at most one of them (or is in
//! flight), so it is never queued twice.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::row_index::RowIndex;
use crate::error::Error;
use crate::key::Key;
use crate::sync::backoff::Backoff;

/// How the scheduler paces announcements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Most announcements in flight at once (at least 1).
    pub max_concurrent: usize,
    /// Every announced key is announced again this long after its last success.
    pub readvertise_interval_ms: u64,
    /// Delays before retrying a failed announcement.
    pub backoff: Backoff,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            max_concurrent: 10,
            readvertise_interval_ms: 30 * 60 * 1000,
            backoff: Backoff {
                base_ms: 1_000,
                max_ms: 5 * 60 * 1000,
            },
        }
    }
}

/// Where a key stands.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyStatus {
    /// Waiting for its first announcement, or for a retry after the DHT connection came back.
    Queued,
    /// An announcement is under way.
    InFlight,
    /// Last announced successfully at `at_ms` (whole seconds); re-announced at `next_ms`.
    Announced { at_ms: u64, next_ms: u64 },
    /// The last attempt failed (`failures` in a row); retried at `retry_ms`. `announced_ms`
    /// is the last success, if any (its DHT record may still be live).
    Failed {
        error: Error,
        failures: u8,
        retry_ms: u64,
        announced_ms: Option<u64>,
    },
}

/// Counters and gauges, for monitoring (serialised in camelCase for JS).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Keys the scheduler knows (announced or not).
    pub tracked: usize,
    /// Keys announced successfully at least once.
    pub advertised: usize,
    /// Keys waiting for their first announcement.
    pub queued: usize,
    /// Announced or failed keys whose (re)announcement is due now but not yet started.
    pub due: usize,
    pub in_flight: usize,
    /// Successful announcements per second, averaged over the last 10 seconds.
    pub announced_per_second: f64,
    /// Successful announcements since the scheduler was created.
    pub announced_total: u64,
    /// Failed attempts since the scheduler was created (pauses for lack of peers excluded).
    pub failures_total: u64,
    /// Keys whose last attempt failed.
    pub failing: usize,
    /// True while announcing waits for a DHT connection.
    pub paused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Queued,
    InFlight,
    Announced,
    Failed,
}

/// Capacity the fresh queue keeps once drained.
const FRESH_CAPACITY_KEPT: usize = 1024;

/// Seconds of history behind `announced_per_second`.
const RATE_WINDOW_SECS: usize = 10;

/// The scheduler. See the module documentation.
#[derive(Debug)]
pub struct Scheduler {
    config: ScheduleConfig,
    rows: RowIndex,
    keys: Vec<Key>,
    /// Whole seconds since the epoch of the last success; 0 = never announced.
    announced_secs: Vec<u32>,
    states: Vec<State>,
    failures: Vec<u8>,
    fresh: VecDeque<u32>,
    retries: BinaryHeap<Reverse<(u64, u32)>>,
    refresh: VecDeque<u32>,
    /// The error and retry time of each failed row (few at a time).
    errors: HashMap<u32, (Error, u64)>,
    in_flight: usize,
    advertised: usize,
    paused: bool,
    /// (key, announced seconds) changes not yet persisted; 0 = tracked, never announced.
    dirty: Vec<(Key, u32)>,
    announced_total: u64,
    failures_total: u64,
    /// Successes per second: (second, count) in a ring indexed by second.
    rate: [(u64, u32); RATE_WINDOW_SECS],
}

impl Scheduler {
    pub fn new(config: ScheduleConfig) -> Scheduler {
        Scheduler {
            config: ScheduleConfig {
                max_concurrent: config.max_concurrent.max(1),
                ..config
            },
            rows: RowIndex::default(),
            keys: Vec::new(),
            announced_secs: Vec::new(),
            states: Vec::new(),
            failures: Vec::new(),
            fresh: VecDeque::new(),
            retries: BinaryHeap::new(),
            refresh: VecDeque::new(),
            errors: HashMap::new(),
            in_flight: 0,
            advertised: 0,
            paused: false,
            dirty: Vec::new(),
            announced_total: 0,
            failures_total: 0,
            rate: [(0, 0); RATE_WINDOW_SECS],
        }
    }

    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// Adds persisted keys (`announced_secs` 0 = never announced): those never announced are
    /// queued as fresh, the others scheduled `readvertise_interval` after their last success
    /// (at once if that has passed). Keys already known are left as they are.
    pub fn load(&mut self, records: impl IntoIterator<Item = (Key, u32)>) {
        for (key, secs) in records {
            if self.row(key).is_some() {
                continue;
            }
            if secs == 0 {
                let row = self.insert(key, State::Queued, 0);
                self.fresh.push_back(row);
            } else {
                let row = self.insert(key, State::Announced, secs);
                self.advertised += 1;
                self.refresh.push_back(row);
            }
        }
        let announced = &self.announced_secs;
        self.refresh
            .make_contiguous()
            .sort_by_key(|&row| announced[row as usize]);
    }

    /// Queues a newly stored key; false if the key is already tracked (queued, in flight,
    /// announced or waiting for a retry).
    pub fn enqueue(&mut self, key: Key) -> bool {
        if self.row(key).is_some() {
            return false;
        }
        let row = self.insert(key, State::Queued, 0);
        self.fresh.push_back(row);
        self.dirty.push((key, 0));
        true
    }

    fn row(&self, key: Key) -> Option<u32> {
        self.rows.get(&key, &self.keys)
    }

    fn insert(&mut self, key: Key, state: State, announced_secs: u32) -> u32 {
        let row = self.keys.len() as u32;
        self.keys.push(key);
        self.rows.insert(row, &self.keys);
        self.announced_secs.push(announced_secs);
        self.states.push(state);
        self.failures.push(0);
        row
    }

    fn refresh_due_ms(&self, row: u32) -> u64 {
        u64::from(self.announced_secs[row as usize]) * 1000 + self.config.readvertise_interval_ms
    }

    /// The next key to announce at `now_ms`, marked in flight; `None` when paused, at the
    /// concurrency limit, or when nothing is due.
    pub fn next(&mut self, now_ms: u64) -> Option<Key> {
        if self.paused || self.in_flight >= self.config.max_concurrent {
            return None;
        }
        let row = self.fresh.pop_front().or_else(|| self.pop_due(now_ms))?;
        if self.fresh.is_empty() && self.fresh.capacity() > FRESH_CAPACITY_KEPT {
            // A burst of stores is over: give its queue's memory back.
            self.fresh.shrink_to(FRESH_CAPACITY_KEPT);
        }
        self.states[row as usize] = State::InFlight;
        self.in_flight += 1;
        Some(self.keys[row as usize])
    }

    /// The earliest due retry or refresh.
    fn pop_due(&mut self, now_ms: u64) -> Option<u32> {
        let retry = self.retries.peek().map(|Reverse((due, _))| *due);
        let refresh = self.refresh.front().map(|&row| self.refresh_due_ms(row));
        match (retry, refresh) {
            (Some(r), f) if r <= now_ms && f.is_none_or(|f| r <= f) => {
                self.retries.pop().map(|Reverse((_, row))| row)
            }
            (_, Some(f)) if f <= now_ms => self.refresh.pop_front(),
            _ => None,
        }
    }

    /// When the next queued or scheduled key becomes due (`now_ms` if one already is); `None`
    /// when paused, at the limit (a completion wakes the driver), or with nothing scheduled.
    pub fn next_wake_ms(&self, now_ms: u64) -> Option<u64> {
        if self.paused || self.in_flight >= self.config.max_concurrent {
            return None;
        }
        if !self.fresh.is_empty() {
            return Some(now_ms);
        }
        let retry = self.retries.peek().map(|Reverse((due, _))| *due);
        let refresh = self.refresh.front().map(|&row| self.refresh_due_ms(row));
        match (retry, refresh) {
            (Some(r), Some(f)) => Some(r.min(f)),
            (r, f) => r.or(f),
        }
    }

    /// Records a successful announcement of an in-flight key.
    pub fn succeeded(&mut self, key: Key, now_ms: u64) {
        let Some(row) = self.in_flight_row(key) else {
            return;
        };
        let i = row as usize;
        if self.announced_secs[i] == 0 {
            self.advertised += 1;
        }
        let secs = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX).max(1);
        self.announced_secs[i] = secs;
        self.states[i] = State::Announced;
        self.failures[i] = 0;
        self.errors.remove(&row);
        self.refresh.push_back(row);
        self.dirty.push((key, secs));
        self.announced_total += 1;
        let second = now_ms / 1000;
        let slot = &mut self.rate[(second % RATE_WINDOW_SECS as u64) as usize];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 += 1;
    }

    /// Records a failed announcement of an in-flight key. Without a DHT connection
    /// ([`pauses_announcing`]) the key goes back to the front of its queue and the scheduler
    /// pauses until [`Scheduler::resume`]; otherwise it is retried after a backoff delay
    /// (`jitter` in `[0, 1)` spreads it).
    pub fn failed(&mut self, key: Key, error: Error, now_ms: u64, jitter: f64) {
        let Some(row) = self.in_flight_row(key) else {
            return;
        };
        let i = row as usize;
        if pauses_announcing(&error) {
            self.paused = true;
            if self.announced_secs[i] == 0 {
                self.states[i] = State::Queued;
                self.fresh.push_front(row);
            } else {
                // Its due time has passed: the front keeps the refresh queue sorted.
                self.states[i] = State::Announced;
                self.refresh.push_front(row);
            }
            return;
        }
        self.failures[i] = self.failures[i].saturating_add(1);
        let delay = self
            .config
            .backoff
            .delay_ms(u32::from(self.failures[i]) - 1, jitter);
        let retry_ms = now_ms + u64::from(delay);
        self.states[i] = State::Failed;
        self.retries.push(Reverse((retry_ms, row)));
        let error = Error::AdvertiseFailed {
            key,
            reason: error.to_string(),
        };
        self.errors.insert(row, (error, retry_ms));
        self.failures_total += 1;
    }

    fn in_flight_row(&mut self, key: Key) -> Option<u32> {
        let row = self.row(key)?;
        if self.states[row as usize] != State::InFlight {
            return None;
        }
        self.in_flight -= 1;
        Some(row)
    }

    /// Stops handing out keys (no DHT connection).
    pub fn pause(&mut self) {
        self.paused = true;
    }

    /// Hands out keys again (the DHT connection is back).
    pub fn resume(&mut self) {
        self.paused = false;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Keys announced successfully at least once.
    pub fn advertised_count(&self) -> usize {
        self.advertised
    }

    /// Keys tracked, announced or not.
    pub fn tracked_count(&self) -> usize {
        self.keys.len()
    }

    /// True once `key` has been announced successfully (its record may be due for refresh).
    pub fn is_advertised(&self, key: Key) -> bool {
        self.row(key)
            .is_some_and(|row| self.announced_secs[row as usize] != 0)
    }

    /// Where `key` stands; `None` if it is not tracked.
    pub fn status(&self, key: Key) -> Option<KeyStatus> {
        let row = self.row(key)?;
        let i = row as usize;
        let announced_ms = u64::from(self.announced_secs[i]) * 1000;
        Some(match self.states[i] {
            State::Queued => KeyStatus::Queued,
            State::InFlight => KeyStatus::InFlight,
            State::Announced => KeyStatus::Announced {
                at_ms: announced_ms,
                next_ms: self.refresh_due_ms(row),
            },
            State::Failed => {
                let (error, retry_ms) = self.errors[&row].clone();
                KeyStatus::Failed {
                    error,
                    failures: self.failures[i],
                    retry_ms,
                    announced_ms: (announced_ms != 0).then_some(announced_ms),
                }
            }
        })
    }

    /// Takes the changes to persist: `(key, last announced seconds)`, 0 for "tracked, never
    /// announced"; later entries for the same key supersede earlier ones.
    pub fn take_dirty(&mut self) -> Vec<(Key, u32)> {
        std::mem::take(&mut self.dirty)
    }

    /// Puts back changes whose persisting failed, before any newer ones.
    pub fn restore_dirty(&mut self, mut records: Vec<(Key, u32)>) {
        records.append(&mut self.dirty);
        self.dirty = records;
    }

    pub fn dirty_len(&self) -> usize {
        self.dirty.len()
    }

    pub fn metrics(&self, now_ms: u64) -> Metrics {
        let second = now_ms / 1000;
        let recent: u64 = self
            .rate
            .iter()
            .filter(|(s, _)| *s + (RATE_WINDOW_SECS as u64) > second && *s <= second)
            .map(|(_, count)| u64::from(*count))
            .sum();
        let due_retries = self
            .retries
            .iter()
            .filter(|Reverse((due, _))| *due <= now_ms)
            .count();
        let due_refreshes = self
            .refresh
            .partition_point(|&row| self.refresh_due_ms(row) <= now_ms);
        Metrics {
            tracked: self.keys.len(),
            advertised: self.advertised,
            queued: self.fresh.len(),
            due: due_retries + due_refreshes,
            in_flight: self.in_flight,
            announced_per_second: recent as f64 / RATE_WINDOW_SECS as f64,
            announced_total: self.announced_total,
            failures_total: self.failures_total,
            failing: self.errors.len(),
            paused: self.paused,
        }
    }
}

/// Failures that mean "no DHT connection" (or the node is gone): announcing pauses instead of
/// counting a failure per key.
pub fn pauses_announcing(error: &Error) -> bool {
    matches!(error, Error::NotConnected(_) | Error::Closed)
}
