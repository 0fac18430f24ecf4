//! The Advertiser in the browser: the page's `P2pNode` announces, `Date.now()` and
//! `setTimeout` keep time, `spawn_local` runs the task, IndexedDB keeps the schedule.

use futures::future::LocalBoxFuture;
use futures::FutureExt as _;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen_futures::spawn_local;

use super::{Advertiser, Discovery, IdbAdvertStore, Runtime};
use crate::error::Result;
use crate::key::Key;
use crate::p2p::P2pNode;

/// The Advertiser the JS class wraps.
pub type BrowserAdvertiser = Advertiser<P2pNode, IdbAdvertStore, BrowserRuntime>;

impl Discovery for P2pNode {
    async fn provide(&self, key: Key) -> Result<()> {
        self.start_provide(&key).await
    }

    async fn has_peers(&self) -> bool {
        self.connected_peers()
            .await
            .is_ok_and(|peers| !peers.is_empty())
    }
}

/// The page's clock, timers and event loop.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserRuntime;

impl Runtime for BrowserRuntime {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'static, ()> {
        // setTimeout takes at most 2^31 - 1 ms; the task recomputes its wait on waking.
        TimeoutFuture::new(ms.min(i32::MAX as u64) as u32).boxed_local()
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn spawn(&self, task: LocalBoxFuture<'static, ()>) {
        spawn_local(task);
    }
}
