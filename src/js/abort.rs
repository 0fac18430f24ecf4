//! The `{ signal }` option of long calls: an `AbortSignal` raced against the call's future.
//!
//! When the signal fires, the call's future is dropped (a `fetch` in flight is aborted with it,
//! a store stops between puts, a reader stops between nodes) and the call rejects with code
//! `aborted`. Dropping is safe everywhere casweb takes a signal: no store is left holding a
//! parent without its children, and nothing pending is forgotten.

use std::future::Future;

use futures::channel::oneshot;
use futures::future::{self, Either};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use super::convert::{known_fields, option_field, type_name};
use crate::error::{Error, Result};

#[wasm_bindgen(typescript_custom_section)]
const TS_ABORT: &'static str = r#"
/** The options of a call that may take long. */
export interface CallOptions {
  /** Aborts the call: it rejects with code "aborted" and leaves every store consistent. */
  signal?: AbortSignal;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The optional options argument of a call, typed `CallOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "CallOptions")]
    pub type CallOptionsArg;
}

/// The signal of a `CallOptions` argument (which may hold nothing else).
pub fn call_signal(options: Option<CallOptionsArg>) -> Result<Option<AbortSignal>> {
    let options = options.map_or(JsValue::UNDEFINED, Into::into);
    known_fields(&options, "call", &["signal"])?;
    signal_option(&options)
}

/// The `signal` field of an options object: an `AbortSignal`, or none.
pub fn signal_option(options: &JsValue) -> Result<Option<AbortSignal>> {
    match option_field(options, "signal")? {
        None => Ok(None),
        Some(value) => value.dyn_into::<AbortSignal>().map(Some).map_err(|value| {
            Error::InvalidArgument(format!(
                "signal must be an AbortSignal, got {}",
                type_name(&value)
            ))
        }),
    }
}

/// The `aborted` error for `signal`, with its reason when it has one.
fn aborted(signal: &AbortSignal) -> Error {
    let reason = js_sys::Reflect::get(signal, &"reason".into()).unwrap_or(JsValue::UNDEFINED);
    let why = reason
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| reason.as_string())
        .unwrap_or_else(|| "the signal was aborted".into());
    Error::Aborted(why)
}

/// Runs `work` until it completes or `signal` fires, whichever comes first.
pub async fn abortable<T>(
    signal: Option<&AbortSignal>,
    work: impl Future<Output = Result<T>>,
) -> Result<T> {
    let Some(signal) = signal else {
        return work.await;
    };
    if signal.aborted() {
        return Err(aborted(signal));
    }
    let (fired, on_fire) = oneshot::channel::<()>();
    let _listening = Listening::new(signal, fired);
    match future::select(std::pin::pin!(work), on_fire).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(aborted(signal)),
    }
}

/// The `abort` listener, removed when dropped (also when the caller drops the call's future:
/// the signal must never call a freed closure).
struct Listening {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl Listening {
    fn new(signal: &AbortSignal, fired: oneshot::Sender<()>) -> Listening {
        let mut fired = Some(fired);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(fired) = fired.take() {
                let _ = fired.send(());
            }
        });
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        Listening {
            signal: signal.clone(),
            listener,
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}
