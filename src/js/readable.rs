//! A Rust stream of byte chunks as a JS `ReadableStream<Uint8Array>`, pulled on demand: the
//! Rust stream is polled only when the reader wants more (plus the one chunk the stream's
//! default strategy keeps queued), so a slow consumer slows the producer.
//!
//! A failure errors the JS stream with the `CaswebError`; `cancel()` (or `signal`) drops the
//! Rust stream, which stops its fetches.

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use futures::stream::{LocalBoxStream, StreamExt};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use super::abort::abortable;
use super::error::js;
use super::promise::promise;
use crate::error::{Error, Result};

type Chunks = Rc<RefCell<Option<LocalBoxStream<'static, Result<Bytes>>>>>;

/// Wraps `chunks` in a `ReadableStream`; `signal` aborts it (the next read rejects with
/// `aborted`).
pub fn readable_stream(
    chunks: LocalBoxStream<'static, Result<Bytes>>,
    signal: Option<AbortSignal>,
) -> Result<JsValue> {
    let state: Chunks = Rc::new(RefCell::new(Some(chunks)));
    let source = Object::new();

    let pulled = state.clone();
    let pull = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |controller: JsValue| {
        let state = pulled.clone();
        let signal = signal.clone();
        promise(async move {
            // Taken out while polled: a `cancel` meanwhile finds nothing left to drop, and
            // this pull drops the stream itself when it sees the end or an error.
            let Some(mut chunks) = state.borrow_mut().take() else {
                return Ok(JsValue::UNDEFINED);
            };
            let next = abortable(signal.as_ref(), async { Ok(chunks.next().await) }).await;
            match js(next.and_then(Option::transpose))? {
                Some(bytes) => {
                    call(&controller, "enqueue", &Uint8Array::from(&bytes[..]).into())?;
                    *state.borrow_mut() = Some(chunks);
                }
                None => {
                    call(&controller, "close", &JsValue::UNDEFINED)?;
                }
            }
            Ok(JsValue::UNDEFINED)
        })
    });
    let cancelled = state;
    let cancel = Closure::<dyn FnMut(JsValue)>::new(move |_reason: JsValue| {
        cancelled.borrow_mut().take();
    });
    set(&source, "pull", &pull.into_js_value())?;
    set(&source, "cancel", &cancel.into_js_value())?;

    let class = Reflect::get(&js_sys::global(), &"ReadableStream".into())
        .ok()
        .and_then(|c| c.dyn_into::<Function>().ok())
        .ok_or_else(|| Error::Unavailable("this context has no ReadableStream".into()))?;
    Reflect::construct(&class, &Array::of1(&source))
        .map_err(|e| Error::Unavailable(super::convert::thrown_message(&e)))
}

fn set(object: &Object, name: &str, value: &JsValue) -> Result<()> {
    Reflect::set(object, &name.into(), value)
        .map(|_| ())
        .map_err(|e| Error::Internal(super::convert::thrown_message(&e)))
}

fn call(object: &JsValue, name: &str, argument: &JsValue) -> std::result::Result<(), JsValue> {
    let function: Function = Reflect::get(object, &name.into())?.dyn_into()?;
    function.call1(object, argument).map(|_| ())
}
