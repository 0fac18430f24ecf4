//! The one way an exported async call becomes a JS `Promise`, and what a Rust panic becomes in JS.
//!
//! casweb builds with `panic = "abort"` (the only choice on wasm32-unknown-unknown), so a panic
//! would surface as a bare `RuntimeError: unreachable` and leave the caller's promise pending for
//! ever. The panic hook installed at start-up turns it into a `CaswebError` with code `internal`
//! instead: it rejects the promise whose future was being polled, throws the same error to a
//! synchronous caller, and marks the module as broken, so later calls reject at once with that
//! code rather than run on state the panic left half-updated.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use super::error::{to_js_error, JsResult};
use crate::error::Error;

thread_local! {
    /// `reject` of the promise whose future is being polled right now (one at a time: wasm is
    /// single-threaded and polls never nest across promises).
    static POLLING: RefCell<Option<Function>> = const { RefCell::new(None) };
    /// The message of the first panic, once one happened.
    static PANICKED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `future` as a JS `Promise`: resolved with its value, rejected with its error, or
/// rejected with a `CaswebError` code `internal` if it panics.
pub fn promise<F>(future: F) -> Promise
where
    F: Future<Output = JsResult<JsValue>> + 'static,
{
    if let Some(error) = broken_error() {
        return Promise::reject(&error);
    }
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let (resolve, reject) = settle.expect("the Promise executor runs synchronously");
    let guarded = RejectOnPanic {
        future: Box::pin(future),
        reject: reject.clone(),
    };
    wasm_bindgen_futures::spawn_local(async move {
        let _ = match guarded.await {
            Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
            Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
        };
    });
    promise
}

/// A future that makes its promise's `reject` findable by the panic hook while it is polled.
struct RejectOnPanic<F> {
    future: Pin<Box<F>>,
    reject: Function,
}

impl<F: Future> Future for RejectOnPanic<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let previous = POLLING.with(|p| p.replace(Some(self.reject.clone())));
        let poll = self.future.as_mut().poll(cx);
        POLLING.with(|p| *p.borrow_mut() = previous);
        poll
    }
}

/// Installs the panic hook (done at module start).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(on_panic));
}

fn on_panic(info: &std::panic::PanicHookInfo<'_>) {
    let message = info.to_string();
    PANICKED.with(|p| {
        p.borrow_mut()
            .get_or_insert_with(|| message.clone())
            .clone()
    });
    let error = to_js_error(Error::Internal(message));
    web_sys::console::error_1(&error);
    if let Some(reject) = POLLING.with(|p| p.borrow_mut().take()) {
        let _ = reject.call1(&JsValue::UNDEFINED, &error);
    }
    // Unwinds out of wasm as a JS exception: a synchronous caller catches the CaswebError; for a
    // promise it ends the task, whose promise was just rejected.
    wasm_bindgen::throw_val(error);
}

/// After a panic: the error every later call rejects with.
pub fn broken_error() -> Option<JsValue> {
    PANICKED.with(|p| {
        p.borrow().as_ref().map(|first| {
            to_js_error(Error::Internal(format!(
                "casweb stopped after an earlier panic ({first}); reload the page"
            )))
        })
    })
}
