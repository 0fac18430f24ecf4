//! The cap of an `IndexedDbStorage` opened with `max_bytes`: the browser adapter of the pure
//! policy in [`eviction`](super::eviction).
//!
//! - **Admission.** A put is issued at once while [`CapState::admits`]; otherwise it waits in a
//!   FIFO queue (from its own copy of the bytes) and an eviction pass starts, freeing room for
//!   the queue as well. Waiting puts are woken together, as many as there is room for, each
//!   with a reservation until it is issued: they land in one write batch, and the store never
//!   holds more than the cap plus one node.
//! - **Eviction passes** run in a background task, one at a time per store, never inside a
//!   caller's transaction: each batch is its own `readwrite` transaction deleting up to
//!   [`EVICT_BATCH_NODES`] of the least recently used unpinned nodes while the stored bytes are
//!   above the target, with the usage read and written in the same transaction (so another tab
//!   evicting at the same time never makes this one evict twice as much). A pass first writes the
//!   access log, so nodes just read are not taken for cold ones. The task holds the store weakly
//!   between batches: dropping or closing the store ends it.
//! - **Access log.** A hit records its key and a stamp in memory; a background task writes the
//!   log one second after its first entry (see [`AccessLog`]).
//! - **Quota.** A put batch refused with `QuotaExceededError` in a cache runs an eviction pass
//!   that frees at least the refused bytes, and is retried once; a second refusal is reported.
//!   A store without a cap never evicts, so its puts report the quota error at once.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use futures::channel::oneshot;
use gloo_timers::future::TimeoutFuture;
use js_sys::Uint8Array;
use wasm_bindgen_futures::spawn_local;

use super::eviction::{AccessLog, CapState, Next, Usage, ACCESS_LOG_MAX, EVICT_BATCH_NODES};
use super::idb_lifecycle;
use super::indexeddb::{IndexedDbStorage, Inner, PutAnswer};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::log::warn;

/// The cap's state in one store.
pub(super) struct CacheState {
    cap: RefCell<CapState>,
    /// Puts waiting for room, first come first served.
    room: RefCell<VecDeque<RoomWaiter>>,
    /// Calls waiting for the end of the running (or next) eviction pass.
    pass_end: RefCell<Vec<oneshot::Sender<()>>>,
    evicting: Cell<bool>,
    access: RefCell<AccessLog>,
    /// Test hook: this many put batches fail as if the quota were used up.
    quota_failures: Cell<u32>,
}

impl CacheState {
    pub(super) fn new(max_bytes: u64, usage: Usage) -> CacheState {
        CacheState {
            cap: RefCell::new(CapState::new(max_bytes, usage)),
            room: RefCell::default(),
            pass_end: RefCell::default(),
            evicting: Cell::new(false),
            access: RefCell::default(),
            quota_failures: Cell::new(0),
        }
    }
}

impl CacheState {
    /// Wakes every waiting put the cap has room for, in order, each with a reservation: woken
    /// together, they are issued in the same tick, so they share one write batch.
    fn release_waiters(&self) {
        while self.cap.borrow().admits() {
            let Some(waiter) = self.room.borrow_mut().pop_front() else {
                return;
            };
            if waiter.state.get() != TicketState::Waiting {
                continue;
            }
            self.cap.borrow_mut().reserve(waiter.size);
            waiter.state.set(TicketState::Reserved);
            // The receiver lives as long as its ticket, which is still waiting.
            let _ = waiter.wake.send(());
        }
    }
}

impl IndexedDbStorage {
    fn cache(&self) -> Option<&CacheState> {
        self.inner.cache.as_ref()
    }

    /// The byte cap this store was opened with (`None`: not a cache).
    pub fn max_bytes(&self) -> Option<u64> {
        self.cache().map(|cache| cache.cap.borrow().max_bytes())
    }

