//! Providers crossing the JS boundary, in both directions.
//!
//! - [`AnyProvider`]: a type-erased, shareable `StorageProvider` that the exported classes
//!   wrap, so a `CachedStorage` can be built from any mix of them.
//! - [`JsObjectProvider`]: any JS object with `get(key)` and `put(key, bytes)` methods used as
//!   a provider (a cache or a remote written in JS).
//! - [`provider_from_js`]: resolves a JS argument to one of those. Instances of this library's
//!   classes are recognised through a registry keyed by a handle they expose, so composing them
//!   stays in Rust instead of bouncing through JS (within one wasm module; see
//!   [`HANDLE_PROPERTY`]).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use futures::future::LocalBoxFuture;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::convert::{thrown_message, type_name};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::storage::StorageProvider;

/// Name of the getter through which exported classes expose their registry handle: one name per
/// wasm module (the storage module and the P2P module have a registry each), so an instance of
/// the other module is not taken for a freed one of this module but used through its get and put.
#[cfg(feature = "storage-api")]
pub const HANDLE_PROPERTY: &str = "__caswebHandle";
#[cfg(not(feature = "storage-api"))]
pub const HANDLE_PROPERTY: &str = "__caswebP2pHandle";

/// Object-safe twin of [`StorageProvider`] (whose `async fn`s cannot be called through `dyn`).
trait DynProvider {
    fn get_boxed(&self, key: Key) -> LocalBoxFuture<'_, Result<Option<Bytes>>>;
    fn put_boxed(&self, key: Key, bytes: Bytes) -> LocalBoxFuture<'_, Result<()>>;
}

impl<T: StorageProvider> DynProvider for T {
    fn get_boxed(&self, key: Key) -> LocalBoxFuture<'_, Result<Option<Bytes>>> {
        Box::pin(self.get(key))
    }
    fn put_boxed(&self, key: Key, bytes: Bytes) -> LocalBoxFuture<'_, Result<()>> {
        Box::pin(self.put(key, bytes))
    }
}

/// A shared, type-erased provider.
#[derive(Clone)]
pub struct AnyProvider(Rc<dyn DynProvider>);

impl AnyProvider {
    pub fn new<T: StorageProvider + 'static>(provider: T) -> AnyProvider {
        AnyProvider(Rc::new(provider))
    }
}

impl StorageProvider for AnyProvider {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.0.get_boxed(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.0.put_boxed(key, bytes).await
    }
}

thread_local! {
    static REGISTRY: RefCell<HashMap<u32, AnyProvider>> = RefCell::new(HashMap::new());
    static NEXT_HANDLE: Cell<u32> = const { Cell::new(1) };
}

/// A provider owned by an exported class, findable from its JS object until the class is freed.
pub struct Registered {
    handle: u32,
    provider: AnyProvider,
}

impl Registered {
    pub fn new(provider: AnyProvider) -> Registered {
        let handle = NEXT_HANDLE.with(|next| {
            let handle = next.get();
            next.set(handle.wrapping_add(1).max(1));
            handle
        });
        REGISTRY.with(|r| r.borrow_mut().insert(handle, provider.clone()));
        Registered { handle, provider }
    }

    pub fn handle(&self) -> u32 {
        self.handle
    }

    pub fn provider(&self) -> &AnyProvider {
        &self.provider
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        REGISTRY.with(|r| r.borrow_mut().remove(&self.handle));
    }
}

/// Resolves a JS argument to a provider: one of this library's storages, or any object with
/// `get` and `put` methods.
pub fn provider_from_js(value: &JsValue, role: &str) -> Result<AnyProvider> {
    if !value.is_object() {
        return Err(Error::InvalidArgument(format!(
            "{role} must be a storage provider (an object with get and put), got {}",
            type_name(value)
        )));
    }
    // The handle getter of a casweb instance whose free() was called throws.
    let freed =
        || Error::InvalidArgument(format!("{role} was already freed (its free() was called)"));
    let handle = js_sys::Reflect::get(value, &HANDLE_PROPERTY.into()).map_err(|_| freed())?;
    if let Some(handle) = handle.as_f64() {
        return REGISTRY
            .with(|r| r.borrow().get(&(handle as u32)).cloned())
            .ok_or_else(freed);
    }
    Ok(AnyProvider::new(JsObjectProvider::new(value, role)?))
}

