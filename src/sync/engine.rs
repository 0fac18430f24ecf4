//! `SyncEngine`: the buffered sync engine. `put` stores into a buffer (and a persistent pending
//! store) and returns; after a debounce the buffer is flushed to the remote by
//! [`sync_nodes_reporting`] passes. Generic over the remote, the pending store, the cross-tab
//! lock and the runtime (clock, timers, spawning), so native tests drive it with a manual clock;
//! `browser.rs` binds it to IndexedDB, Web Locks and the page's event loop.
//!
//! - Nothing is lost: an entry leaves the buffer and the pending store only once the server owns
//!   it, as soon as the batch that made it owned is acknowledged (so a reload mid-pass resumes
//!   where it stopped).
//! - Every pending entry is in flight, due at a known time, waiting for a descendant that is
//!   itself scheduled, or parked with a permanent error that [`SyncEngine::failures`] reports.
//! - Transient failures (network, timeouts, 5xx, hooks) of a node's *own* request are retried with
//!   exponential backoff and jitter; a node held up by a child neither counts an attempt nor
//!   gets a timer of its own: it goes with that child's next pass. Permanent failures (4xx) park
//!   the node until an explicit `flush()`, [`retry`](SyncEngine::retry) or
//!   [`discard`](SyncEngine::discard). A node refused as `unauthorized` (the token expired or
//!   was revoked, and the remote could not renew it) is parked too, and also released as soon
//!   as a later pass gets anything owned: the credentials work again.
//! - A pass starts only when something can be attempted; every pass sends at least one request,
//!   and an idle engine with a failing server sleeps until the earliest due time.
//! - `flush()` takes every pending node, parked ones included, and resolves with the outcome of
//!   the first pass that started after the call.
//! - While the remote looks down (a pass where every attempt failed transiently), new nodes wait
//!   too: the next pass starts after the same backoff, growing with each failed pass, instead of
//!   one pass per debounce. An explicit `flush()` still tries at once.
//! - A full buffer (`max_buffer_bytes`) makes `put` wait for room (backpressure).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;
use futures::future::{join_all, LocalBoxFuture};
use futures::FutureExt as _;

use super::backoff::Backoff;
use super::flush::{sync_nodes_reporting, ChildKeysFn, KeyStatus, SyncResult};
use super::lock::FlushLock;
use super::pending::PendingStore;
use super::remote::SyncRemote;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::log::warn;
use crate::node;
use crate::runtime::Runtime;
use crate::storage::StorageProvider;

/// Default name of the IndexedDB database that keeps pending nodes (browser).
pub const DEFAULT_PENDING_STORE: &str = "casweb-pending";

/// A user-supplied `getChildKeys`.
pub type ChildKeys = Rc<dyn Fn(Key, &[u8]) -> Result<Vec<Key>>>;

/// Awaited before each pass; an error postpones the pass (retried with backoff).
pub type SyncStartHook = Rc<dyn Fn() -> LocalBoxFuture<'static, Result<()>>>;
/// Called after each pass with its outcome.
pub type SyncEndHook = Rc<dyn Fn(&SyncResult)>;
/// Called as each key starts uploading, is done, or fails.
pub type KeySyncHook = Rc<dyn Fn(Key, KeyStatus, Option<&Error>)>;

/// Callbacks around sync passes.
#[derive(Clone, Default)]
pub struct SyncHooks {
    pub on_sync_start: Option<SyncStartHook>,
    pub on_sync_end: Option<SyncEndHook>,
    pub on_key_sync: Option<KeySyncHook>,
}

/// How the engine behaves. `Default` gives the documented defaults.
#[derive(Clone)]
pub struct BufferedConfig {
    /// Delay between the first buffered put and the flush it triggers (default 100 ms).
    pub debounce_ms: u32,
    /// Bytes the buffer may hold before `put` waits for a flush (default 16 MiB: the buffer
    /// lives in wasm memory, which never shrinks; one default batch upload empties it).
    pub max_buffer_bytes: usize,
    /// Retry delays for transient failures.
    pub backoff: Backoff,
    /// Child keys of a node (default: the built-in node codec).
    pub child_keys: Option<ChildKeys>,
    /// Browser: the IndexedDB database for pending nodes (default `casweb-pending`); `None`
    /// keeps them in memory only (lost on reload).
    pub pending_store: Option<String>,
    pub hooks: SyncHooks,
}