    /// What the store holds: `{ bytes, nodes, pinned_bytes }`, from the usage record once the
    /// journal is indexed (one small transaction, never a scan; other tabs' changes included).
    pub async fn usage(&self) -> Result<Usage> {
        let usage = idb_lifecycle::index_journal(&self.database()?).await?;
        self.observed(usage);
        Ok(usage)
    }

    /// Usage reported by a lifecycle transaction: the cap's view follows it, and an unpin or
    /// a lowered pin count may call for eviction.
    pub(super) fn observed(&self, usage: Usage) {
        if let Some(cache) = self.cache() {
            cache.cap.borrow_mut().observed(usage);
            self.ensure_eviction();
            self.release_waiters();
        }
    }

    /// Writes the access log, then waits until the running eviction pass (if any, or one needed
    /// now) is over: the store is then within its cap unless what is left cannot be evicted.
    /// Returns the usage.
    pub async fn evict(&self) -> Result<Usage> {
        if let Some(cache) = self.cache() {
            self.flush_accesses().await;
            self.ensure_eviction();
            if cache.evicting.get() {
                let (tx, rx) = oneshot::channel();
                cache.pass_end.borrow_mut().push(tx);
                rx.await.map_err(|_| Error::Closed)?;
            }
        }
        self.usage().await
    }

    /// True if a new put may be issued now (never waits without a cap).
    pub(super) fn admits_now(&self) -> bool {
        self.cache()
            .is_none_or(|cache| cache.room.borrow().is_empty() && cache.cap.borrow().admits())
    }

    /// A put of `size` bytes joined a write batch.
    pub(super) fn issued(&self, size: u64) {
        if let Some(cache) = self.cache() {
            cache.cap.borrow_mut().issued(size);
        }
    }

    /// A write batch of `issued` bytes settled, leaving `usage` (none if it failed).
    pub(super) fn batch_settled(&self, issued: u64, usage: Option<Usage>) {
        if let Some(cache) = self.cache() {
            cache.cap.borrow_mut().settled(issued, usage);
            self.ensure_eviction();
            self.release_waiters();
        }
    }

    /// The rest of a put: issued already (`started`), or issued once there is room, from
    /// `value()`; retried once, from `value()`, after a quota error in a cache.
    pub(super) async fn finish_put(
        &self,
        key: Key,
        size: u64,
        mut started: Option<Result<PutAnswer>>,
        value: impl Fn() -> Result<Uint8Array>,
    ) -> Result<()> {
        let mut retried = false;
        loop {
            let answer = match started.take() {
                Some(started) => started?,
                None => {
                    let reservation = self.wait_for_room(size).await?;
                    let issued = value().and_then(|value| self.start_put(key, &value));
                    // Issued (now in flight) or failed: the reservation ends either way.
                    drop(reservation);
                    self.release_waiters();
                    issued?
                }
            };
            match answer.await.unwrap_or(Err(Error::Closed)) {
                Err(Error::QuotaExceeded(_)) if !retried && self.cache().is_some() => {
                    retried = true;
                    self.evict_for_quota(size).await?;
                }
                outcome => return outcome,
            }
        }
    }

