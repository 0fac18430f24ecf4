//! What `storeFile` accepts as a file's bytes, read as chunks with bounded memory:
//! `Uint8Array`, `ArrayBuffer`, `Blob` (a `File`), `ReadableStream<Uint8Array>` or
//! `AsyncIterable<Uint8Array>`.
//!
//! Nothing is read ahead: a chunk is pulled only when the previous one was taken, so a slow
//! store slows the reader (backpressure reaches a `Blob`'s or a stream's source). Arrays are
//! copied into wasm memory a slice at a time, not whole.

use bytes::Bytes;
use js_sys::{ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::convert::{thrown_message, type_name};
use crate::error::{Error, Result};

/// How much of an in-memory array is copied into wasm memory at a time.
const ARRAY_SLICE: u32 = 1024 * 1024;

enum Source {
    /// An array, copied a slice at a time from `offset`.
    Array { array: Uint8Array, offset: u32 },
    /// A `ReadableStreamDefaultReader` (of a stream or a `Blob`).
    Reader(Object),
    /// An async iterator.
    Iterator(Object),
}

/// A file's bytes from JS, as chunks.
pub struct ByteSource {
    source: Source,
    total: Option<u64>,
    done: bool,
}

fn method(object: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(object, &name.into())
        .ok()
        .and_then(|value| value.dyn_into::<Function>().ok())
}

/// `value instanceof globalThis[class]`, for classes web-sys is not built with (`Blob` and
/// `ReadableStream` also exist in Node and workers).
fn is_instance_of_global(value: &JsValue, class: &str) -> bool {
    let Some(ctor) = method(&js_sys::global(), class) else {
        return false;
    };
    // `instanceof` calls `ctor[Symbol.hasInstance](value)`.
    Reflect::get(&ctor, &js_sys::Symbol::has_instance().into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .and_then(|check| check.call1(&ctor, value).ok())
        .is_some_and(|answer| answer.is_truthy())
}

impl ByteSource {
    /// Reads `value` as a file's bytes; `invalid_argument` for anything else.
    pub fn from_js(value: &JsValue) -> Result<ByteSource> {
        let array = if let Some(array) = value.dyn_ref::<Uint8Array>() {
            Some(array.clone())
        } else {
            value
                .dyn_ref::<ArrayBuffer>()
                .map(|buffer| Uint8Array::new(buffer))
        };
        if let Some(array) = array {
            let total = Some(u64::from(array.length()));
            return Ok(ByteSource {
                source: Source::Array { array, offset: 0 },
                total,
                done: false,
            });
        }
        if is_instance_of_global(value, "Blob") {
            let size = Reflect::get(value, &"size".into())
                .ok()
                .and_then(|size| size.as_f64());
            let stream = call0(value, "stream")?;
            return Ok(ByteSource {
                source: Source::Reader(reader_of(&stream)?),
                total: size.map(|size| size as u64),
                done: false,
            });
        }
        if is_instance_of_global(value, "ReadableStream") {
            return Ok(ByteSource {
                source: Source::Reader(reader_of(value)?),
                total: None,
                done: false,
            });
        }
        let async_iterator = Reflect::get(value, &js_sys::Symbol::async_iterator().into())
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        if let Some(make) = async_iterator.filter(|_| value.is_object()) {
            let iterator = make
                .call0(value)
                .map_err(|e| Error::InvalidArgument(thrown_message(&e)))?;
            return Ok(ByteSource {
                source: Source::Iterator(iterator.unchecked_into()),
                total: None,
                done: false,
            });
        }
        Err(Error::InvalidArgument(format!(
            "data must be a Uint8Array, ArrayBuffer, Blob, File, ReadableStream or async \
             iterable of Uint8Array, got {}",
            type_name(value)
        )))
    }

    /// The length, when the source knows it (arrays, `Blob`s).
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// The next chunk, or `None` at the end. A chunk that is not a `Uint8Array`, or a stream
    /// that fails, is an error (`invalid_argument`, `provider_error`).
    pub async fn next(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        let chunk = match &mut self.source {
            Source::Array { array, offset } => {
                let end = array.length().min(offset.saturating_add(ARRAY_SLICE));
                if *offset >= end {
                    None
                } else {
                    let piece = array.subarray(*offset, end).to_vec();
                    *offset = end;
                    Some(Bytes::from(piece))
                }
            }
            Source::Reader(reader) => step(&call0(reader, "read")?).await?,
            Source::Iterator(iterator) => step(&call0(iterator, "next")?).await?,
        };
        if chunk.is_none() {
            self.done = true;
        }
        Ok(chunk)
    }

    /// Stops the source early (the store failed or was aborted): cancels a stream, returns an
    /// iterator. Best effort; errors are ignored.
    pub fn cancel(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let _ = match &self.source {
            Source::Array { .. } => Ok(JsValue::UNDEFINED),
            Source::Reader(reader) => call0(reader, "cancel"),
            Source::Iterator(iterator) => match method(iterator, "return") {
                Some(finish) => finish
                    .call0(iterator)
                    .map_err(|e| Error::InvalidArgument(thrown_message(&e))),
                None => Ok(JsValue::UNDEFINED),
            },
        };
    }
}

impl Drop for ByteSource {
    fn drop(&mut self) {
        self.cancel();
    }
}

fn call0(object: &JsValue, name: &str) -> Result<JsValue> {
    let function = method(object, name).ok_or_else(|| {
        Error::InvalidArgument(format!("{} has no {name}() method", type_name(object)))
    })?;
    function
        .call0(object)
        .map_err(|e| Error::Provider(format!("{name}() threw: {}", thrown_message(&e))))
}

fn reader_of(stream: &JsValue) -> Result<Object> {
    Ok(call0(stream, "getReader")?.unchecked_into())
}

/// Awaits one `{ done, value }` of a reader or an iterator.
async fn step(pending: &JsValue) -> Result<Option<Bytes>> {
    let promise = Promise::resolve(pending);
    let result = JsFuture::from(promise)
        .await
        .map_err(|e| Error::Provider(format!("reading the data failed: {}", thrown_message(&e))))?;
    let done = Reflect::get(&result, &"done".into())
        .map(|d| d.is_truthy())
        .unwrap_or(true);
    if done {
        return Ok(None);
    }
    let value = Reflect::get(&result, &"value".into()).unwrap_or(JsValue::UNDEFINED);
    match value.dyn_ref::<Uint8Array>() {
        Some(chunk) => Ok(Some(Bytes::from(chunk.to_vec()))),
        None => Err(Error::InvalidArgument(format!(
            "every chunk of the data must be a Uint8Array, got {}",
            type_name(&value)
        ))),
    }
}