impl Default for BufferedConfig {
    fn default() -> Self {
        BufferedConfig {
            debounce_ms: 100,
            max_buffer_bytes: 16 * 1024 * 1024,
            backoff: Backoff::default(),
            child_keys: None,
            pending_store: Some(DEFAULT_PENDING_STORE.to_owned()),
            hooks: SyncHooks::default(),
        }
    }
}

/// Counters for diagnostics and progress displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BufferedStats {
    /// Entries not yet owned by the server (in any state below).
    pub pending: usize,
    /// Of those, entries whose own last attempt failed (retrying or parked).
    pub failed: usize,
    /// Of the failed, entries refused for good: only `flush()`, `retry` or `discard` move them.
    pub parked: usize,
    /// Entries waiting for a descendant that is not owned yet.
    pub waiting: usize,
    /// Bytes held in the buffer.
    pub buffered_bytes: usize,
    /// Sync passes run so far.
    pub passes: u64,
}

/// Where a pending entry stands.
#[derive(Debug, Clone)]
enum EntryState {
    /// Due at once: new, resumed, or released by [`SyncEngine::retry`].
    Pending,
    /// Its own last request failed transiently: due at `retry_at` (runtime milliseconds).
    Retrying { error: Error, retry_at: u64 },
    /// Refused for good: attempted again only by an explicit flush or `retry`.
    Parked { error: Error },
    /// Not sent because a descendant is not owned yet; goes with that descendant's next pass.
    Waiting { reason: Error },
}

struct Entry {
    bytes: Bytes,
    /// Child keys, computed once at `put` (or when resumed).
    children: Vec<Key>,
    state: EntryState,
    /// Failed attempts of this node's own requests (the backoff exponent).
    attempts: u32,
}

impl Entry {
    fn is_parked(&self) -> bool {
        matches!(self.state, EntryState::Parked { .. })
    }

    /// Moves the entry to `state`, keeping `parked_bytes` (the bytes of the buffer's parked
    /// entries, which do not count against its limit) in step.
    fn set_state(&mut self, state: EntryState, parked_bytes: &Cell<usize>) {
        let was_parked = self.is_parked();
        self.state = state;
        match (was_parked, self.is_parked()) {
            (false, true) => parked_bytes.set(parked_bytes.get() + self.bytes.len()),
            (true, false) => parked_bytes.set(parked_bytes.get() - self.bytes.len()),
            _ => {}
        }
    }
}

/// A timer task the engine may cancel: only the task spawned for the current generation acts.
#[derive(Default)]
struct TimerSlot {
    generation: Cell<u64>,
    /// The armed timer's deadline, `None` when disarmed.
    deadline: Cell<Option<u64>>,
}

impl TimerSlot {
    fn arm(&self, deadline: u64) -> u64 {
        let generation = self.generation.get() + 1;
        self.generation.set(generation);
        self.deadline.set(Some(deadline));
        generation
    }

    fn disarm(&self) {
        self.generation.set(self.generation.get() + 1);
        self.deadline.set(None);
    }

    /// True (and disarmed) if the task of `generation` is still the current one.
    fn fire(&self, generation: u64) -> bool {
        let current = self.generation.get() == generation && self.deadline.get().is_some();
        if current {
            self.deadline.set(None);
        }
        current
    }
}

