//! The bounded cache's policy as pure logic, time passed in, so it is tested natively with a
//! manual clock (`tests/cache_eviction.rs`); `IndexedDbStorage` is its only browser adapter.
//!
//! - [`CapState`]: admission and eviction targets. A put is issued at once while the bytes
//!   stored plus the bytes in flight fit under the cap; otherwise it waits for an eviction pass
//!   to make room. So a single store never holds more than the cap plus one node (the put that
//!   crossed it), and another tab writing the same database adds at most its own batch. Once
//!   over the cap, eviction runs down to [`LOW_WATER_PERCENT`] of it (hysteresis: a full cache
//!   does not run one pass per put). When nothing is left to evict and nothing is in flight
//!   (what is stored is pinned, and over the cap) the state is *stuck*: puts go through, and
//!   the next node stored makes eviction try again.
//! - [`AccessLog`]: gets record their key in memory; the log is written in one background
//!   transaction [`ACCESS_FLUSH_MS`] after its first entry (or before an eviction pass), and a
//!   stored access time is rewritten only when it moved by [`ACCESS_RESOLUTION_MS`]. A get costs
//!   a hash-map insert, never a write.
//! - [`Stamps`]: access times in milliseconds, strictly increasing within a store, so the nodes
//!   of one batch keep their order in the eviction index (ties would fall back to key order,
//!   which is random for content keys).
//!
//! The policy is LRU by last access: eviction takes the nodes whose last recorded access is
//! oldest, through an IndexedDB index that holds only unpinned nodes. A pinned node has no
//! entry in that index, so no pass (of any tab) can reach it.

use std::collections::HashMap;

use serde::Serialize;

use crate::key::Key;

/// Once over the cap, eviction frees down to this share of it (percent).
pub const LOW_WATER_PERCENT: u64 = 90;
/// Most nodes deleted by one eviction transaction: a batch is short, so gets and puts of other
/// transactions are not held up behind a long delete.
pub const EVICT_BATCH_NODES: u32 = 256;
/// A get's access is written this long after the first unwritten access.
pub const ACCESS_FLUSH_MS: u64 = 1_000;
/// The access log is written at once when it holds this many keys.
pub const ACCESS_LOG_MAX: usize = 4_096;
/// A stored access time is rewritten only if the new one is at least this much later: LRU at
/// one-minute resolution, so re-reading a hot node costs no write most of the time.
pub const ACCESS_RESOLUTION_MS: f64 = 60_000.0;
/// Step between two stamps of the same millisecond (2^-10 ms: exact in an f64 holding epoch
/// milliseconds, whose resolution is 2^-12 ms until the year 2248).
pub const STAMP_STEP_MS: f64 = 1.0 / 1024.0;

/// What a store holds, kept in the database next to the nodes and updated in the same
/// transactions that change them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Bytes of every stored node (values only).
    pub bytes: u64,
    /// Number of stored nodes.
    pub nodes: u64,
    /// Bytes of the nodes that belong to at least one pinned DAG.
    pub pinned_bytes: u64,
}

/// The bytes eviction frees down to once over `max_bytes`.
pub fn low_water(max_bytes: u64) -> u64 {
    if max_bytes == u64::MAX {
        return u64::MAX;
    }
    max_bytes / 100 * LOW_WATER_PERCENT + max_bytes % 100 * LOW_WATER_PERCENT / 100
}

/// What the loop running eviction batches does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Another batch: still above the target and the last batch evicted something.
    Continue,
    /// The pass is over.
    Done,
}

/// Admission and eviction decisions for one store with a cap (`u64::MAX`: no cap, but
/// evictable when the browser's quota is hit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapState {
    max_bytes: u64,
    /// The usage as the database last reported it (after our own commits and evictions; another
    /// tab's changes show up at the next of ours).
    known: Usage,
    /// Bytes of puts issued and not yet committed (an upper bound: re-puts count too).
    inflight: u64,
    /// Bytes of puts waiting for room: a pass frees room for them too (up to half the cap), so
    /// one pass lets a whole queue through rather than a node at a time.
    waiting: u64,
    /// Bytes of waiting puts given room and woken, not issued yet.
    reserved: u64,
    /// Bytes a quota failure asks eviction to free, beyond the cap's own target.
    quota_need: u64,
    /// The last pass found nothing it could evict while above its target. Bytes in flight
    /// become evictable nodes once committed (a commit clears this); with none in flight,
    /// puts are admitted over the cap (what is stored is pinned).
    exhausted: bool,
}

