//! The `HttpStorage` class exported to JS: a casweb server for one realm, usable as a storage
//! (`get`/`put`, e.g. the remote of a `CachedStorage`) and with the protocol's batch calls.

use bytes::Bytes;
use js_sys::{Array, Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::abort::{abortable, call_signal, CallOptionsArg};
use super::convert::{
    bytes_from_js, key_from_js, keys_from_js, keys_to_js, known_fields, list_from_js,
    nodes_or_null, option_field, set_field, string_from_js, thrown_message, type_name,
    whole_number_field,
};
use super::error::{js, JsResult};
use super::promise::promise;
use super::provider::{AnyProvider, Registered};
use super::provider_class::provider_methods;
use crate::error::{Error, Result};
use crate::http::{HttpConfig, HttpStorage, TokenSource};
use crate::key::Key;

#[wasm_bindgen(typescript_custom_section)]
const TS_HTTP: &'static str = r#"
/** Where and as whom an HttpStorage talks to a casweb server. */
export interface HttpStorageConfig {
  /** The server's base URL, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** The realm: 1 to 64 characters of A-Z a-z 0-9 _ -. */
  realm: string;
  /** An access token of the realm ("cwa1.…", minted by your backend for this session), or a
   *  realm token (base64 of 32 bytes: a backend's credential, never a page's). */
  token: string;
  /** How long one request may take, in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Called when the server refuses the token (401: expired, revoked, unknown): resolves with a
   *  new token (ask your backend), and the refused request is sent once more with it. Without
   *  it, or if it fails, the request rejects with code "unauthorized". */
  getToken?: () => string | Promise<string>;
}

/** The limits a server advertises at GET /api/info. */
export interface ServerLimits {
  /** Largest node, in bytes. */
  maxNodeSize: number;
  /** Most keys in one check request. */
  maxCheckKeys: number;
  /** Largest batch body, in bytes (4-byte length prefixes included). */
  maxBatchBytes: number;
  /** Most nodes in one batch request. */
  maxBatchNodes: number;
  /** Most claims in one claim-many request. */
  maxClaimBatch: number;
  /** Largest JSON request body, in bytes. */
  maxJsonBytes: number;
  /** Most keys in one many-nodes get request (0: the server has no such endpoint). */
  maxGetKeys: number;
  /** Most node bytes in one many-nodes get answer. */
  maxGetBytes: number;
}

/** A node to upload or claim. */
export interface NodeInput { key: string; bytes: Uint8Array; }

/** The outcome of one node of putMany/claimMany. */
export interface ItemResult {
  key: string;
  ok: boolean;
  /** When ok is false: code "rejected" (serverCode says why, e.g. "missing_nodes") or
   *  "hash_mismatch" (the bytes are not the key's; not sent). */
  error?: { code: CaswebErrorCode; serverCode?: string; message: string };
}

/** Where a realm stands with each key; every distinct key is in exactly one list. */
export interface CheckResult { missing: string[]; unowned: string[]; owned: string[]; }
"#;

fn config_from_js(value: &JsValue) -> Result<HttpConfig> {
    if !value.is_object() || value.is_array() {
        return Err(Error::InvalidArgument(format!(
            "HttpStorage needs a config object {{ baseUrl, realm, token, timeoutMs?, getToken? }}, \
             got {}",
            type_name(value)
        )));
    }
    let required = |name: &str| -> Result<String> {
        match option_field(value, name)? {
            Some(field) => string_from_js(&field, &format!("config.{name}")),
            None => Err(Error::InvalidArgument(format!(
                "config.{name} is required (a string)"
            ))),
        }
    };
    known_fields(
        value,
        "HttpStorage",
        &["baseUrl", "realm", "token", "timeoutMs", "getToken"],
    )?;
    let mut config = HttpConfig::new(required("baseUrl")?, required("realm")?, required("token")?);
    if let Some(ms) = whole_number_field(value, "timeoutMs", 1, u64::from(u32::MAX))? {
        config.timeout_ms = ms as u32;
    }
    if let Some(get_token) = option_field(value, "getToken")? {
        let function = get_token.dyn_into::<Function>().map_err(|other| {
            Error::InvalidArgument(format!(
                "config.getToken must be a function returning a token (or a promise of one), \
                 got {}",
                type_name(&other)
            ))
        })?;
        config.get_token = Some(token_source_from_js(function));
    }
    Ok(config)
}

/// Wraps a JS `getToken(): string | Promise<string>`; a throw, a rejection or a non-string is
/// the renewal's failure (the request then rejects with `unauthorized`).
fn token_source_from_js(function: Function) -> TokenSource {
    TokenSource::new(move || {
        let returned = function.call0(&JsValue::UNDEFINED);
        async move {
            let settled = match returned {
                Ok(value) => JsFuture::from(Promise::resolve(&value)).await,
                Err(error) => Err(error),
            };
            let value = settled.map_err(|e| Error::Provider(thrown_message(&e)))?;
            value.as_string().ok_or_else(|| {
                Error::Provider(format!("it returned {}, not a string", type_name(&value)))
            })
        }
    })
}

fn nodes_from_js(value: &JsValue) -> Result<Vec<(Key, Bytes)>> {
    list_from_js(value, "nodes")?
        .iter()
        .enumerate()
        .map(|(i, node)| {
            if !node.is_object() {
                return Err(Error::InvalidArgument(format!(
                    "nodes[{i}] must be an object {{ key, bytes }}, got {}",
                    type_name(&node)
                )));
            }
            let field = |name: &str| js_sys::Reflect::get(&node, &name.into()).unwrap_or_default();
            let key = Key::parse(&string_from_js(&field("key"), &format!("nodes[{i}].key"))?)?;
            let bytes = bytes_from_js(&field("bytes"), &format!("nodes[{i}].bytes"))?;
            Ok((key, bytes))
        })
        .collect()
}

/// `[{ key, ok, error?: { code, serverCode?, message } }]`.
fn item_results_to_js(nodes: &[(Key, Bytes)], results: Vec<Result<(), Error>>) -> JsValue {
    nodes
        .iter()
        .zip(results)
        .map(|((key, _), result)| {
            let item = Object::new();
            set_field(&item, "key", &key.to_string().into());
            set_field(&item, "ok", &result.is_ok().into());
            if let Err(error) = result {
                let detail = Object::new();
                set_field(&detail, "code", &error.code().into());
                let message = match &error {
                    Error::Rejected { code, message, .. } => {
                        set_field(&detail, "serverCode", &code.as_str().into());
                        message.clone()
                    }
                    other => other.to_string(),
                };
                set_field(&detail, "message", &message.into());
                set_field(&item, "error", &detail);
            }
            JsValue::from(item)
        })
        .collect::<Array>()
        .into()
}

/// How `putMany` and `claimMany` make the server own nodes.
#[derive(Clone, Copy)]
enum Upload {
    Put,
    Claim,
}

/// `putMany` / `claimMany`: nodes in, one `ItemResult` per node out.
fn items_promise(
    storage: &HttpStorage,
    upload: Upload,
    nodes: JsValue,
    options: Option<CallOptionsArg>,
) -> Promise {
    let storage = storage.clone();
    promise(async move {
        let nodes = js(nodes_from_js(&nodes))?;
        let signal = js(call_signal(options))?;
        let call = async {
            match upload {
                Upload::Put => storage.put_many(&nodes).await,
                Upload::Claim => storage.claim_many(&nodes).await,
            }
        };
        let results = js(abortable(signal.as_ref(), call).await)?;
        Ok(item_results_to_js(&nodes, results))
    })
}

/// A casweb server for one realm: `get`/`put` like every storage (`get` is `null` only when no
/// realm stored the node; the gets of one tick travel together), plus `info`, `getMany`,
/// `putMany`, `checkMany`, `claim` and `claimMany`.
#[wasm_bindgen(js_name = HttpStorage)]
pub struct JsHttpStorage {
    storage: HttpStorage,
    registered: Registered,
}

#[wasm_bindgen(js_class = HttpStorage)]
impl JsHttpStorage {
    /// Checks the config (throws `invalid_argument` naming the field); sends nothing.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "HttpStorageConfig")] config: JsValue,
    ) -> JsResult<JsHttpStorage> {
        let storage = js(config_from_js(&config).and_then(HttpStorage::new))?;
        Ok(JsHttpStorage {
            registered: Registered::new(AnyProvider::new(storage.clone())),
            storage,
        })
    }

    /// The server's limits (fetched once, then cached).
    #[wasm_bindgen(unchecked_return_type = "Promise<ServerLimits>")]
    pub fn info(&self, options: Option<CallOptionsArg>) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let signal = js(call_signal(options))?;
            let limits = js(abortable(signal.as_ref(), storage.info()).await)?;
            serde_wasm_bindgen::to_value(&limits).map_err(JsValue::from)
        })
    }

    /// Reads many nodes in as few requests as the server's limits allow: per key, in order,
    /// its bytes (checked against the key) or `null` if no realm stored it. Rejects with
    /// `http_error` (serverCode `not_owned`) if this realm does not own one of them.
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
            let values = js(abortable(signal.as_ref(), storage.get_many(&keys)).await)?;
            Ok(nodes_or_null(&values))
        })
    }

    /// Uploads nodes, children before parents; one result per node, in order.
    #[wasm_bindgen(js_name = putMany, unchecked_return_type = "Promise<ItemResult[]>")]
    pub fn put_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NodeInput[]")] nodes: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        items_promise(&self.storage, Upload::Put, nodes, options)
    }

    /// Where this realm stands with each key: `{ missing, unowned, owned }`.
    #[wasm_bindgen(js_name = checkMany, unchecked_return_type = "Promise<CheckResult>")]
    pub fn check_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string[]")] keys: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let keys = js(keys_from_js(&keys))?;
            let signal = js(call_signal(options))?;
            let result = js(abortable(signal.as_ref(), storage.check_many(&keys)).await)?;
            let object = Object::new();
            set_field(&object, "missing", &keys_to_js(&result.missing));
            set_field(&object, "unowned", &keys_to_js(&result.unowned));
            set_field(&object, "owned", &keys_to_js(&result.owned));
            Ok(object.into())
        })
    }

    /// Claims a stored node with a proof of possession of `bytes` (rejects with `http_error`,
    /// e.g. serverCode `invalid_pop`, `not_found`, `missing_nodes`).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn claim(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        let storage = self.storage.clone();
        promise(async move {
            let key = js(key_from_js(&key))?;
            let bytes = js(bytes_from_js(&bytes, "bytes"))?;
            let signal = js(call_signal(options))?;
            js(abortable(signal.as_ref(), storage.claim(key, &bytes)).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Claims many nodes, children before parents; one result per node, in order.
    #[wasm_bindgen(js_name = claimMany, unchecked_return_type = "Promise<ItemResult[]>")]
    pub fn claim_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NodeInput[]")] nodes: JsValue,
        options: Option<CallOptionsArg>,
    ) -> Promise {
        items_promise(&self.storage, Upload::Claim, nodes, options)
    }

    /// Replaces the token for the requests sent from now on (throws `invalid_argument` if it is
    /// not an access token of this realm or a realm token). Nodes a `BufferedHttpStorage` parked
    /// as `unauthorized` go again at its next `flush()`.
    #[wasm_bindgen(js_name = setToken)]
    pub fn set_token(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] token: JsValue,
    ) -> JsResult<()> {
        let token = js(string_from_js(&token, "token"))?;
        js(self.storage.set_token(&token))
    }

    /// HTTP requests sent so far (diagnostics).
    #[wasm_bindgen(getter = requestCount)]
    pub fn request_count(&self) -> f64 {
        self.storage.request_count() as f64
    }
}

impl JsHttpStorage {
    /// The Rust storage behind this object.
    pub fn storage(&self) -> &HttpStorage {
        &self.storage
    }
}

provider_methods!(JsHttpStorage, "HttpStorage");
