//! The `Advertiser` and `AdvertisingStorage` classes exported to JS (feature `p2p`): announce
//! every stored block on the DHT in the background, and keep announcing it.

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;

use super::convert::{
    key_from_js, known_fields, option_field, set_field, string_from_js, whole_number_field,
};
use super::error::{js, to_js_error, JsResult};
use super::p2p::JsP2pNode;
use super::promise::promise;
use super::provider::{provider_from_js, AnyProvider, Registered};
use super::provider_class::provider_methods;
use crate::error::Result;
use crate::p2p::advertiser::{
    Advertiser, AdvertiserConfig, BrowserAdvertiser, IdbAdvertStore, KeyStatus,
    DEFAULT_DATABASE_NAME,
};
use crate::runtime::BrowserRuntime;
use crate::storage::AdvertisingStorage;

#[wasm_bindgen(typescript_custom_section)]
const TS_ADVERTISER: &'static str = r#"
/** Options of `new Advertiser(node, options)`. */
export interface AdvertiserOptions {
  /** Most announcements in flight at once (1 to 1000, default 10). */
  maxConcurrent?: number;
  /** Re-announce every key this long after its last announcement (1000 ms to 7 days,
   *  default 1800000 = 30 min). Keep it below the DHT's provider record TTL. */
  readvertiseIntervalMs?: number;
  /** IndexedDB database keeping the schedule across reloads (default "casweb-advertiser"). */
  databaseName?: string;
}

/** Where a key stands (`advertiser.status(key)`); times in ms since the epoch. */
export type AdvertiseStatus =
  | { state: "queued" }
  | { state: "in-flight" }
  | { state: "announced"; announcedAt: number; nextAt: number }
  | { state: "failed"; error: CaswebError; failures: number; retryAt: number; announcedAt?: number };

/** Counters and gauges of an Advertiser. */
export interface AdvertiserMetrics {
  /** Keys known (announced or not). */
  tracked: number;
  /** Keys announced at least once. */
  advertised: number;
  /** Keys waiting for their first announcement. */
  queued: number;
  /** Re-announcements and retries due now, not yet started. */
  due: number;
  inFlight: number;
  /** Successful announcements per second over the last 10 s. */
  announcedPerSecond: number;
  announcedTotal: number;
  /** Failed attempts (pauses for lack of peers not counted). */
  failuresTotal: number;
  /** Keys whose last attempt failed (retried with backoff). */
  failing: number;
  /** True while no peer is connected: announcing waits, then resumes by itself. */
  paused: boolean;
}
"#;

/// Longest re-announce interval accepted (7 days).
const MAX_INTERVAL_MS: u64 = 7 * 24 * 3600 * 1000;

fn config(options: &JsValue) -> Result<(AdvertiserConfig, String)> {
    known_fields(
        options,
        "Advertiser",
        &["maxConcurrent", "readvertiseIntervalMs", "databaseName"],
    )?;
    let mut config = AdvertiserConfig::default();
    if let Some(n) = whole_number_field(options, "maxConcurrent", 1, 1000)? {
        config.schedule.max_concurrent = n as usize;
    }
    if let Some(ms) = whole_number_field(options, "readvertiseIntervalMs", 1000, MAX_INTERVAL_MS)? {
        config.schedule.readvertise_interval_ms = ms;
    }
    let name = match option_field(options, "databaseName")? {
        Some(value) => string_from_js(&value, "databaseName")?,
        None => DEFAULT_DATABASE_NAME.to_owned(),
    };
    Ok((config, name))
}

fn status_to_js(status: &KeyStatus) -> JsValue {
    let object = Object::new();
    let set = |name: &str, value: JsValue| set_field(&object, name, &value);
    match status {
        KeyStatus::Queued => set("state", "queued".into()),
        KeyStatus::InFlight => set("state", "in-flight".into()),
        KeyStatus::Announced { at_ms, next_ms } => {
            set("state", "announced".into());
            set("announcedAt", (*at_ms as f64).into());
            set("nextAt", (*next_ms as f64).into());
        }
        KeyStatus::Failed {
            error,
            failures,
            retry_ms,
            announced_ms,
        } => {
            set("state", "failed".into());
            set("error", to_js_error(error.clone()));
            set("failures", (*failures).into());
            set("retryAt", (*retry_ms as f64).into());
            if let Some(at) = announced_ms {
                set("announcedAt", (*at as f64).into());
            }
        }
    }
    object.into()
}

