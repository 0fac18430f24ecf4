//! The origin's storage as the browser accounts for it (`navigator.storage`): how much it uses
//! of its quota, and whether its data is persistent (kept under storage pressure) or
//! best-effort (the browser may clear it, IndexedDB included, without asking).

use js_sys::{Function, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::indexeddb::IndexedDbStorage;
use crate::error::{Error, Result};

/// What `navigator.storage.estimate()` says about the whole origin (every database, cache and
/// file of this site, not one store).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageEstimate {
    /// Bytes the origin uses (an estimate: browsers round and pad it).
    pub usage: f64,
    /// Bytes the origin may use before writes fail with `quota_exceeded`.
    pub quota: f64,
}

/// Calls `navigator.storage[method]()` and awaits its promise.
async fn storage_manager_call(method: &str) -> Result<JsValue> {
    let unavailable = || {
        Error::Unavailable(format!(
            "navigator.storage.{method}() does not exist in this context"
        ))
    };
    let manager = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"storage".into()))
        .ok()
        .filter(|manager| manager.is_object())
        .ok_or_else(unavailable)?;
    let function: Function = Reflect::get(&manager, &method.into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(unavailable)?;
    let promise: Promise = function
        .call0(&manager)
        .map_err(|e| Error::Unavailable(message(&e)))?
        .dyn_into()
        .map_err(|_| unavailable())?;
    JsFuture::from(promise)
        .await
        .map_err(|e| Error::Unavailable(message(&e)))
}

fn message(error: &JsValue) -> String {
    Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}

impl IndexedDbStorage {
    /// The origin's usage and quota, from `navigator.storage.estimate()` (`unavailable` where it
    /// does not exist).
    pub async fn estimate() -> Result<StorageEstimate> {
        let estimate = storage_manager_call("estimate").await?;
        let number = |name: &str| {
            Reflect::get(&estimate, &name.into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
        };
        Ok(StorageEstimate {
            usage: number("usage"),
            quota: number("quota"),
        })
    }

    /// Asks the browser to make this origin's storage persistent: true if it is (now or
    /// already), false if the browser said no (Chromium decides from site engagement, an
    /// installed app or granted notifications; Firefox asks the user). `unavailable` where
    /// `navigator.storage.persist` does not exist (workers, Node).
    pub async fn persist() -> Result<bool> {
        Ok(storage_manager_call("persist").await?.is_truthy())
    }

    /// True if this origin's storage is persistent already (`navigator.storage.persisted()`).
    pub async fn persisted() -> Result<bool> {
        Ok(storage_manager_call("persisted").await?.is_truthy())
    }
}
