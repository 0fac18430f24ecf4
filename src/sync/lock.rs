//! Cross-tab mutual exclusion of sync passes: a trait, [`NoLock`] for one engine alone, and
//! [`WebLock`] (wasm32) with the Web Locks API (`navigator.locks.request`).
//!
//! Several tabs of one origin may share a pending store; only one of them flushes at a time.
//! Where the API is missing (very old browsers) the work runs unlocked: a second flusher then
//! finds the nodes owned and skips them, so this is an optimisation, not a safety net.

use std::future::Future;

/// Runs a sync pass while no other engine on the same pending store runs one.
#[allow(async_fn_in_trait)]
pub trait FlushLock {
    /// Runs `work` while holding the lock (waiting for it if another holder has it).
    async fn with_lock<T>(&self, work: impl Future<Output = T>) -> T;
}

/// No other engine shares the pending store: passes run unlocked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLock;

impl FlushLock for NoLock {
    async fn with_lock<T>(&self, work: impl Future<Output = T>) -> T {
        work.await
    }
}

/// The exclusive Web Lock `name`, shared by every tab of the origin.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone)]
pub struct WebLock {
    pub name: String,
}

#[cfg(target_arch = "wasm32")]
impl FlushLock for WebLock {
    async fn with_lock<T>(&self, work: impl Future<Output = T>) -> T {
        web_lock::with_lock(&self.name, work).await
    }
}

#[cfg(target_arch = "wasm32")]
mod web_lock {
    use std::cell::RefCell;
    use std::future::Future;
    use std::rc::Rc;

    use futures::channel::oneshot;
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    fn lock_manager() -> Option<JsValue> {
        let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
        let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
        (!locks.is_undefined() && !locks.is_null()).then_some(locks)
    }

    /// Runs `work` while holding the exclusive lock `name` (waiting for it if another tab has it).
    pub async fn with_lock<T>(name: &str, work: impl Future<Output = T>) -> T {
        let Some(locks) = lock_manager() else {
            return work.await;
        };
        let Ok(request) =
            Reflect::get(&locks, &"request".into()).and_then(|f| f.dyn_into::<Function>())
        else {
            return work.await;
        };
        let (acquired_tx, acquired_rx) = oneshot::channel::<()>();
        let release: Rc<RefCell<Option<Function>>> = Rc::default();
        let held = {
            let release = release.clone();
            let mut acquired_tx = Some(acquired_tx);
            // The lock is held until the promise returned here settles.
            Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock: JsValue| {
                let release = release.clone();
                if let Some(tx) = acquired_tx.take() {
                    let _ = tx.send(());
                }
                Promise::new(&mut |resolve, _reject| {
                    *release.borrow_mut() = Some(resolve);
                })
            })
        };
        let requested = request.call2(&locks, &name.into(), held.as_ref().unchecked_ref());
        if requested.is_err() || acquired_rx.await.is_err() {
            return work.await;
        }
        let output = work.await;
        if let Some(resolve) = release.borrow_mut().take() {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
        drop(held);
        output
    }
}