struct Inner<R, P, L, T> {
    remote: R,
    config: BufferedConfig,
    pending_store: Option<P>,
    lock: L,
    runtime: T,
    buffer: RefCell<HashMap<Key, Entry>>,
    buffered_bytes: Cell<usize>,
    /// The part of `buffered_bytes` held by parked entries.
    parked_bytes: Cell<usize>,
    /// `flush()` calls so far, and how many of them a finished pass has served.
    flushes_requested: Cell<u64>,
    flushes_served: Cell<u64>,
    flush_waiters: RefCell<Vec<(u64, oneshot::Sender<Result<SyncResult>>)>>,
    space_waiters: RefCell<Vec<oneshot::Sender<()>>>,
    /// Pending-store deletions of acknowledged nodes, running while the pass goes on; the pass
    /// ends when they have settled.
    deletions: RefCell<Vec<oneshot::Receiver<()>>>,
    debounce: TimerSlot,
    retry: TimerSlot,
    running: Cell<bool>,
    disposed: Cell<bool>,
    passes: Cell<u64>,
    /// While the remote looks down: no pass for new nodes before this time.
    outage_until: Cell<u64>,
    /// Consecutive passes that looked like an outage (the backoff's attempt number).
    outage_passes: Cell<u32>,
}

/// The buffered sync engine over a remote (`HttpStorage` in practice). Cheap to clone.
pub struct SyncEngine<R, P, L, T>
where
    R: SyncRemote + StorageProvider + 'static,
    P: PendingStore + 'static,
    L: FlushLock + 'static,
    T: Runtime + 'static,
{
    inner: Rc<Inner<R, P, L, T>>,
}

impl<R, P, L, T> Clone for SyncEngine<R, P, L, T>
where
    R: SyncRemote + StorageProvider + 'static,
    P: PendingStore + 'static,
    L: FlushLock + 'static,
    T: Runtime + 'static,
{
    fn clone(&self) -> Self {
        SyncEngine {
            inner: self.inner.clone(),
        }
    }
}

