//! The `PeerStorage` class exported to JS (feature `p2p`): nodes fetched from peers through a
//! `P2pNode`, verified, as a read-only storage (its `put` rejects with `unsupported`).

use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::abort::{abortable, call_signal, CallOptionsArg};
use super::convert::{keys_from_js, known_fields, nodes_or_null, whole_number_field};
use super::error::{js, JsResult};
use super::p2p::JsP2pNode;
use super::promise::promise;
use super::provider::{AnyProvider, Registered};
use super::provider_class::provider_methods;
use crate::error::Result;
use crate::exchange::FetchOptions;
use crate::p2p::PeerStorage;

#[wasm_bindgen(typescript_custom_section)]
const TS_PEER_STORAGE: &'static str = r#"
/** Options of `new PeerStorage(node, options)`. */
export interface PeerStorageOptions {
  /** Longest one get (or one tick's gets) takes, lookup included, in ms (1 to 600000,
   *  default 20000); what no provider gave by then is null. */
  timeoutMs?: number;
  /** Longest one request waits for a provider's answer, in ms (1 to 600000, default 10000): a
   *  slower provider is dropped and the next one asked. */
  requestTimeoutMs?: number;
  /** Most providers one DHT lookup returns (1 to 100, default 5). */
  providers?: number;
}

/** What a PeerStorage did so far. */
export interface PeerStorageStats {
  /** DHT lookups made. */
  lookups: number;
  /** Block requests sent to providers. */
  requests: number;
  /** Nodes received and verified. */
  nodes: number;
  /** Nodes received that did not hash to their key (their provider was dropped). */
  hashMismatches: number;
  /** Providers given up on: a liar, a refusal, a failure, a timeout. */
  droppedProviders: number;
}

/** A provider a PeerStorage gave up on, and why (the error its request failed with). */
export interface DroppedProvider {
  peerId: string;
  /** The error's code: e.g. `timeout`, `no_route`, `peer_refused`, `hash_mismatch`, `network`. */
  code: string;
  message: string;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The optional options of `new PeerStorage(node, options)`.
    #[wasm_bindgen(typescript_type = "PeerStorageOptions")]
    pub type PeerStorageOptionsArg;
}

fn fetch_options(options: &JsValue) -> Result<FetchOptions> {
    known_fields(
        options,
        "PeerStorage",
        &["timeoutMs", "requestTimeoutMs", "providers"],
    )?;
    let defaults = FetchOptions::default();
    Ok(FetchOptions {
        timeout_ms: whole_number_field(options, "timeoutMs", 1, 600_000)?
            .map_or(defaults.timeout_ms, |ms| ms as u32),
        request_timeout_ms: whole_number_field(options, "requestTimeoutMs", 1, 600_000)?
            .map_or(defaults.request_timeout_ms, |ms| ms as u32),
        providers: whole_number_field(options, "providers", 1, 100)?
            .map_or(defaults.providers, |n| n as usize),
        ..defaults
    })
}

/// Nodes fetched from peers: `get` finds providers on the DHT, asks them over the block
/// exchange and verifies every node against its key (a provider sending other bytes is dropped
/// and the next one asked; `hash_mismatch` if no honest one had it; one unreachable, slow or
/// busy is asked again after a pause and a new lookup, up to three lookups); `null` if no
/// provider gave it within `timeoutMs` (`droppedProviders()` says why each was given up on). The
/// gets of one tick go to one provider in one request. `put` rejects
/// with `unsupported`: use it as a remote, e.g. `new CachedStorage(idb, peers)`.
#[wasm_bindgen(js_name = PeerStorage)]
pub struct JsPeerStorage {
    storage: PeerStorage,
    registered: Registered,
}

#[wasm_bindgen(js_class = PeerStorage)]
impl JsPeerStorage {
    /// Reads from the peers `node` finds. `invalid_argument` for bad options.
    #[wasm_bindgen(constructor)]
    pub fn new(
        node: &JsP2pNode,
        options: Option<PeerStorageOptionsArg>,
    ) -> JsResult<JsPeerStorage> {
        let options = js(fetch_options(
            &options.map_or(JsValue::UNDEFINED, JsValue::from),
        ))?;
        let storage = PeerStorage::new(node.node().clone(), options);
        Ok(JsPeerStorage {
            registered: Registered::new(AnyProvider::new(storage.clone())),
            storage,
        })
    }

    /// Per key, in order: its verified bytes or `null`. Rejects with `hash_mismatch` if the only
    /// bytes offered for one of them were not its own.
    #[wasm_bindgen(js_name = getMany, unchecked_return_type = "Promise<(Uint8Array | null)[]>")]
    pub fn get_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] keys: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let keys = js(keys_from_js(&keys))?;
            let signal = js(call_signal(options))?;
            let answers =
                js(abortable(signal.as_ref(), async { Ok(storage.get_many(&keys).await) }).await)?;
            let values = js(answers.into_iter().collect::<Result<Vec<_>>>())?;
            Ok(nodes_or_null(&values))
        })
    }

    /// Lookups, requests, verified nodes, hash mismatches and dropped providers so far.
    #[wasm_bindgen(unchecked_return_type = "PeerStorageStats")]
    pub fn stats(&self) -> JsResult<JsValue> {
        serde_wasm_bindgen::to_value(&self.storage.stats()).map_err(JsValue::from)
    }

    /// The latest providers given up on (at most 16), oldest first: who, and the error their
    /// request failed with.
    #[wasm_bindgen(js_name = droppedProviders, unchecked_return_type = "DroppedProvider[]")]
    pub fn dropped_providers(&self) -> JsResult<JsValue> {
        let dropped: Vec<DroppedProviderJs> = self
            .storage
            .dropped_providers()
            .into_iter()
            .map(|d| DroppedProviderJs {
                code: d.reason.code(),
                message: d.reason.to_string(),
                peer_id: d.peer_id,
            })
            .collect();
        serde_wasm_bindgen::to_value(&dropped).map_err(JsValue::from)
    }
}

/// A `DroppedProvider` as JS sees it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DroppedProviderJs {
    peer_id: String,
    code: &'static str,
    message: String,
}

provider_methods!(JsPeerStorage, "PeerStorage");