#[wasm_bindgen]
extern "C" {
    /// The optional options of `new Advertiser(node, options)`.
    #[wasm_bindgen(typescript_type = "AdvertiserOptions")]
    pub type AdvertiserOptionsArg;
}

/// Announces stored blocks on the DHT through a `P2pNode`, at most `maxConcurrent` at a time,
/// and re-announces each every `readvertiseIntervalMs`; the schedule survives reloads.
#[wasm_bindgen(js_name = Advertiser)]
pub struct JsAdvertiser {
    advertiser: BrowserAdvertiser,
}

#[wasm_bindgen(js_class = Advertiser)]
impl JsAdvertiser {
    /// Creates a stopped Advertiser announcing through `node`. `invalid_argument` for bad
    /// options.
    #[wasm_bindgen(constructor)]
    pub fn new(node: &JsP2pNode, options: Option<AdvertiserOptionsArg>) -> JsResult<JsAdvertiser> {
        let (config, name) = js(config(&options.map_or(JsValue::UNDEFINED, JsValue::from)))?;
        let store = js(IdbAdvertStore::new(&name))?;
        Ok(JsAdvertiser {
            advertiser: Advertiser::new(node.node().clone(), store, BrowserRuntime, config),
        })
    }

    /// Loads the persisted schedule (first start) and starts announcing: keys never announced
    /// first, then those due, the rest when due. `already_running` if started.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn start(&self) -> Promise {
        let advertiser = self.advertiser.clone();
        promise(async move {
            js(advertiser.start().await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops taking new announcements, waits for those in flight, saves the schedule, then
    /// resolves. `not_running` if not running.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn stop(&self) -> Promise {
        let advertiser = self.advertiser.clone();
        promise(async move {
            js(advertiser.stop().await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// True between `start()` and `stop()`.
    #[wasm_bindgen(getter)]
    pub fn running(&self) -> bool {
        self.advertiser.is_running()
    }

    /// Queues `key` (ahead of periodic refreshes); false if it is already queued, in flight or
    /// announced. Throws `invalid_key`, or `channel_send_failed` if the task is gone.
    pub fn advertise(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> JsResult<bool> {
        let key = js(key_from_js(&key))?;
        js(self.advertiser.advertise(key))
    }

    /// Keys announced successfully at least once.
    #[wasm_bindgen(js_name = advertisedCount)]
    pub fn advertised_count(&self) -> usize {
        self.advertiser.advertised_count()
    }

    /// Whether `key` has been announced successfully.
    #[wasm_bindgen(js_name = isAdvertised)]
    pub fn is_advertised(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> JsResult<bool> {
        Ok(self.advertiser.is_advertised(js(key_from_js(&key))?))
    }

    /// Where `key` stands, or `null` if it is not tracked.
    #[wasm_bindgen(unchecked_return_type = "AdvertiseStatus | null")]
    pub fn status(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> JsResult<JsValue> {
        let key = js(key_from_js(&key))?;
        Ok(self
            .advertiser
            .status(key)
            .map_or(JsValue::NULL, |s| status_to_js(&s)))
    }

    /// Queue depth, in flight, announcements per second, failures.
    #[wasm_bindgen(unchecked_return_type = "AdvertiserMetrics")]
    pub fn metrics(&self) -> JsResult<JsValue> {
        serde_wasm_bindgen::to_value(&self.advertiser.metrics()).map_err(JsValue::from)
    }
}

/// A storage that queues every stored block on an Advertiser: e.g.
/// `new CachedStorage(new AdvertisingStorage(idb, advertiser), remote)`.
#[wasm_bindgen(js_name = AdvertisingStorage)]
pub struct JsAdvertisingStorage {
    registered: Registered,
}

#[wasm_bindgen(js_class = AdvertisingStorage)]
impl JsAdvertisingStorage {
    /// `inner`: any casweb storage or object with `get` and `put`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] inner: JsValue,
        advertiser: &JsAdvertiser,
    ) -> JsResult<JsAdvertisingStorage> {
        let inner = js(provider_from_js(&inner, "inner"))?;
        let storage = AdvertisingStorage::new(inner, advertiser.advertiser.clone());
        Ok(JsAdvertisingStorage {
            registered: Registered::new(AnyProvider::new(storage)),
        })
    }
}

provider_methods!(JsAdvertisingStorage, "AdvertisingStorage");