/// A JS object with `get(key: string): Promise<Uint8Array | null | undefined>` and
/// `put(key: string, bytes: Uint8Array): Promise<void>` (plain return values work too).
pub struct JsObjectProvider {
    object: JsValue,
    get: Function,
    put: Function,
}

impl JsObjectProvider {
    pub fn new(object: &JsValue, role: &str) -> Result<JsObjectProvider> {
        let method = |name: &str| {
            js_sys::Reflect::get(object, &name.into())
                .ok()
                .and_then(|m| m.dyn_into::<Function>().ok())
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "{role} must have a {name}() method (a storage provider has get and put)"
                    ))
                })
        };
        Ok(JsObjectProvider {
            object: object.clone(),
            get: method("get")?,
            put: method("put")?,
        })
    }
}

/// Awaits a value that may be a promise; a throw or rejection becomes a provider error.
pub(super) async fn settle(
    result: std::result::Result<JsValue, JsValue>,
    call: &str,
) -> Result<JsValue> {
    let value = result.map_err(|e| thrown(&e, call))?;
    JsFuture::from(Promise::resolve(&value))
        .await
        .map_err(|e| thrown(&e, call))
}

/// What a provider's throw or rejection means to casweb. A `CaswebError` (e.g. from a casweb
/// storage the object wraps) keeps its meaning where it changes behaviour: `network_error`,
/// `http_error` (with its status, so 5xx stay retryable), `quota_exceeded`, `unavailable` and
/// `closed` come back as themselves; any other throw is `provider_error`, with the thrown code
/// in the message.
fn thrown(error: &JsValue, call: &str) -> Error {
    let message = thrown_message(error);
    let field = |name: &str| js_sys::Reflect::get(error, &name.into()).ok();
    let is_casweb = field("name").and_then(|n| n.as_string()).as_deref() == Some("CaswebError");
    let code = field("code").and_then(|c| c.as_string());
    match (is_casweb, code.as_deref()) {
        (true, Some("network_error")) => Error::Network(format!("{call}: {message}")),
        (true, Some("quota_exceeded")) => Error::QuotaExceeded(format!("{call}: {message}")),
        (true, Some("unavailable")) => Error::Unavailable(format!("{call}: {message}")),
        (true, Some("closed")) => Error::Closed,
        (true, Some("http_error")) => Error::Http {
            status: field("status").and_then(|s| s.as_f64()).unwrap_or(0.0) as u16,
            code: field("serverCode")
                .and_then(|c| c.as_string())
                .unwrap_or_default(),
            message: format!("{call}: {message}"),
        },
        (true, Some(code)) => Error::Provider(format!("{call} failed: {code}: {message}")),
        _ => Error::Provider(format!("{call} failed: {message}")),
    }
}

impl StorageProvider for JsObjectProvider {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let call = format!("get({key})");
        let value = settle(self.get.call1(&self.object, &key.to_string().into()), &call).await?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        let array = value.dyn_into::<Uint8Array>().map_err(|value| {
            Error::Provider(format!(
                "{call} returned {}, expected Uint8Array, null or undefined",
                type_name(&value)
            ))
        })?;
        Ok(Some(Bytes::from(array.to_vec())))
    }

    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        put_through(&self.put, &self.object, key, &bytes, &format!("put({key})")).await
    }
}

/// Calls a JS `put(key, bytes)` method of `object` and awaits it; `call` names it in errors.
pub(super) async fn put_through(
    put: &Function,
    object: &JsValue,
    key: Key,
    bytes: &[u8],
    call: &str,
) -> Result<()> {
    let array = Uint8Array::from(bytes);
    settle(put.call2(object, &key.to_string().into(), &array), call)
        .await
        .map(|_| ())
}
