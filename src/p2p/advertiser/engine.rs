//! The [`Advertiser`] handle and its background task: feeds the scheduler's keys to the
//! discovery (at most `max_concurrent` at a time), sleeps until the next key is due, polls for
//! peers while paused, and persists the schedule in batches.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::LocalBoxFuture;
use futures::stream::FuturesUnordered;
use futures::{select_biased, FutureExt as _, StreamExt as _};

use super::schedule::{KeyStatus, Metrics, ScheduleConfig, Scheduler};
use super::{AdvertStore, Discovery};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::log::warn;
use crate::runtime::Runtime;
use crate::storage::StoreObserver;

/// How the Advertiser runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdvertiserConfig {
    pub schedule: ScheduleConfig,
    /// While paused (no peers), how often to check whether a peer is back.
    pub reconnect_poll_ms: u64,
    /// Changes are persisted at most this long after they happen...
    pub persist_interval_ms: u64,
    /// ...or as soon as this many are pending.
    pub persist_batch: usize,
}

impl Default for AdvertiserConfig {
    fn default() -> Self {
        AdvertiserConfig {
            schedule: ScheduleConfig::default(),
            reconnect_poll_ms: 1_000,
            persist_interval_ms: 1_000,
            persist_batch: 1_000,
        }
    }
}

enum Run {
    Stopped,
    /// `start` is loading the persisted schedule.
    Starting,
    Running(mpsc::UnboundedSender<Signal>),
    Stopping,
}

enum Signal {
    /// A key was queued.
    Wake,
    /// Finish the announcements in flight, persist, then answer.
    Stop(oneshot::Sender<()>),
}

struct Shared<D, S, R> {
    discovery: Rc<D>,
    store: S,
    runtime: R,
    config: AdvertiserConfig,
    scheduler: RefCell<Scheduler>,
    run: RefCell<Run>,
    loaded: Cell<bool>,
}

/// Announces stored keys in the background. Cheap to clone (shared handle).
///
/// Keys queued while stopped are announced once started. Dropping every handle of a running
/// Advertiser leaves its task running: call [`Advertiser::stop`].
pub struct Advertiser<D, S, R> {
    shared: Rc<Shared<D, S, R>>,
}

impl<D, S, R> Clone for Advertiser<D, S, R> {
    fn clone(&self) -> Self {
        Advertiser {
            shared: self.shared.clone(),
        }
    }
}

type Announcement = LocalBoxFuture<'static, (Key, Result<()>)>;

enum Event {
    Done(Key, Result<()>),
    Signal(Option<Signal>),
    Timer,
}

impl<D, S, R> Advertiser<D, S, R>
where
    D: Discovery + 'static,
    S: AdvertStore + 'static,
    R: Runtime + 'static,
{
    pub fn new(discovery: D, store: S, runtime: R, config: AdvertiserConfig) -> Self {
        Advertiser {
            shared: Rc::new(Shared {
                discovery: Rc::new(discovery),
                store,
                runtime,
                config,
                scheduler: RefCell::new(Scheduler::new(config.schedule)),
                run: RefCell::new(Run::Stopped),
                loaded: Cell::new(false),
            }),
        }
    }

    /// Loads the persisted schedule (first start only) and starts the background task: keys
    /// never announced go first, then those due, the others when due. `AlreadyRunning` if
    /// started (or still stopping).
    pub async fn start(&self) -> Result<()> {
        let shared = &self.shared;
        if !matches!(*shared.run.borrow(), Run::Stopped) {
            return Err(Error::AlreadyRunning);
        }
        *shared.run.borrow_mut() = Run::Starting;
        if !shared.loaded.get() {
            match shared.store.load().await {
                Ok(records) => shared.scheduler.borrow_mut().load(records),
                Err(error) => {
                    *shared.run.borrow_mut() = Run::Stopped;
                    return Err(error);
                }
            }
            shared.loaded.set(true);
        }
        let (signals, receiver) = mpsc::unbounded();
        *shared.run.borrow_mut() = Run::Running(signals);
        shared
            .runtime
            .spawn(run(shared.clone(), receiver).boxed_local());
        Ok(())
    }

    /// Stops taking new announcements, waits for those in flight, persists, then resolves.
    /// `NotRunning` if not running.
    pub async fn stop(&self) -> Result<()> {
        let run = std::mem::replace(&mut *self.shared.run.borrow_mut(), Run::Stopping);
        let Run::Running(signals) = run else {
            *self.shared.run.borrow_mut() = run;
            return Err(Error::NotRunning);
        };
        let (reply, stopped) = oneshot::channel();
        if signals.unbounded_send(Signal::Stop(reply)).is_err() {
            *self.shared.run.borrow_mut() = Run::Stopped;
            return Err(Error::ChannelSendFailed(
                "the advertiser's task ended unexpectedly".into(),
            ));
        }
        stopped
            .await
            .map_err(|_| Error::ChannelSendFailed("the advertiser's task ended early".into()))
    }

    pub fn is_running(&self) -> bool {
        matches!(*self.shared.run.borrow(), Run::Running(_))
    }

    /// Queues `key` for announcement (ahead of periodic refreshes); false if it is already
    /// tracked. `ChannelSendFailed` if the background task is gone.
    pub fn advertise(&self, key: Key) -> Result<bool> {
        let queued = self.shared.scheduler.borrow_mut().enqueue(key);
        if let Run::Running(signals) = &*self.shared.run.borrow() {
            if queued {
                signals.unbounded_send(Signal::Wake).map_err(|_| {
                    Error::ChannelSendFailed("the advertiser's task ended unexpectedly".into())
                })?;
            }
        }
        Ok(queued)
    }

    /// Keys announced successfully at least once.
    pub fn advertised_count(&self) -> usize {
        self.shared.scheduler.borrow().advertised_count()
    }

    pub fn is_advertised(&self, key: Key) -> bool {
        self.shared.scheduler.borrow().is_advertised(key)
    }

    /// Where `key` stands; `None` if not tracked.
    pub fn status(&self, key: Key) -> Option<KeyStatus> {
        self.shared.scheduler.borrow().status(key)
    }

    pub fn metrics(&self) -> Metrics {
        let now = self.shared.runtime.now_ms();
        self.shared.scheduler.borrow().metrics(now)
    }
}

