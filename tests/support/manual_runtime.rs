//! A manual clock for native tests of the engines: timers fire only when the test advances time,
//! tasks run on the test's `LocalPool`. Include it with
//! `#[path = "support/manual_runtime.rs"] mod manual_runtime;`.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::oneshot;
use futures::executor::LocalSpawner;
use futures::future::LocalBoxFuture;
use futures::task::LocalSpawnExt as _;
use futures::FutureExt as _;

use casweb::runtime::Runtime;

/// Timers waiting for the manual clock: (deadline, fire).
type Timers = Rc<RefCell<Vec<(u64, oneshot::Sender<()>)>>>;

/// A manual clock: timers fire only when the test advances time.
#[derive(Clone)]
pub struct ManualRuntime {
    pub now: Rc<Cell<u64>>,
    timers: Timers,
    pub spawner: LocalSpawner,
    /// The jitter `random()` returns (0.5 unless a test sets it).
    pub jitter: Rc<Cell<f64>>,
    /// If not empty, `random()` cycles through these instead of `jitter`.
    pub jitter_cycle: Rc<RefCell<Vec<f64>>>,
    /// Timers armed so far (each is a wake-up of the engine under test).
    pub sleeps: Rc<Cell<usize>>,
}

impl ManualRuntime {
    pub fn new(now: u64, spawner: LocalSpawner) -> ManualRuntime {
        ManualRuntime {
            now: Rc::new(Cell::new(now)),
            timers: Rc::default(),
            spawner,
            jitter: Rc::new(Cell::new(0.5)),
            jitter_cycle: Rc::default(),
            sleeps: Rc::default(),
        }
    }

    /// Moves the clock forward and fires every timer that is due.
    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
        let now = self.now.get();
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        for (at, fire) in timers {
            if at <= now {
                let _ = fire.send(());
            } else {
                self.timers.borrow_mut().push((at, fire));
            }
        }
    }

    /// The earliest deadline among timers still armed (their sleeper not dropped).
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers
            .borrow()
            .iter()
            .filter(|(_, fire)| !fire.is_canceled())
            .map(|(at, _)| *at)
            .min()
    }
}

impl Runtime for ManualRuntime {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        self.sleeps.set(self.sleeps.get() + 1);
        let (fire, fired) = oneshot::channel();
        self.timers.borrow_mut().push((self.now.get() + ms, fire));
        fired.map(|_| ()).boxed_local()
    }
    fn random(&self) -> f64 {
        let mut cycle = self.jitter_cycle.borrow_mut();
        if cycle.is_empty() {
            return self.jitter.get();
        }
        cycle.rotate_left(1);
        cycle[cycle.len() - 1]
    }
    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        self.spawner.spawn_local(task).unwrap();
    }
}
