//! One HTTP request through the global `fetch` (a page or a worker), with a timeout.
//!
//! Failures are typed: no answer at all (connection refused, reset, CORS, offline) is
//! [`Error::Network`]; no complete answer within the timeout is [`Error::Timeout`] (the request
//! is aborted with an `AbortController`); a non-2xx answer is [`Error::Http`] with the code from
//! the server's JSON error body. The timeout covers the whole exchange, the answer's body
//! included. Dropping the future aborts the request.

use std::cell::Cell;
use std::rc::Rc;

use gloo_timers::callback::Timeout;
use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Blob, BlobPropertyBag, Headers, Request, RequestInit, Response};

use super::wire;
use crate::error::{Error, Result};

/// A request body.
pub enum Body {
    None,
    /// Sent as `application/octet-stream`, handed to `fetch` as a `Blob` (see [`binary_body`]).
    Binary(Vec<u8>),
    /// Sent as `application/json`.
    Json(String),
}

/// A successful (2xx) answer.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Aborts the request when dropped before [`AbortGuard::disarm`] (the caller gave up).
struct AbortGuard(Option<AbortController>);

impl AbortGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(controller) = self.0.take() {
            controller.abort();
        }
    }
}

/// A short description of a thrown JS value (a `TypeError`, a `DOMException`, ...).
fn describe(value: &JsValue) -> String {
    let field = |name: &str| {
        js_sys::Reflect::get(value, &name.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    match (field("name"), field("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => value.as_string().unwrap_or_else(|| format!("{value:?}")),
    }
}

fn network(what: &str, value: &JsValue) -> Error {
    Error::Network(format!("{what}: {}", describe(value)))
}

/// The global `fetch`, called on the global object (`window` or a worker's `self`).
fn global_fetch(request: &Request) -> Result<Promise> {
    let global = js_sys::global();
    let fetch = js_sys::Reflect::get(&global, &"fetch".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .ok_or_else(|| Error::Network("this context has no fetch()".into()))?;
    let promise = fetch
        .call1(&global, request)
        .map_err(|e| network("fetch threw", &e))?;
    promise
        .dyn_into::<Promise>()
        .map_err(|_| Error::Network("fetch() did not return a promise".into()))
}

/// `bytes` as a `Blob`: Chromium uploads a `Blob` body about 3.4 times faster than the same
/// bytes as a `Uint8Array` (40 MiB in 4 MiB batches on loopback, measured in one run: 60 against
/// 18 MiB/s; BENCHMARKS.md, sync), and the `Blob` owns its copy, so the request no longer needs
/// the wasm memory it came from.
fn binary_body(bytes: &[u8]) -> std::result::Result<Blob, JsValue> {
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let parts = Array::of1(&Uint8Array::from(bytes));
    Blob::new_with_u8_array_sequence_and_options(&parts, &options)
}

fn build_request(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Body,
    controller: &AbortController,
) -> std::result::Result<Request, JsValue> {
    let headers = Headers::new()?;
    if let Some(token) = token {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    let init = RequestInit::new();
    init.set_method(method);
    match body {
        Body::None => {}
        Body::Binary(bytes) => {
            headers.set("Content-Type", "application/octet-stream")?;
            init.set_body(&binary_body(&bytes)?.into());
        }
        Body::Json(text) => {
            headers.set("Content-Type", "application/json")?;
            init.set_body(&JsValue::from_str(&text));
        }
    }
    init.set_headers(&headers);
    init.set_signal(Some(&controller.signal()));
    Request::new_with_str_and_init(url, &init)
}

/// Sends one request; `token` goes in `Authorization: Bearer`. Resolves with a 2xx
/// answer's status and body, fails as described in the module documentation.
pub async fn send(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Body,
    timeout_ms: u32,
) -> Result<Reply> {
    let controller = AbortController::new().map_err(|e| network("no AbortController", &e))?;
    let request = build_request(method, url, token, body, &controller).map_err(|e| {
        Error::InvalidArgument(format!("cannot build a request to {url}: {}", describe(&e)))
    })?;
    let timed_out = Rc::new(Cell::new(false));
    let _timer = {
        let (controller, timed_out) = (controller.clone(), timed_out.clone());
        Timeout::new(timeout_ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    };
    let mut guard = AbortGuard(Some(controller));
    let fail = |what: &str, error: JsValue| {
        if timed_out.get() {
            Error::Timeout { ms: timeout_ms }
        } else {
            network(&format!("{method} {url}: {what}"), &error)
        }
    };
    let response: Response = JsFuture::from(global_fetch(&request)?)
        .await
        .map_err(|e| fail("no answer", e))?
        .dyn_into()
        .map_err(|_| Error::Network("fetch() resolved to something else than a Response".into()))?;
    // The body is read as a `Blob` first: for the answers of many-nodes gets in Chromium it was
    // 1.24x faster than `arrayBuffer()` in one run and equal in the next, never slower
    // (BENCHMARKS.md, measure 7b).
    let blob = response
        .blob()
        .map_err(|e| fail("the answer's body cannot be read", e))?;
    let blob: Blob = JsFuture::from(blob)
        .await
        .map_err(|e| fail("the answer's body was cut short", e))?
        .unchecked_into();
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| fail("the answer's body cannot be read", e))?;
    guard.disarm();
    let body = Uint8Array::new(&buffer).to_vec();
    let status = response.status();
    if (200..300).contains(&status) {
        Ok(Reply { status, body })
    } else {
        Err(wire::error_from_response(status, &body))
    }
}
