//! The clock, timers, randomness and task spawning that casweb's engines (the sync engine, the
//! Advertiser) run on: a trait, so native tests drive the engines with a manual clock, and the
//! browser's implementation ([`BrowserRuntime`], wasm32).

#[cfg(target_arch = "wasm32")]
mod browser;

use futures::future::LocalBoxFuture;

#[cfg(target_arch = "wasm32")]
pub use browser::BrowserRuntime;

/// The clock, timers, randomness and task spawning an engine runs on.
pub trait Runtime {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Completes after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()>;
    /// A number in `[0, 1)` (backoff jitter).
    fn random(&self) -> f64;
    /// Runs `task` in the background on this thread.
    fn spawn(&self, task: LocalBoxFuture<'static, ()>);
}