impl CapState {
    /// The state of a store holding `usage` under a cap of `max_bytes` (at least 1).
    pub fn new(max_bytes: u64, usage: Usage) -> CapState {
        CapState {
            max_bytes: max_bytes.max(1),
            known: usage,
            inflight: 0,
            waiting: 0,
            reserved: 0,
            quota_need: 0,
            exhausted: false,
        }
    }

    /// The cap.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The usage last reported by the database.
    pub fn usage(&self) -> Usage {
        self.known
    }

    /// Bytes of puts in flight.
    pub fn inflight(&self) -> u64 {
        self.inflight
    }

    /// True if puts go through over the cap: nothing stored can be evicted and nothing is in
    /// flight.
    pub fn stuck(&self) -> bool {
        self.exhausted && self.inflight == 0
    }

    /// True if a put may be issued now.
    pub fn admits(&self) -> bool {
        self.stuck() || self.coming_total() <= self.max_bytes
    }

    /// Stored bytes plus those in flight or reserved.
    fn coming_total(&self) -> u64 {
        self.known
            .bytes
            .saturating_add(self.inflight)
            .saturating_add(self.reserved)
    }

    /// A put of `size` bytes starts waiting for room.
    pub fn wait(&mut self, size: u64) {
        self.waiting = self.waiting.saturating_add(size);
    }

    /// A put of `size` bytes stopped waiting (issued, or given up).
    pub fn unwait(&mut self, size: u64) {
        self.waiting = self.waiting.saturating_sub(size);
    }

    /// A waiting put of `size` bytes is given room: it no longer waits, and its bytes count as
    /// coming until [`CapState::unreserve`] (once it is issued, or given up).
    pub fn reserve(&mut self, size: u64) {
        self.waiting = self.waiting.saturating_sub(size);
        self.reserved = self.reserved.saturating_add(size);
    }

    /// A reservation ended.
    pub fn unreserve(&mut self, size: u64) {
        self.reserved = self.reserved.saturating_sub(size);
    }

    /// A put of `size` bytes was issued.
    pub fn issued(&mut self, size: u64) {
        self.inflight = self.inflight.saturating_add(size);
    }

    /// A batch of puts totalling `issued` bytes settled; `usage` is what its transaction left
    /// (none if it failed). New nodes are new candidates, so a stuck state is re-examined.
    pub fn settled(&mut self, issued: u64, usage: Option<Usage>) {
        self.inflight = self.inflight.saturating_sub(issued);
        if let Some(usage) = usage {
            if usage.nodes > self.known.nodes || usage.bytes > self.known.bytes {
                self.exhausted = false;
            }
            self.known = usage;
        }
    }

    /// Usage reported by any other transaction (pin, unpin, delete, clear, a read).
    pub fn observed(&mut self, usage: Usage) {
        if usage.bytes.saturating_sub(usage.pinned_bytes)
            > self.known.bytes.saturating_sub(self.known.pinned_bytes)
        {
            self.exhausted = false;
        }
        self.known = usage;
    }

    /// A put of `size` bytes failed with the browser's quota error: the next pass frees at
    /// least that much more.
    pub fn quota_failed(&mut self, size: u64) {
        self.quota_need = self.quota_need.saturating_add(size);
        self.exhausted = false;
    }

    /// True if an eviction pass should run: over the cap (or asked by a quota error), with
    /// stored bytes above the target (when bytes in flight alone fill the cap, only their
    /// commit can change anything).
    pub fn wants_eviction(&self) -> bool {
        self.quota_need > 0
            || (!self.exhausted
                && self.coming_total() > self.max_bytes
                && self.known.bytes > self.target())
    }

    /// Eviction deletes nodes while the stored bytes are above this: the low-water mark, less
    /// the bytes in flight and (up to half the cap) those waiting.
    pub fn target(&self) -> u64 {
        let coming = self
            .inflight
            .saturating_add(self.reserved)
            .saturating_add(self.waiting.min(self.max_bytes / 2));
        let below_cap = low_water(self.max_bytes).saturating_sub(coming);
        if self.quota_need > 0 {
            below_cap.min(self.known.bytes.saturating_sub(self.quota_need))
        } else {
            below_cap
        }
    }