impl<R, P, L, T> SyncEngine<R, P, L, T>
where
    R: SyncRemote + StorageProvider + 'static,
    P: PendingStore + 'static,
    L: FlushLock + 'static,
    T: Runtime + 'static,
{
    /// Starts an engine: loads the entries an earlier engine left in `pending_store` (`None`:
    /// memory only) and schedules their flush. Entries that are no longer valid nodes are
    /// parked with their error (reported by `failures()`), never dropped.
    pub async fn start(
        remote: R,
        config: BufferedConfig,
        pending_store: Option<P>,
        lock: L,
        runtime: T,
    ) -> Result<Self> {
        let resumed = match &pending_store {
            Some(store) => store.entries().await?,
            None => Vec::new(),
        };
        let engine = SyncEngine {
            inner: Rc::new(Inner {
                remote,
                config,
                pending_store,
                lock,
                runtime,
                buffer: RefCell::default(),
                buffered_bytes: Cell::new(0),
                parked_bytes: Cell::new(0),
                flushes_requested: Cell::new(0),
                flushes_served: Cell::new(0),
                flush_waiters: RefCell::default(),
                space_waiters: RefCell::default(),
                deletions: RefCell::default(),
                debounce: TimerSlot::default(),
                retry: TimerSlot::default(),
                running: Cell::new(false),
                disposed: Cell::new(false),
                passes: Cell::new(0),
                outage_until: Cell::new(0),
                outage_passes: Cell::new(0),
            }),
        };
        if !resumed.is_empty() {
            for (key, bytes) in resumed {
                let (children, state) = match engine.validate(key, &bytes) {
                    Ok(children) => (children, EntryState::Pending),
                    Err(error) => (Vec::new(), EntryState::Parked { error }),
                };
                engine.insert(key, bytes, children, state);
            }
            engine.schedule_debounced();
        }
        Ok(engine)
    }

    /// The remote this engine syncs to.
    pub fn remote(&self) -> &R {
        &self.inner.remote
    }

    /// Current counters.
    pub fn stats(&self) -> BufferedStats {
        let buffer = self.inner.buffer.borrow();
        let count = |f: fn(&EntryState) -> bool| buffer.values().filter(|e| f(&e.state)).count();
        BufferedStats {
            pending: buffer.len(),
            failed: count(|s| matches!(s, EntryState::Retrying { .. } | EntryState::Parked { .. })),
            parked: count(|s| matches!(s, EntryState::Parked { .. })),
            waiting: count(|s| matches!(s, EntryState::Waiting { .. })),
            buffered_bytes: self.inner.buffered_bytes.get(),
            passes: self.inner.passes.get(),
        }
    }

    /// Keys not yet owned by the server.
    pub fn pending_keys(&self) -> Vec<Key> {
        self.inner.buffer.borrow().keys().copied().collect()
    }

    /// Keys that are not due at once, with why: their own last error (retrying or parked) or
    /// what they wait for (`child_not_synced`, or the error that stopped their pass).
    pub fn failures(&self) -> Vec<(Key, Error)> {
        self.inner
            .buffer
            .borrow()
            .iter()
            .filter_map(|(key, entry)| match &entry.state {
                EntryState::Retrying { error, .. }
                | EntryState::Parked { error }
                | EntryState::Waiting { reason: error } => Some((*key, error.clone())),
                EntryState::Pending => None,
            })
            .collect()
    }

    /// Syncs everything pending (parked entries included) and resolves with the outcome of the
    /// first pass that started after this call.
    pub async fn flush(&self) -> Result<SyncResult> {
        if self.inner.disposed.get() {
            return Err(Error::Closed);
        }
        let (tx, rx) = oneshot::channel();
        let request = self.inner.flushes_requested.get() + 1;
        self.inner.flushes_requested.set(request);
        self.inner.flush_waiters.borrow_mut().push((request, tx));
        self.start_passes();
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Makes a retrying, parked or waiting entry due at once; false if `key` is not pending.
    pub fn retry(&self, key: Key) -> bool {
        let found = match self.inner.buffer.borrow_mut().get_mut(&key) {
            Some(entry) => {
                entry.set_state(EntryState::Pending, &self.inner.parked_bytes);
                entry.attempts = 0;
                true
            }
            None => false,
        };
        if found {
            self.schedule_debounced();
        }
        found
    }

    /// Gives up on a pending entry: removes it from the buffer and the pending store (the
    /// server never gets it from this engine). Its parents stay pending and are retried (the
    /// server refuses them while the child is missing). False if `key` is not pending.
    pub async fn discard(&self, key: Key) -> Result<bool> {
        if !self.remove(&key) {
            return Ok(false);
        }
        if let Some(store) = &self.inner.pending_store {
            store.discard(key).await?;
        }
        self.release_waiting();
        self.schedule_debounced();
        Ok(true)
    }

    /// Stops timers and flushing (a pass in flight runs to its end). Pending entries
    /// stay in the pending store for the next engine opened on it; waiting `flush()` calls and
    /// puts fail with `closed`.
    pub fn dispose(&self) {
        let inner = &self.inner;
        inner.disposed.set(true);
        inner.debounce.disarm();
        inner.retry.disarm();
        for (_, waiter) in inner.flush_waiters.borrow_mut().drain(..) {
            let _ = waiter.send(Err(Error::Closed));
        }
        inner.space_waiters.borrow_mut().clear();
        // A pass in flight still records what the server acknowledged; it closes the store.
        if !inner.running.get() {
            self.close_pending_store();
        }
    }

    fn close_pending_store(&self) {
        if let Some(store) = &self.inner.pending_store {
            store.close();
        }
    }

    /// What `put` can check at once: the bytes hash to the key and the node decodes (its child
    /// keys, which the engine needs anyway).
    fn validate(&self, key: Key, bytes: &[u8]) -> Result<Vec<Key>> {
        if Key::for_bytes(bytes) != key {
            return Err(Error::HashMismatch { key });
        }
        match &self.inner.config.child_keys {
            Some(custom) => custom(key, bytes),
            None => Ok(node::child_keys(bytes)?),
        }
    }

    /// Adds an entry to the buffer (if new); true if it was new.
    fn insert(&self, key: Key, bytes: Bytes, children: Vec<Key>, state: EntryState) -> bool {
        let mut buffer = self.inner.buffer.borrow_mut();
        if buffer.contains_key(&key) {
            return false;
        }
        self.inner
            .buffered_bytes
            .set(self.inner.buffered_bytes.get() + bytes.len());
        let mut entry = Entry {
            bytes,
            children,
            state: EntryState::Pending,
            attempts: 0,
        };
        entry.set_state(state, &self.inner.parked_bytes);
        buffer.insert(key, entry);
        true
    }

    /// Removes an entry from the buffer; true if it was there.
    fn remove(&self, key: &Key) -> bool {
        match self.inner.buffer.borrow_mut().remove(key) {
            Some(mut entry) => {
                self.inner
                    .buffered_bytes
                    .set(self.inner.buffered_bytes.get() - entry.bytes.len());
                entry.set_state(EntryState::Pending, &self.inner.parked_bytes);
                true
            }
            None => false,
        }
    }

    /// Waiting entries become due: a descendant they waited for left the buffer.
    fn release_waiting(&self) {
        for entry in self.inner.buffer.borrow_mut().values_mut() {
            if matches!(entry.state, EntryState::Waiting { .. }) {
                entry.set_state(EntryState::Pending, &self.inner.parked_bytes);
            }
        }
    }

    /// Entries parked because the server refused the credentials become due: a pass just got
    /// something owned, so the token works again (renewed, or replaced with `set_token`).
    fn release_unauthorized(&self) {
        for entry in self.inner.buffer.borrow_mut().values_mut() {
            if let EntryState::Parked {
                error: Error::Unauthorized { .. },
            } = entry.state
            {
                entry.set_state(EntryState::Pending, &self.inner.parked_bytes);
                entry.attempts = 0;
            }
        }
    }

    fn now(&self) -> u64 {
        self.inner.runtime.now_ms()
    }

    /// Runs `on_fire` after `delay_ms` unless the slot is re-armed or disarmed meanwhile.
    fn arm(&self, slot: fn(&Inner<R, P, L, T>) -> &TimerSlot, delay_ms: u64) {
        let generation = slot(&self.inner).arm(self.now() + delay_ms);
        let engine = self.clone();
        let sleep = self.inner.runtime.sleep(delay_ms);
        self.inner.runtime.spawn(
            async move {
                sleep.await;
                if !engine.inner.disposed.get() && slot(&engine.inner).fire(generation) {
                    engine.start_passes();
                }
            }
            .boxed_local(),
        );
    }

    fn schedule_debounced(&self) {
        let inner = &self.inner;
        if inner.disposed.get() || inner.debounce.deadline.get().is_some() {
            return;
        }
        self.arm(|inner| &inner.debounce, u64::from(inner.config.debounce_ms));
    }

    /// Arms the retry timer for the earliest due time (if any entry has one).
    fn schedule_retry(&self) {
        let inner = &self.inner;
        let outage_until = inner.outage_until.get();
        let earliest = inner
            .buffer
            .borrow()
            .values()
            .filter_map(|e| match e.state {
                EntryState::Retrying { retry_at, .. } => Some(retry_at),
                EntryState::Pending if outage_until > 0 => Some(outage_until),
                _ => None,
            })
            .min();
        let Some(mut earliest) = earliest else {
            inner.retry.disarm();
            return;
        };
        // While the remote looks down nothing runs before the outage backoff ends: a retry due
        // earlier would only wake the engine to find it must wait.
        earliest = earliest.max(outage_until);
        if inner.disposed.get() || inner.retry.deadline.get() == Some(earliest) {
            return;
        }
        self.arm(|inner| &inner.retry, earliest.saturating_sub(self.now()));
    }

    /// Starts the pass loop unless it is already running (it then picks up new work itself).
    fn start_passes(&self) {
        if self.inner.running.get() || self.inner.disposed.get() {
            return;
        }
        self.inner.running.set(true);
        let engine = self.clone();
        self.inner.runtime.spawn(
            async move {
                engine.run().await;
                engine.inner.running.set(false);
                if engine.inner.disposed.get() {
                    engine.close_pending_store();
                } else {
                    engine.schedule_retry();
                }
            }
            .boxed_local(),
        );
    }

    /// The entries a pass may attempt now: those due (all of them for an explicit flush),
    /// minus those with a descendant that is pending but not due (they are marked waiting).
    fn plan(&self, explicit: bool) -> Vec<(Key, Bytes)> {
        let now = self.now();
        let mut buffer = self.inner.buffer.borrow_mut();
        let due: HashSet<Key> = buffer
            .iter()
            .filter(|(_, entry)| {
                explicit
                    || match entry.state {
                        EntryState::Pending | EntryState::Waiting { .. } => true,
                        EntryState::Retrying { retry_at, .. } => retry_at <= now,
                        EntryState::Parked { .. } => false,
                    }
            })
            .map(|(key, _)| *key)
            .collect();
        // A due entry is blocked if a child in the buffer is not due or is blocked itself.
        let mut blocked: HashMap<Key, Option<(Key, bool)>> = HashMap::new();
        for key in &due {
            blocking_child(*key, &buffer, &due, &mut blocked, &mut HashSet::new());
        }
        let mut plan = Vec::new();
        for key in &due {
            let entry = buffer.get_mut(key).expect("due keys are buffered");
            match blocked.get(key).copied().flatten() {
                Some((child, transient)) => {
                    let reason = Error::ChildNotSynced {
                        key: *key,
                        child,
                        transient,
                    };
                    entry.set_state(EntryState::Waiting { reason }, &self.inner.parked_bytes);
                }
                None => plan.push((*key, entry.bytes.clone())),
            }
        }
        plan
    }

    /// Runs passes until no flush is waiting and nothing is due.
    async fn run(&self) {
        let inner = &self.inner;
        while !inner.disposed.get() {
            let requested = inner.flushes_requested.get();
            let explicit = requested > inner.flushes_served.get();
            if !explicit && self.now() < inner.outage_until.get() {
                break; // the remote looks down: schedule_retry starts the next pass
            }
            let plan = self.plan(explicit);
            if plan.is_empty() {
                inner.flushes_served.set(requested);
                self.resolve_waiters(&SyncResult::default());
                break;
            }
            inner.debounce.disarm();
            // The whole pass, hooks included, holds the cross-tab lock.
            let result = inner
                .lock
                .with_lock(async {
                    let result = self.pass(&plan).await;
                    inner.passes.set(inner.passes.get() + 1);
                    self.apply(&result);
                    self.note_outage(&result);
                    if let Some(on_end) = &inner.config.hooks.on_sync_end {
                        on_end(&result);
                    }
                    result
                })
                .await;
            if explicit {
                inner.flushes_served.set(requested);
            }
            self.resolve_waiters(&result);
            self.wake_space_waiters();
            let more_flushes = inner.flushes_requested.get() > inner.flushes_served.get();
            let fresh = inner
                .buffer
                .borrow()
                .values()
                .any(|e| matches!(e.state, EntryState::Pending));
            if !more_flushes && !fresh {
                break;
            }
        }
    }

    /// One pass: the start hook, then [`sync_nodes_reporting`], removing what became owned as
    /// each request is acknowledged; it ends once the pending store has dropped all of it.
    async fn pass(&self, plan: &[(Key, Bytes)]) -> SyncResult {
        let hooks = &self.inner.config.hooks;
        if let Some(on_start) = &hooks.on_sync_start {
            if let Err(error) = on_start().await {
                let error = match error {
                    Error::Hook(_) => error,
                    other => Error::Hook(other.to_string()),
                };
                return SyncResult {
                    failed: plan.iter().map(|(k, _)| (*k, error.clone())).collect(),
                    ..SyncResult::default()
                };
            }
        }
        let known = |key: Key, _: &[u8]| -> Result<Vec<Key>> {
            Ok(self
                .inner
                .buffer
                .borrow()
                .get(&key)
                .map(|entry| entry.children.clone())
                .unwrap_or_default())
        };
        let child_keys: ChildKeysFn<'_> = &known;
        let observe = |key: Key, status: KeyStatus, error: Option<&Error>| {
            if let Some(on_key) = &hooks.on_key_sync {
                on_key(key, status, error);
            }
        };
        let held_back: HashSet<Key> = {
            let in_pass: HashSet<Key> = plan.iter().map(|(k, _)| *k).collect();
            self.inner
                .buffer
                .borrow()
                .keys()
                .filter(|k| !in_pass.contains(k))
                .copied()
                .collect()
        };
        let owned = |keys: Vec<Key>| self.owned(keys);
        let result = sync_nodes_reporting(
            &self.inner.remote,
            plan,
            &held_back,
            child_keys,
            &observe,
            &owned,
        )
        .await;
        self.deletions_settled().await;
        result
    }

    /// Keys the server acknowledged as owned: out of the buffer at once (waiting puts get their
    /// space), out of the pending store in the background.
    fn owned(&self, keys: Vec<Key>) {
        for key in &keys {
            self.remove(key);
        }
        self.wake_space_waiters();
        if self.inner.pending_store.is_none() {
            return;
        }
        let (settled, deletion) = oneshot::channel();
        self.inner.deletions.borrow_mut().push(deletion);
        let engine = self.clone();
        self.inner.runtime.spawn(
            async move {
                if let Some(store) = &engine.inner.pending_store {
                    if let Err(error) = store.delete_many(&keys).await {
                        // They are owned by the server: at worst they are checked again after
                        // a reload.
                        warn(&format!(
                            "casweb: clearing synced entries from the pending store failed: {error}"
                        ));
                    }
                }
                let _ = settled.send(());
            }
            .boxed_local(),
        );
    }

    /// Waits for the pending-store deletions started so far.
    async fn deletions_settled(&self) {
        let deletions = std::mem::take(&mut *self.inner.deletions.borrow_mut());
        join_all(deletions).await;
    }

    /// Applies a pass's outcome to the entries still buffered: a node's own failure is retried
    /// (transient) or parked (permanent); a node held up by a child waits for it. A pass that
    /// got something owned first releases the nodes earlier passes parked as `unauthorized`.
    fn apply(&self, result: &SyncResult) {
        for key in result.synced.iter().chain(&result.skipped) {
            self.remove(key);
        }
        if !result.synced.is_empty() || !result.skipped.is_empty() {
            self.release_unauthorized();
        }
        let now = self.now();
        let backoff = self.inner.config.backoff;
        let mut buffer = self.inner.buffer.borrow_mut();
        for (key, error) in &result.failed {
            let Some(entry) = buffer.get_mut(key) else {
                continue;
            };
            let state = if matches!(error, Error::ChildNotSynced { .. }) {
                EntryState::Waiting {
                    reason: error.clone(),
                }
            } else if error.is_transient() {
                let delay = backoff.delay_ms(entry.attempts, self.inner.runtime.random());
                entry.attempts += 1;
                EntryState::Retrying {
                    error: error.clone(),
                    retry_at: now + u64::from(delay),
                }
            } else {
                entry.attempts += 1;
                EntryState::Parked {
                    error: error.clone(),
                }
            };
            entry.set_state(state, &self.inner.parked_bytes);
        }
        // Deferred: a child was held out of the pass (put while it ran); wait for it.
        for key in &result.deferred {
            let Some(child) = buffer.get(key).and_then(|entry| {
                entry
                    .children
                    .iter()
                    .find(|child| buffer.contains_key(child))
                    .copied()
            }) else {
                continue;
            };
            if let Some(entry) = buffer.get_mut(key) {
                if let EntryState::Pending = entry.state {
                    let reason = Error::ChildNotSynced {
                        key: *key,
                        child,
                        transient: true,
                    };
                    entry.set_state(EntryState::Waiting { reason }, &self.inner.parked_bytes);
                }
            }
        }
        drop(buffer);
        if !result.synced.is_empty() || !result.skipped.is_empty() {
            self.release_waiting();
        }
    }

    /// Starts, extends or ends the outage backoff after a pass.
    fn note_outage(&self, result: &SyncResult) {
        let inner = &self.inner;
        if result.looks_like_outage() {
            let attempt = inner.outage_passes.get();
            let delay = inner
                .config
                .backoff
                .delay_ms(attempt, inner.runtime.random());
            inner.outage_until.set(self.now() + u64::from(delay));
            inner.outage_passes.set(attempt + 1);
        } else {
            inner.outage_until.set(0);
            inner.outage_passes.set(0);
        }
    }

    fn resolve_waiters(&self, result: &SyncResult) {
        let served = self.inner.flushes_served.get();
        let mut waiters = self.inner.flush_waiters.borrow_mut();
        let (ready, waiting): (Vec<_>, Vec<_>) = waiters
            .drain(..)
            .partition(|(request, _)| *request <= served);
        *waiters = waiting;
        for (_, waiter) in ready {
            let _ = waiter.send(Ok(result.clone()));
        }
    }

    fn wake_space_waiters(&self) {
        for waiter in self.inner.space_waiters.borrow_mut().drain(..) {
            let _ = waiter.send(());
        }
    }

    /// Bytes of entries that still count against the buffer limit (parked entries do not: they
    /// would otherwise block every put until an explicit flush).
    fn active_bytes(&self) -> usize {
        self.inner.buffered_bytes.get() - self.inner.parked_bytes.get()
    }
}

/// The first child that keeps `key` out of a pass (a child in the buffer that is not due, or
/// is blocked itself), with whether it is only retrying (transient); memoised in `blocked`.
fn blocking_child(
    key: Key,
    buffer: &HashMap<Key, Entry>,
    due: &HashSet<Key>,
    blocked: &mut HashMap<Key, Option<(Key, bool)>>,
    visiting: &mut HashSet<Key>,
) -> Option<(Key, bool)> {
    if let Some(known) = blocked.get(&key) {
        return *known;
    }
    if !visiting.insert(key) {
        return None; // a cycle: the pass reports it
    }
    let mut found = None;
    for child in &buffer[&key].children {
        let Some(entry) = buffer.get(child) else {
            continue;
        };
        if !due.contains(child) {
            let transient = !matches!(entry.state, EntryState::Parked { .. });
            found = Some((*child, transient));
            break;
        }
        if let Some(inherited) = blocking_child(*child, buffer, due, blocked, visiting) {
            found = Some(inherited);
            break;
        }
    }
    visiting.remove(&key);
    blocked.insert(key, found);
    found
}

impl<R, P, L, T> StorageProvider for SyncEngine<R, P, L, T>
where
    R: SyncRemote + StorageProvider + 'static,
    P: PendingStore + 'static,
    L: FlushLock + 'static,
    T: Runtime + 'static,
{
    /// The buffer first (nodes not yet synced), then the remote.
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        if let Some(entry) = self.inner.buffer.borrow().get(&key) {
            return Ok(Some(entry.bytes.clone()));
        }
        self.inner.remote.get(key).await
    }

    /// Checks the node (hash, decoding, size), buffers it, persists it in the pending store,
    /// schedules a flush and returns. Waits first if the buffer is full.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        let inner = &self.inner;
        if inner.disposed.get() {
            return Err(Error::Closed);
        }
        if inner.buffer.borrow().contains_key(&key) {
            return Ok(());
        }
        let children = self.validate(key, &bytes)?;
        if let Some(max) = inner.remote.max_node_size() {
            if bytes.len() > max {
                return Err(Error::TooLarge {
                    key,
                    size: bytes.len(),
                    max,
                });
            }
        }
        while self.active_bytes() > 0
            && self.active_bytes() + bytes.len() > inner.config.max_buffer_bytes
        {
            let (tx, rx) = oneshot::channel();
            inner.space_waiters.borrow_mut().push(tx);
            self.start_passes();
            if rx.await.is_err() || inner.disposed.get() {
                return Err(Error::Closed);
            }
        }
        if !self.insert(key, bytes.clone(), children, EntryState::Pending) {
            return Ok(());
        }
        if let Some(store) = &inner.pending_store {
            if let Err(error) = store.put(key, bytes).await {
                // Not durably queued: report it and do not pretend it is stored.
                self.remove(&key);
                return Err(error);
            }
        }
        self.schedule_debounced();
        Ok(())
    }
}
