//! `BufferedStorage`: the sync engine. `put` stores into a buffer (and a persistent pending
//! store) and returns; after a debounce the buffer is flushed to the remote by
//! [`sync_nodes`](super::flush::sync_nodes) passes.
//!
//! - Nothing is lost: an entry leaves the buffer and the pending store only once the server owns
//!   it. Transient failures (network, timeouts, 5xx, hooks) are retried with exponential backoff
//!   and jitter; permanent ones (4xx) stay pending, are reported, and are retried only by an
//!   explicit `flush()`.
//! - `flush()` resolves once everything buffered before the call has been attempted (synced or
//!   failed), however many callers race.
//! - While the remote looks down (a pass where every attempt failed transiently), new nodes wait
//!   too: the next pass starts after the same backoff, growing with each failed pass, instead of
//!   one pass per debounce. An explicit `flush()` still tries at once.
//! - A full buffer (`max_buffer_bytes`) makes `put` wait for a flush (backpressure).
//! - Reopening on the same pending store resumes: pending entries are loaded and flushed.
//! - Across tabs, one flusher at a time (Web Locks).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use bytes::Bytes;
use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use gloo_timers::callback::Timeout;
use wasm_bindgen_futures::spawn_local;

use super::backoff::Backoff;
use super::flush::{sync_nodes, ChildKeysFn, KeyStatus, SyncResult};
use super::lock::with_lock;
use super::remote::SyncRemote;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::log::warn;
use crate::node;
use crate::storage::{IndexedDbStorage, StorageProvider};

/// Default name of the IndexedDB database that keeps pending nodes.
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
    /// Bytes the buffer may hold before `put` waits for a flush (default 64 MiB).
    pub max_buffer_bytes: usize,
    /// Retry delays for transient failures.
    pub backoff: Backoff,
    /// Child keys of a node (default: the built-in node codec).
    pub child_keys: Option<ChildKeys>,
    /// IndexedDB database for pending nodes (default `casweb-pending`); `None` keeps them in
    /// memory only (lost on reload).
    pub pending_store: Option<String>,
    pub hooks: SyncHooks,
}