/// Storing a block queues it (a failure to reach the task is logged: a put must not fail
/// because announcing it cannot be queued).
impl<D, S, R> StoreObserver for Advertiser<D, S, R>
where
    D: Discovery + 'static,
    S: AdvertStore + 'static,
    R: Runtime + 'static,
{
    fn stored(&self, key: Key) {
        if let Err(error) = self.advertise(key) {
            warn(&format!(
                "casweb: cannot queue {key} for announcement: {error}"
            ));
        }
    }
}

fn announce<D: Discovery + 'static>(discovery: &Rc<D>, key: Key) -> Announcement {
    let discovery = discovery.clone();
    async move {
        let outcome = discovery.provide(key).await;
        (key, outcome)
    }
    .boxed_local()
}

/// Writes the pending changes; on failure they are logged and kept for the next attempt.
async fn persist<D, S: AdvertStore, R>(shared: &Shared<D, S, R>) {
    let batch = shared.scheduler.borrow_mut().take_dirty();
    if batch.is_empty() {
        return;
    }
    if let Err(error) = shared.store.save(&batch).await {
        warn(&format!(
            "casweb: cannot persist the advertiser's schedule: {error}"
        ));
        shared.scheduler.borrow_mut().restore_dirty(batch);
    }
}

/// The background task.
async fn run<D, S, R>(shared: Rc<Shared<D, S, R>>, mut signals: mpsc::UnboundedReceiver<Signal>)
where
    D: Discovery + 'static,
    S: AdvertStore,
    R: Runtime,
{
    let config = shared.config;
    let mut in_flight: FuturesUnordered<Announcement> = FuturesUnordered::new();
    let mut stopping = false;
    let mut stop_reply = None;
    let mut last_persist = shared.runtime.now_ms();
    loop {
        let now = shared.runtime.now_ms();
        if !stopping {
            while let Some(key) = shared.scheduler.borrow_mut().next(now) {
                in_flight.push(announce(&shared.discovery, key));
            }
        }
        if stopping && in_flight.is_empty() {
            break;
        }
        let dirty = shared.scheduler.borrow().dirty_len();
        let persist_at = last_persist + config.persist_interval_ms;
        if dirty >= config.persist_batch || (dirty > 0 && now >= persist_at) {
            persist(&shared).await;
            last_persist = shared.runtime.now_ms();
            continue;
        }
        let wake_at = {
            let scheduler = shared.scheduler.borrow();
            let work = if scheduler.is_paused() {
                Some(now + config.reconnect_poll_ms)
            } else {
                scheduler.next_wake_ms(now)
            };
            let flush = (dirty > 0).then_some(persist_at);
            match (work, flush) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        let mut timer = match wake_at {
            Some(at) => shared.runtime.sleep(at.saturating_sub(now)),
            None => futures::future::pending().boxed_local(),
        }
        .fuse();
        let event = select_biased! {
            (key, outcome) = in_flight.select_next_some() => Event::Done(key, outcome),
            signal = signals.next() => Event::Signal(signal),
            () = timer => Event::Timer,
        };
        match event {
            Event::Done(key, outcome) => {
                let now = shared.runtime.now_ms();
                let mut scheduler = shared.scheduler.borrow_mut();
                match outcome {
                    Ok(()) => scheduler.succeeded(key, now),
                    Err(error) => scheduler.failed(key, error, now, shared.runtime.random()),
                }
            }
            Event::Signal(Some(Signal::Wake)) => {}
            Event::Signal(Some(Signal::Stop(reply))) => {
                stopping = true;
                stop_reply = Some(reply);
            }
            // No handle can signal any more: finish as for a stop.
            Event::Signal(None) => stopping = true,
            Event::Timer => {
                let paused = shared.scheduler.borrow().is_paused();
                if paused && shared.discovery.has_peers().await {
                    shared.scheduler.borrow_mut().resume();
                }
            }
        }
    }
    persist(&shared).await;
    *shared.run.borrow_mut() = Run::Stopped;
    if let Some(reply) = stop_reply {
        let _ = reply.send(());
    }
}