    /// A batch left `usage` after evicting `evicted` nodes (none: nothing evictable was left).
    /// Says whether another batch should run.
    pub fn evicted(&mut self, usage: Usage, evicted: u32) -> Next {
        let freed = self.known.bytes.saturating_sub(usage.bytes);
        self.quota_need = self.quota_need.saturating_sub(freed);
        self.known = usage;
        if usage.bytes <= self.target() {
            self.quota_need = 0;
            return Next::Done;
        }
        if evicted == 0 {
            self.quota_need = 0;
            self.exhausted = true;
            return Next::Done;
        }
        Next::Continue
    }

    /// Something that blocked eviction went away (a pin in progress let its nodes go): look
    /// again.
    pub fn retry(&mut self) {
        self.exhausted = false;
    }

    /// An eviction batch failed: stop the pass, and admit puts (once nothing is in flight)
    /// rather than hold them for a pass that cannot run; the next commit tries again.
    pub fn eviction_failed(&mut self) {
        self.quota_need = 0;
        self.exhausted = true;
    }
}

/// Accesses recorded by gets, waiting to be written.
#[derive(Debug, Default, Clone)]
pub struct AccessLog {
    pending: HashMap<Key, f64>,
    /// When the first unwritten access was recorded.
    since_ms: Option<u64>,
}

impl AccessLog {
    /// Records an access of `key` at `stamp`, at time `now_ms`. True if this is the first
    /// unwritten access: the caller schedules a flush in [`AccessLog::due_in`].
    pub fn touch(&mut self, key: Key, stamp: f64, now_ms: u64) -> bool {
        let latest = self.pending.entry(key).or_insert(stamp);
        *latest = latest.max(stamp);
        if self.since_ms.is_none() {
            self.since_ms = Some(now_ms);
            return true;
        }
        false
    }

    /// Milliseconds until the log should be written (0: now), or `None` if it is empty.
    pub fn due_in(&self, now_ms: u64) -> Option<u64> {
        let since = self.since_ms?;
        if self.pending.len() >= ACCESS_LOG_MAX {
            return Some(0);
        }
        Some((since + ACCESS_FLUSH_MS).saturating_sub(now_ms))
    }

    /// Number of keys waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the accesses to write; the log starts over.
    pub fn take(&mut self) -> Vec<(Key, f64)> {
        self.since_ms = None;
        self.pending.drain().collect()
    }

    /// Forgets everything (the store was cleared or closed).
    pub fn clear(&mut self) {
        self.since_ms = None;
        self.pending.clear();
    }
}

/// True if a stored access time `stored` should be rewritten with `latest` (the write helper
/// in the browser applies the same rule inside its transaction).
pub fn rewrites_access(stored: f64, latest: f64) -> bool {
    latest - stored >= ACCESS_RESOLUTION_MS
}

/// Strictly increasing access stamps (milliseconds since the Unix epoch).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stamps {
    last: f64,
}