impl Default for BufferedConfig {
    fn default() -> Self {
        BufferedConfig {
            debounce_ms: 100,
            max_buffer_bytes: 64 * 1024 * 1024,
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
    /// Entries not yet owned by the server (pending or failed).
    pub pending: usize,
    /// Of those, entries whose last attempt failed.
    pub failed: usize,
    /// Bytes held in the buffer.
    pub buffered_bytes: usize,
    /// Sync passes run so far.
    pub passes: u64,
}

#[derive(Debug, Clone)]
enum EntryState {
    Pending,
    /// `retry_at` is a `Date.now()` time, `f64::INFINITY` for permanent failures.
    Failed {
        error: Error,
        attempts: u32,
        retry_at: f64,
    },
}

struct Entry {
    bytes: Bytes,
    seq: u64,
    state: EntryState,
}

struct Inner<R> {
    remote: R,
    config: BufferedConfig,
    pending_store: Option<IndexedDbStorage>,
    lock_name: String,
    buffer: RefCell<HashMap<Key, Entry>>,
    buffered_bytes: Cell<usize>,
    /// Sequence number of the next put; every entry with `seq < completed_seq` was attempted.
    next_seq: Cell<u64>,
    completed_seq: Cell<u64>,
    flush_waiters: RefCell<Vec<(u64, oneshot::Sender<Result<SyncResult>>)>>,
    space_waiters: RefCell<Vec<oneshot::Sender<()>>>,
    debounce: RefCell<Option<Timeout>>,
    retry: RefCell<Option<Timeout>>,
    running: Cell<bool>,
    disposed: Cell<bool>,
    passes: Cell<u64>,
    /// While the remote looks down: no pass for new nodes before this `Date.now()` time.
    outage_until: Cell<f64>,
    /// Consecutive passes that looked like an outage (the backoff's attempt number).
    outage_passes: Cell<u32>,
}

/// The buffered sync engine over a remote (`HttpStorage` in practice). Cheap to clone.
pub struct BufferedStorage<R: SyncRemote + StorageProvider + 'static> {
    inner: Rc<Inner<R>>,
}

impl<R: SyncRemote + StorageProvider + 'static> Clone for BufferedStorage<R> {
    fn clone(&self) -> Self {
        BufferedStorage {
            inner: self.inner.clone(),
        }
    }
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

impl<R: SyncRemote + StorageProvider + 'static> BufferedStorage<R> {
    /// Opens the engine: loads entries left pending by an earlier engine on the same pending
    /// store and schedules their flush.
    pub async fn open(remote: R, config: BufferedConfig) -> Result<BufferedStorage<R>> {
        let pending_store = match &config.pending_store {
            Some(name) => Some(IndexedDbStorage::open(name).await?),
            None => None,
        };
        let resumed = match &pending_store {
            Some(store) => store.entries().await?,
            None => Vec::new(),
        };
        let lock_name = format!(
            "casweb-sync:{}",
            config.pending_store.as_deref().unwrap_or("memory")
        );
        let engine = BufferedStorage {
            inner: Rc::new(Inner {
                remote,
                config,
                pending_store,
                lock_name,
                buffer: RefCell::default(),
                buffered_bytes: Cell::new(0),
                next_seq: Cell::new(0),
                completed_seq: Cell::new(0),
                flush_waiters: RefCell::default(),
                space_waiters: RefCell::default(),
                debounce: RefCell::default(),
                retry: RefCell::default(),
                running: Cell::new(false),
                disposed: Cell::new(false),
                passes: Cell::new(0),
                outage_until: Cell::new(0.0),
                outage_passes: Cell::new(0),
            }),
        };
        if !resumed.is_empty() {
            for (key, bytes) in resumed {
                engine.insert(key, bytes);
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
        BufferedStats {
            pending: buffer.len(),
            failed: buffer
                .values()
                .filter(|e| matches!(e.state, EntryState::Failed { .. }))
                .count(),
            buffered_bytes: self.inner.buffered_bytes.get(),
            passes: self.inner.passes.get(),
        }
    }

    /// Keys not yet owned by the server.
    pub fn pending_keys(&self) -> Vec<Key> {
        self.inner.buffer.borrow().keys().copied().collect()
    }

    /// Keys whose last attempt failed, with the error.
    pub fn failures(&self) -> Vec<(Key, Error)> {
        self.inner
            .buffer
            .borrow()
            .iter()
            .filter_map(|(key, entry)| match &entry.state {
                EntryState::Failed { error, .. } => Some((*key, error.clone())),
                EntryState::Pending => None,
            })
            .collect()
    }

    /// Syncs everything buffered so far (failed entries included) and resolves with the outcome
    /// of the pass that covered it.
    pub async fn flush(&self) -> Result<SyncResult> {
        if self.inner.disposed.get() {
            return Err(Error::Closed);
        }
        let (tx, rx) = oneshot::channel();
        let target = self.inner.next_seq.get();
        self.inner.flush_waiters.borrow_mut().push((target, tx));
        self.start();
        rx.await.unwrap_or(Err(Error::Closed))
    }

    /// Stops timers and flushing. Pending entries stay in the pending store for the next
    /// engine opened on it; waiting `flush()` calls and puts fail with `closed`.
    pub fn dispose(&self) {
        let inner = &self.inner;
        inner.disposed.set(true);
        inner.debounce.borrow_mut().take();
        inner.retry.borrow_mut().take();
        for (_, waiter) in inner.flush_waiters.borrow_mut().drain(..) {
            let _ = waiter.send(Err(Error::Closed));
        }
        inner.space_waiters.borrow_mut().clear();
        if let Some(store) = &inner.pending_store {
            store.close();
        }
    }

    /// Adds an entry to the buffer (if new); true if it was new.
    fn insert(&self, key: Key, bytes: Bytes) -> bool {
        let mut buffer = self.inner.buffer.borrow_mut();
        if buffer.contains_key(&key) {
            return false;
        }
        let seq = self.inner.next_seq.get();
        self.inner.next_seq.set(seq + 1);
        self.inner
            .buffered_bytes
            .set(self.inner.buffered_bytes.get() + bytes.len());
        buffer.insert(
            key,
            Entry {
                bytes,
                seq,
                state: EntryState::Pending,
            },
        );
        true
    }

    fn remove(&self, key: &Key) {
        if let Some(entry) = self.inner.buffer.borrow_mut().remove(key) {
            self.inner
                .buffered_bytes
                .set(self.inner.buffered_bytes.get() - entry.bytes.len());
        }
    }

    fn schedule_debounced(&self) {
        let inner = &self.inner;
        if inner.disposed.get() || inner.debounce.borrow().is_some() {
            return;
        }
        let engine = self.clone();
        *inner.debounce.borrow_mut() = Some(Timeout::new(inner.config.debounce_ms, move || {
            engine.inner.debounce.borrow_mut().take();
            engine.start();
        }));
    }

    fn schedule_retry(&self) {
        let inner = &self.inner;
        let outage_until = inner.outage_until.get();
        let earliest = inner
            .buffer
            .borrow()
            .values()
            .filter_map(|e| match e.state {
                EntryState::Failed { retry_at, .. } if retry_at.is_finite() => Some(retry_at),
                EntryState::Pending if outage_until > 0.0 => Some(outage_until),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min);
        if inner.disposed.get() || !earliest.is_finite() {
            return;
        }
        let delay = (earliest - now_ms()).max(0.0) as u32;
        let engine = self.clone();
        *inner.retry.borrow_mut() = Some(Timeout::new(delay, move || {
            engine.inner.retry.borrow_mut().take();
            engine.start();
        }));
    }

    /// Starts the flush loop unless it is already running (it then picks up new work itself).
    fn start(&self) {
        if self.inner.running.get() || self.inner.disposed.get() {
            return;
        }
        self.inner.running.set(true);
        let engine = self.clone();
        spawn_local(async move {
            engine.run().await;
            engine.inner.running.set(false);
            engine.schedule_retry();
        });
    }

    /// Runs passes until no flush is waiting and nothing is due.
    async fn run(&self) {
        let inner = &self.inner;
        while !inner.disposed.get() {
            let explicit = inner
                .flush_waiters
                .borrow()
                .iter()
                .any(|(target, _)| *target > inner.completed_seq.get());
            let snapshot_seq = inner.next_seq.get();
            let now = now_ms();
            if !explicit && now < inner.outage_until.get() {
                break; // the remote looks down: schedule_retry starts the next pass
            }
            let snapshot: Vec<(Key, Bytes)> = inner
                .buffer
                .borrow()
                .iter()
                .filter(|(_, entry)| match &entry.state {
                    EntryState::Pending => true,
                    EntryState::Failed { retry_at, .. } => explicit || *retry_at <= now,
                })
                .map(|(key, entry)| (*key, entry.bytes.clone()))
                .collect();
            if snapshot.is_empty() {
                inner.completed_seq.set(snapshot_seq);
                self.resolve_waiters(&SyncResult::default());
                break;
            }
            inner.debounce.borrow_mut().take();
            // The whole pass, hooks included, holds the cross-tab lock.
            let result = with_lock(&inner.lock_name, async {
                let result = self.pass(&snapshot).await;
                inner.passes.set(inner.passes.get() + 1);
                self.apply(&result).await;
                self.note_outage(&result);
                if let Some(on_end) = &inner.config.hooks.on_sync_end {
                    on_end(&result);
                }
                result
            })
            .await;
            if explicit {
                inner.completed_seq.set(snapshot_seq);
            }
            self.resolve_waiters(&result);
            for waiter in inner.space_waiters.borrow_mut().drain(..) {
                let _ = waiter.send(());
            }
            let more_waiting = inner
                .flush_waiters
                .borrow()
                .iter()
                .any(|(target, _)| *target > inner.completed_seq.get());
            let fresh = inner
                .buffer
                .borrow()
                .values()
                .any(|e| e.seq >= snapshot_seq && matches!(e.state, EntryState::Pending));
            if !more_waiting && !fresh {
                break;
            }
        }
    }

    /// One pass: the start hook, then [`sync_nodes`].
    async fn pass(&self, snapshot: &[(Key, Bytes)]) -> SyncResult {
        let hooks = &self.inner.config.hooks;
        if let Some(on_start) = &hooks.on_sync_start {
            if let Err(error) = on_start().await {
                let error = match error {
                    Error::Hook(_) => error,
                    other => Error::Hook(other.to_string()),
                };
                return SyncResult {
                    failed: snapshot.iter().map(|(k, _)| (*k, error.clone())).collect(),
                    ..SyncResult::default()
                };
            }
        }
        let builtin = |_: Key, bytes: &[u8]| -> Result<Vec<Key>> { Ok(node::child_keys(bytes)?) };
        let child_keys: ChildKeysFn<'_> = match &self.inner.config.child_keys {
            Some(custom) => custom.as_ref(),
            None => &builtin,
        };
        let observe = |key: Key, status: KeyStatus, error: Option<&Error>| {
            if let Some(on_key) = &hooks.on_key_sync {
                on_key(key, status, error);
            }
        };
        // Buffered nodes left out of this pass (waiting for their retry): their parents wait too.
        let held_back: HashSet<Key> = {
            let in_pass: HashSet<Key> = snapshot.iter().map(|(k, _)| *k).collect();
            self.inner
                .buffer
                .borrow()
                .keys()
                .filter(|k| !in_pass.contains(k))
                .copied()
                .collect()
        };
        sync_nodes(
            &self.inner.remote,
            snapshot,
            &held_back,
            child_keys,
            &observe,
        )
        .await
    }

    /// Applies a pass's outcome: owned entries leave the buffer and the pending store, failed
    /// ones are scheduled for a retry (transient) or parked (permanent).
    async fn apply(&self, result: &SyncResult) {
        let done: Vec<Key> = result
            .synced
            .iter()
            .chain(result.skipped.iter())
            .copied()
            .collect();
        for key in &done {
            self.remove(key);
        }
        let now = now_ms();
        {
            let mut buffer = self.inner.buffer.borrow_mut();
            for (key, error) in &result.failed {
                if let Some(entry) = buffer.get_mut(key) {
                    let attempts = match &entry.state {
                        EntryState::Failed { attempts, .. } => attempts + 1,
                        EntryState::Pending => 1,
                    };
                    let retry_at = if error.is_transient() {
                        let jitter = js_sys::Math::random();
                        now + f64::from(self.inner.config.backoff.delay_ms(attempts - 1, jitter))
                    } else {
                        f64::INFINITY
                    };
                    entry.state = EntryState::Failed {
                        error: error.clone(),
                        attempts,
                        retry_at,
                    };
                }
            }
        }
        if let Some(store) = &self.inner.pending_store {
            if let Err(error) = store.delete_many(&done).await {
                // They are owned by the server: at worst they are checked again after a reload.
                warn(&format!(
                    "casweb: clearing synced entries from the pending store failed: {error}"
                ));
            }
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
                .delay_ms(attempt, js_sys::Math::random());
            inner.outage_until.set(now_ms() + f64::from(delay));
            inner.outage_passes.set(attempt + 1);
        } else {
            inner.outage_until.set(0.0);
            inner.outage_passes.set(0);
        }
    }

    fn resolve_waiters(&self, result: &SyncResult) {
        let completed = self.inner.completed_seq.get();
        let mut waiters = self.inner.flush_waiters.borrow_mut();
        let (ready, waiting): (Vec<_>, Vec<_>) = waiters
            .drain(..)
            .partition(|(target, _)| *target <= completed);
        *waiters = waiting;
        for (_, waiter) in ready {
            let _ = waiter.send(Ok(result.clone()));
        }
    }

    /// Bytes of entries that still count against the buffer limit (permanent failures do not:
    /// they would otherwise block every put until an explicit flush).
    fn active_bytes(&self) -> usize {
        let buffer = self.inner.buffer.borrow();
        let parked: usize = buffer
            .values()
            .filter(|e| matches!(e.state, EntryState::Failed { retry_at, .. } if retry_at.is_infinite()))
            .map(|e| e.bytes.len())
            .sum();
        self.inner.buffered_bytes.get() - parked
    }
}

impl<R: SyncRemote + StorageProvider + 'static> StorageProvider for BufferedStorage<R> {
    /// The buffer first (nodes not yet synced), then the remote.
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        if let Some(entry) = self.inner.buffer.borrow().get(&key) {
            return Ok(Some(entry.bytes.clone()));
        }
        self.inner.remote.get(key).await
    }

    /// Buffers the node, persists it in the pending store, schedules a flush and returns. Waits
    /// first if the buffer is full.
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        let inner = &self.inner;
        if inner.disposed.get() {
            return Err(Error::Closed);
        }
        if inner.buffer.borrow().contains_key(&key) {
            return Ok(());
        }
        while self.active_bytes() > 0
            && self.active_bytes() + bytes.len() > inner.config.max_buffer_bytes
        {
            let (tx, rx) = oneshot::channel();
            inner.space_waiters.borrow_mut().push(tx);
            self.start();
            if rx.await.is_err() || inner.disposed.get() {
                return Err(Error::Closed);
            }
        }
        if !self.insert(key, bytes.clone()) {
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
