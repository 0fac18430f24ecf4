//! The page's (or worker's) runtime: `Date.now()`, `setTimeout`, `Math.random()` and
//! `spawn_local`.

use futures::future::LocalBoxFuture;
use futures::FutureExt as _;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen_futures::spawn_local;

use super::Runtime;

/// The page's clock, timers and event loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserRuntime;

impl Runtime for BrowserRuntime {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        // setTimeout takes at most 2^31 - 1 ms; callers recompute their wait on waking.
        TimeoutFuture::new(ms.min(i32::MAX as u64) as u32).boxed_local()
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        spawn_local(task);
    }
}