impl Stamps {
    /// The next stamp at time `now_ms`: `now_ms`, or a step after the previous stamp if the
    /// clock has not moved past it.
    pub fn next(&mut self, now_ms: f64) -> f64 {
        let stamp = now_ms.max(self.last + STAMP_STEP_MS);
        self.last = stamp;
        stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(bytes: u64, nodes: u64) -> Usage {
        Usage {
            bytes,
            nodes,
            pinned_bytes: 0,
        }
    }

    #[test]
    fn low_water_is_ninety_percent_without_overflow() {
        assert_eq!(low_water(1000), 900);
        assert_eq!(low_water(8 << 20), (8u64 << 20) * 9 / 10);
        assert_eq!(low_water(u64::MAX), u64::MAX);
        assert_eq!(
            low_water(u64::MAX - 1),
            (u64::MAX - 1) / 100 * 90 + 14 * 90 / 100
        );
    }

    #[test]
    fn puts_wait_once_stored_and_inflight_bytes_reach_the_cap() {
        let mut cap = CapState::new(1000, usage(600, 6));
        assert!(cap.admits());
        cap.issued(300);
        assert!(cap.admits(), "900 <= 1000");
        cap.issued(300);
        assert!(
            !cap.admits(),
            "1200 > 1000: the crossing put went, the next waits"
        );
        assert!(cap.wants_eviction());
        // Evict down to 900 - 600 in flight = 300.
        assert_eq!(cap.target(), 300);
        assert_eq!(cap.evicted(usage(400, 4), 2), Next::Continue);
        assert_eq!(cap.evicted(usage(300, 3), 1), Next::Done);
        assert!(cap.admits(), "300 + 600 <= 1000");
        cap.settled(600, Some(usage(900, 9)));
        assert_eq!(cap.inflight(), 0);
        assert!(!cap.wants_eviction());
    }

    #[test]
    fn a_pass_makes_room_for_the_whole_queue_up_to_half_the_cap() {
        let mut cap = CapState::new(1000, usage(1000, 10));
        cap.wait(300);
        assert_eq!(cap.target(), 600, "900 - 300 waiting");
        cap.wait(900);
        assert_eq!(cap.target(), 400, "at most half the cap is made room for");
        cap.unwait(1200);
        assert_eq!(cap.target(), 900);
    }

    #[test]
    fn nothing_evictable_admits_everything_until_a_new_node_arrives() {
        let mut cap = CapState::new(1000, usage(1200, 3));
        assert!(!cap.admits());
        assert_eq!(cap.evicted(usage(1200, 3), 0), Next::Done);
        assert!(cap.stuck() && cap.admits() && !cap.wants_eviction());
        cap.issued(100);
        cap.settled(100, Some(usage(1300, 4)));
        assert!(!cap.stuck(), "the new node can be evicted");
        assert!(cap.wants_eviction());
    }

    #[test]
    fn with_bytes_in_flight_an_empty_pass_waits_for_the_commit_instead_of_admitting() {
        let mut cap = CapState::new(1000, usage(300, 1));
        cap.issued(800);
        assert!(!cap.admits() && cap.wants_eviction());
        // The only stored node is pinned: nothing to evict until the batch commits.
        assert_eq!(cap.evicted(usage(300, 1), 0), Next::Done);
        assert!(!cap.stuck() && !cap.admits() && !cap.wants_eviction());
        cap.settled(800, Some(usage(1100, 5)));
        assert!(cap.wants_eviction(), "the committed nodes can go");
    }

    #[test]
    fn a_quota_failure_frees_at_least_the_failed_bytes_even_under_the_cap() {
        let mut cap = CapState::new(u64::MAX, usage(5000, 50));
        assert!(!cap.wants_eviction());
        cap.quota_failed(700);
        assert!(cap.wants_eviction());
        assert_eq!(cap.target(), 4300);
        assert_eq!(cap.evicted(usage(4200, 42), 8), Next::Done);
        assert!(!cap.wants_eviction(), "the need is met");
    }

    #[test]
    fn the_access_log_coalesces_and_is_due_a_second_after_its_first_entry() {
        let key = Key::for_bytes(b"a");
        let mut log = AccessLog::default();
        assert_eq!(log.due_in(0), None);
        assert!(log.touch(key, 10.0, 100));
        assert!(!log.touch(key, 20.0, 600));
        assert!(!log.touch(key, 15.0, 700));
        assert_eq!(log.due_in(600), Some(500));
        assert_eq!(log.due_in(5000), Some(0));
        assert_eq!(log.take(), vec![(key, 20.0)]);
        assert_eq!(log.due_in(5000), None);
        assert!(log.touch(key, 30.0, 6000), "a new window starts");
    }

    #[test]
    fn stamps_increase_strictly_within_a_millisecond() {
        let mut stamps = Stamps::default();
        let now = 1.7e12;
        let a = stamps.next(now);
        let b = stamps.next(now);
        let c = stamps.next(now - 5.0);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(stamps.next(now + 10.0), now + 10.0);
    }

    #[test]
    fn an_access_is_rewritten_only_when_it_moved_by_the_resolution() {
        assert!(!rewrites_access(
            1000.0,
            1000.0 + ACCESS_RESOLUTION_MS - 1.0
        ));
        assert!(rewrites_access(1000.0, 1000.0 + ACCESS_RESOLUTION_MS));
    }
}