    /// Waits until the cap admits a put of `size` bytes (at once without a cap, or if nothing
    /// waits and there is room). A put woken from the queue holds a reservation until it is
    /// issued: the returned guard.
    async fn wait_for_room(&self, size: u64) -> Result<Option<Ticket<'_>>> {
        let Some(cache) = self.cache() else {
            return Ok(None);
        };
        self.database()?;
        if cache.room.borrow().is_empty() && cache.cap.borrow().admits() {
            return Ok(None);
        }
        let state = Rc::new(Cell::new(TicketState::Waiting));
        let (wake, woken) = oneshot::channel();
        cache.cap.borrow_mut().wait(size);
        cache.room.borrow_mut().push_back(RoomWaiter {
            size,
            state: state.clone(),
            wake,
        });
        // Accounted for however the wait ends (the caller may drop this future).
        let ticket = Ticket { cache, size, state };
        self.ensure_eviction();
        woken.await.map_err(|_| Error::Closed)?;
        self.database()?;
        Ok(Some(ticket))
    }

    /// Wakes every waiting put the cap has room for (see [`CacheState::release_waiters`]).
    pub(super) fn release_waiters(&self) {
        if let Some(cache) = self.cache() {
            cache.release_waiters();
        }
    }

    /// A pin in progress released the keys it held out of eviction: what could not be evicted
    /// may be now.
    pub(super) fn protection_released(&self) {
        if let Some(cache) = self.cache() {
            cache.cap.borrow_mut().retry();
            self.ensure_eviction();
            self.release_waiters();
        }
    }

    /// After a quota error: one eviction pass freeing at least `size` bytes more.
    async fn evict_for_quota(&self, size: u64) -> Result<()> {
        let cache = self.cache().expect("only caches retry");
        cache.cap.borrow_mut().quota_failed(size);
        let (tx, rx) = oneshot::channel();
        cache.pass_end.borrow_mut().push(tx);
        self.ensure_eviction();
        rx.await.map_err(|_| Error::Closed)
    }

    /// Starts an eviction pass in the background if the cap wants one and none is running.
    pub(super) fn ensure_eviction(&self) {
        let Some(cache) = self.cache() else {
            return;
        };
        if cache.evicting.get() || !cache.cap.borrow().wants_eviction() {
            return;
        }
        cache.evicting.set(true);
        spawn_local(eviction_pass(Rc::downgrade(&self.inner)));
    }

    /// One eviction batch; `Next::Done` when the pass is over.
    async fn eviction_batch(&self) -> Next {
        let cache = self.cache().expect("only caches evict");
        if !cache.cap.borrow().wants_eviction() {
            return Next::Done;
        }
        self.flush_accesses().await;
        let target = cache.cap.borrow().target();
        let skip: Vec<Key> = self.inner.protected.borrow().keys().copied().collect();
        let batch = match self.database() {
            Ok(db) => idb_lifecycle::evict(&db, target, EVICT_BATCH_NODES, &skip).await,
            Err(error) => Err(error),
        };
        match batch {
            Ok((usage, evicted)) => {
                self.update_stats(|s| {
                    s.eviction_batches += 1;
                    s.nodes_evicted += evicted;
                });
                let next = cache.cap.borrow_mut().evicted(usage, evicted);
                self.release_waiters();
                match next {
                    // Puts issued meanwhile may call for more.
                    Next::Done if cache.cap.borrow().wants_eviction() => Next::Continue,
                    next => next,
                }
            }
            Err(error) => {
                if error != Error::Closed {
                    warn(&format!(
                        "casweb: eviction in {} failed: {error}",
                        self.name()
                    ));
                }
                cache.cap.borrow_mut().eviction_failed();
                Next::Done
            }
        }
    }

    fn pass_over(&self) {
        let Some(cache) = self.cache() else {
            return;
        };
        cache.evicting.set(false);
        for waiter in cache.pass_end.borrow_mut().drain(..) {
            let _ = waiter.send(());
        }
        self.release_waiters();
        // A quota retry that arrived as the pass ended.
        self.ensure_eviction();
    }

    /// Notes a hit in the access log, and schedules its write.
    pub(super) fn touch(&self, key: Key) {
        let Some(cache) = self.cache() else {
            return;
        };
        let now = js_sys::Date::now();
        let stamp = self.stamp();
        let (first, full) = {
            let mut log = cache.access.borrow_mut();
            (
                log.touch(key, stamp, now as u64),
                log.len() >= ACCESS_LOG_MAX,
            )
        };
        let inner = Rc::downgrade(&self.inner);
        if full {
            spawn_local(async move {
                if let Some(inner) = inner.upgrade() {
                    IndexedDbStorage { inner }.flush_accesses().await;
                }
            });
        } else if first {
            spawn_local(access_timer(inner));
        }
    }

    /// Writes the access log (errors are logged: the log is a hint, never data).
    pub(super) async fn flush_accesses(&self) {
        let Some(cache) = self.cache() else {
            return;
        };
        let accesses = cache.access.borrow_mut().take();
        if accesses.is_empty() {
            return;
        }
        let written = match self.database() {
            Ok(db) => idb_lifecycle::write_accesses(&db, &accesses).await,
            Err(error) => Err(error),
        };
        match written {
            Ok(written) => self.update_stats(|s| s.access_writes += written),
            Err(Error::Closed) => {}
            Err(error) => warn(&format!(
                "casweb: writing access times in {} failed: {error}",
                self.name()
            )),
        }
    }

    /// The connection closed: waiting puts and passes fail with `closed`.
    pub(super) fn release_on_close(&self) {
        if let Some(cache) = self.cache() {
            // Their tickets see the wake dropped: the puts fail with `closed`.
            cache.room.borrow_mut().clear();
            cache.pass_end.borrow_mut().clear();
            cache.access.borrow_mut().clear();
        }
    }

    /// Test hook: the next `batches` put batches fail as the browser fails them when the
    /// origin's quota is used up (no headless browser lets a test fill its quota quickly).
    #[doc(hidden)]
    pub fn inject_quota_failures(&self, batches: u32) {
        if let Some(cache) = self.cache() {
            cache.quota_failures.set(batches);
        }
    }

    pub(super) fn take_injected_quota_failure(&self) -> bool {
        let Some(cache) = self.cache() else {
            return false;
        };
        let left = cache.quota_failures.get();
        cache.quota_failures.set(left.saturating_sub(1));
        left > 0
    }
}

/// A put waiting for room, in the queue.
struct RoomWaiter {
    size: u64,
    state: Rc<Cell<TicketState>>,
    wake: oneshot::Sender<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketState {
    /// In the queue: its bytes count as waiting.
    Waiting,
    /// Woken with room reserved for it.
    Reserved,
    /// Given up while waiting (the queue skips it).
    Cancelled,
}

/// A put's place in the queue, then its reservation: whatever happens, dropping it takes its
/// bytes out of the cap's accounts.
struct Ticket<'a> {
    cache: &'a CacheState,
    size: u64,
    state: Rc<Cell<TicketState>>,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        match self.state.get() {
            TicketState::Waiting => {
                self.cache.cap.borrow_mut().unwait(self.size);
                self.state.set(TicketState::Cancelled);
            }
            TicketState::Reserved => self.cache.cap.borrow_mut().unreserve(self.size),
            TicketState::Cancelled => return,
        }
        // Room given back (a put issued, or one given up): the next ones may go.
        self.cache.release_waiters();
    }
}

/// Runs eviction batches until the pass is over, holding the store only during a batch.
async fn eviction_pass(store: Weak<Inner>) {
    loop {
        let Some(inner) = store.upgrade() else {
            return;
        };
        let storage = IndexedDbStorage { inner };
        if storage.eviction_batch().await == Next::Done {
            storage.pass_over();
            return;
        }
    }
}

/// Writes the access log when it is due.
async fn access_timer(store: Weak<Inner>) {
    loop {
        let due = {
            let Some(inner) = store.upgrade() else {
                return;
            };
            let Some(cache) = inner.cache.as_ref() else {
                return;
            };
            let due = cache.access.borrow().due_in(js_sys::Date::now() as u64);
            due
        };
        match due {
            None => return,
            Some(0) => {
                if let Some(inner) = store.upgrade() {
                    IndexedDbStorage { inner }.flush_accesses().await;
                }
                return;
            }
            Some(ms) => TimeoutFuture::new(ms.min(u64::from(u32::MAX)) as u32).await,
        }
    }
}
