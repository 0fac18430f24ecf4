//! The `P2pNode` class exported to JS (feature `p2p`): join casweb's DHT from the page, announce
//! keys, stop, find providers, dial them, serve blocks to peers; connection events on an
//! `EventTarget`.

use js_sys::{Array, Object, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use web_sys::{CustomEvent, CustomEventInit, EventTarget};

use super::abort::{abortable, signal_option};
use super::convert::{
    array_from_js, key_from_js, known_fields, option_field, set_field, string_from_js, type_name,
    whole_number_field,
};
use super::error::{js, JsResult};
use super::promise::promise;
use super::provider::provider_from_js;
use crate::error::{Error, Result};
use crate::exchange::{ServeLimits, MAX_ANSWER_BYTES};
use crate::http::fetch::{self, Body};
use crate::p2p::config::{checked_timeout, DEFAULT_CONNECT_TIMEOUT_MS};
use crate::p2p::{
    BootstrapInfo, ConnectOptions, Identity, LookupOptions, NodeEvent, P2pNode, Provider,
    TransportKind,
};

#[wasm_bindgen(typescript_custom_section)]
const TS_P2P: &'static str = r#"
/** A transport a browser reaches the DHT with. */
export type P2pTransport = "webrtc-direct" | "websocket";

/** How P2pNode.connect joins the DHT: give `bootstrap` addresses, or a casweb `serverUrl`
 *  whose GET /api/p2p lists them. */
export interface P2pConnectOptions {
  /** Multiaddrs of the node to bootstrap from, each ending in /p2p/<peer id>. */
  bootstrap?: string[];
  /** A casweb server's base URL, e.g. "http://127.0.0.1:8080". */
  serverUrl?: string;
  /** Transports in order of preference (default ["webrtc-direct", "websocket"]); the first
   *  with a bootstrap address is used. WebRTC-direct is skipped where the context has no
   *  RTCPeerConnection (Web Workers); asking only for it there is `unsupported_transport`. */
  transports?: P2pTransport | P2pTransport[];
  /** Take a relay reservation so other peers can dial this one (default true; without it the
   *  node's provider records carry no address and nobody can reach it). */
  relay?: boolean;
  /** How long connecting may take, in ms (default 15000). */
  timeoutMs?: number;
  /** Complete WebSocket flushes at once (default true); false only to measure the difference. */
  promptWebSocketFlush?: boolean;
  /** The node's identity, from P2pNode.generateIdentity() (default: a fresh one each time).
   *  Keep it (e.g. in IndexedDB) and the peer id, and the records announced under it, survive
   *  a reload. It is a private key. Use it in one live node at a time: two tabs connected
   *  with the same identity compete for one relay reservation. */
  identity?: Uint8Array;
}

/** A provider found by getProviders. */
export interface P2pProvider {
  peerId: string;
  /** Dialable multiaddrs, each ending in /p2p/<peerId> (relayed ones contain /p2p-circuit). */
  addrs: string[];
}

/** Options of getProviders. */
export interface GetProvidersOptions {
  /** Stop once this many providers are known (1 to 1000, default 20). */
  limit?: number;
  /** Give up after this many ms (default 10000); with none found that is a `timeout` error. */
  timeoutMs?: number;
  /** Aborts the lookup: it rejects with code "aborted". */
  signal?: AbortSignal;
}

/** Options of dial. */
export interface DialOptions {
  /** Give up after this many ms (1 to 600000, default 15000). */
  timeoutMs?: number;
}

/** Options of `node.serve(storage, options)`: what serving may cost. */
export interface ServeOptions {
  /** Block requests answered at once from all peers (1 to 1024, default 16); more are refused
   *  as "busy". */
  maxConcurrent?: number;
  /** Block requests answered at once for one peer (1 to 1024, default 4). */
  maxConcurrentPerPeer?: number;
  /** Most node bytes in one answer (16 to 4194304, default 4194304); a larger node is not
   *  served. */
  maxAnswerBytes?: number;
}

/** Events dispatched on `node.events`: CustomEvents whose `detail` is shown here. */
export interface P2pEventMap {
  "peer:connect": CustomEvent<{ peerId: string }>;
  "peer:disconnect": CustomEvent<{ peerId: string }>;
  "address:confirmed": CustomEvent<{ addr: string }>;
  "address:expired": CustomEvent<{ addr: string }>;
}

export type P2pEventType = keyof P2pEventMap;

/** `node.events`: an EventTarget whose listeners get the typed events of P2pEventMap. */
export interface P2pEvents extends EventTarget {
  addEventListener<K extends P2pEventType>(type: K, listener: (event: P2pEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends P2pEventType>(type: K, listener: (event: P2pEventMap[K]) => void,
    options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions): void;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The optional options of `getProviders`.
    #[wasm_bindgen(typescript_type = "GetProvidersOptions")]
    pub type GetProvidersOptionsArg;
    /// The optional options of `dial`.
    #[wasm_bindgen(typescript_type = "DialOptions")]
    pub type DialOptionsArg;
    /// The optional options of `serve`.
    #[wasm_bindgen(typescript_type = "ServeOptions")]
    pub type ServeOptionsArg;
}

/// A libp2p node in this page, on casweb's DHT.
#[wasm_bindgen(js_name = P2pNode)]
pub struct JsP2pNode {
    node: P2pNode,
    events: EventTarget,
}

#[wasm_bindgen(js_class = P2pNode)]
impl JsP2pNode {
    /// Creates a node (with `options.identity`, or a fresh identity) and joins the DHT;
    /// resolves once other peers can reach it (relay reservation confirmed). Fails with `invalid_argument`,
    /// `invalid_multiaddr`, `unsupported_transport`, `network_error` / `http_error` (reading
    /// `serverUrl`), `no_route` (bootstrap node unreachable or reservation refused) or `timeout`.
    #[wasm_bindgen(unchecked_return_type = "Promise<P2pNode>")]
    pub fn connect(
        #[wasm_bindgen(unchecked_param_type = "P2pConnectOptions")] options: JsValue,
    ) -> Promise {
        promise(async move {
            let options = js(connect_options(&options).await)?;
            let events = js(EventTarget::new().map_err(|_| {
                Error::InvalidArgument("this context cannot create an EventTarget".into())
            }))?;
            let target = events.clone();
            let on_event = std::rc::Rc::new(move |event: NodeEvent| dispatch(&target, &event));
            let node = js(P2pNode::connect(options, on_event).await)?;
            Ok(JsP2pNode { node, events }.into())
        })
    }

    /// A new identity for `connect({ identity })`: libp2p's encoding of an Ed25519 private key.
    #[wasm_bindgen(js_name = generateIdentity)]
    pub fn generate_identity() -> Uint8Array {
        Uint8Array::from(Identity::generate().to_bytes().as_slice())
    }

    /// This node's peer id.
    #[wasm_bindgen(getter = peerId)]
    pub fn peer_id(&self) -> String {
        self.node.peer_id()
    }

    /// The transport in use: "webrtc-direct" or "websocket".
    #[wasm_bindgen(getter, unchecked_return_type = "P2pTransport")]
    pub fn transport(&self) -> String {
        self.node.transport().name().to_string()
    }

    /// Connection and address events (see `P2pEventMap`).
    #[wasm_bindgen(getter, unchecked_return_type = "P2pEvents")]
    pub fn events(&self) -> EventTarget {
        self.events.clone()
    }

    /// Announces that this browser holds `key`; resolves once the DHT peers closest to it are
    /// found and the records are handed to the connections to them (they leave within
    /// milliseconds; `close` waits for them). `not_connected` without a DHT connection.
    #[wasm_bindgen(js_name = startProvide, unchecked_return_type = "Promise<void>")]
    pub fn start_provide(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        let node = self.node.clone();
        promise(async move {
            let key = js(key_from_js(&key))?;
            js(node.start_provide(&key).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stops announcing `key` (local: records already stored by peers expire with their TTL).
    #[wasm_bindgen(js_name = stopProvide, unchecked_return_type = "Promise<void>")]
    pub fn stop_provide(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    ) -> Promise {
        let node = self.node.clone();
        promise(async move {
            let key = js(key_from_js(&key))?;
            js(node.stop_provide(&key).await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Finds who holds `key`: up to `limit` providers with their addresses. Resolves early once
    /// the limit is met, or 1 s after the first providers arrived with those found by then; `[]`
    /// when the lookup ends with none; `timeout` when time runs out with none found.
    #[wasm_bindgen(js_name = getProviders, unchecked_return_type = "Promise<P2pProvider[]>")]
    pub fn get_providers(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
        options: Option<GetProvidersOptionsArg>,
    ) -> Promise {
        let node = self.node.clone();
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        promise(async move {
            let key = js(key_from_js(&key))?;
            let signal = js(signal_option(&options))?;
            let options = js(lookup_options(&options))?;
            let providers =
                js(abortable(signal.as_ref(), node.get_providers(&key, options)).await)?;
            Ok(providers_to_js(&providers).into())
        })
    }

    /// Refreshes the routing table from the DHT; resolves when done.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn bootstrap(&self) -> Promise {
        let node = self.node.clone();
        promise(async move {
            js(node.bootstrap().await)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Dials a multiaddr (e.g. a provider's relayed address); resolves with the peer id reached.
    /// `invalid_multiaddr`, `unsupported_transport`, `no_route` or `timeout` otherwise.
    #[wasm_bindgen(unchecked_return_type = "Promise<string>")]
    pub fn dial(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] addr: JsValue,
        options: Option<DialOptionsArg>,
    ) -> Promise {
        let node = self.node.clone();
        let options = options.map_or(JsValue::UNDEFINED, JsValue::from);
        promise(async move {
            let addr = js(string_from_js(&addr, "addr"))?;
            js(known_fields(&options, "dial", &["timeoutMs"]))?;
            let timeout = js(whole_number_field(&options, "timeoutMs", 1, 600_000)
                .and_then(|ms| checked_timeout(ms, DEFAULT_CONNECT_TIMEOUT_MS, "timeoutMs")))?;
            Ok(js(node.dial(&addr, timeout).await)?.into())
        })
    }

    /// Answers peers' block requests (`/casweb/block/1.0.0`) from `storage` (any casweb storage
    /// or object with `get` and `put`, typically the IndexedDB cache), replacing what was served
    /// before. Off until called. Anyone who knows a key can then read its node from this
    /// browser: serve only what may be public. Throws `invalid_argument` or `closed`.
    pub fn serve(
        &self,
        #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] storage: JsValue,
        options: Option<ServeOptionsArg>,
    ) -> JsResult<()> {
        let storage = js(provider_from_js(&storage, "storage"))?;
        let limits = js(serve_limits(
            &options.map_or(JsValue::UNDEFINED, JsValue::from),
        ))?;
        js(self.node.serve(storage, limits))
    }

    /// Stops serving: block requests are refused as "not_serving" from now on.
    #[wasm_bindgen(js_name = stopServing)]
    pub fn stop_serving(&self) -> JsResult<()> {
        js(self.node.stop_serving())
    }

    /// Peer ids with an open connection.
    #[wasm_bindgen(js_name = connectedPeers, unchecked_return_type = "Promise<string[]>")]
    pub fn connected_peers(&self) -> Promise {
        let node = self.node.clone();
        promise(async move { Ok(strings(&js(node.connected_peers().await)?).into()) })
    }

    /// Addresses at which other peers reach this node (its relayed addresses).
    #[wasm_bindgen(js_name = externalAddresses, unchecked_return_type = "Promise<string[]>")]
    pub fn external_addresses(&self) -> Promise {
        let node = self.node.clone();
        promise(async move { Ok(strings(&js(node.external_addresses().await)?).into()) })
    }

    /// Stops the node and closes its connections; later calls fail with `closed`. Within 500 ms
    /// of an announcement it first lets the announcement's messages leave.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        let node = self.node.clone();
        promise(async move {
            node.close().await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

async fn connect_options(value: &JsValue) -> Result<ConnectOptions> {
    if !value.is_object() || value.is_array() {
        return Err(Error::InvalidArgument(format!(
            "P2pNode.connect needs an options object {{ bootstrap | serverUrl, transports? }}, got {}",
            type_name(value)
        )));
    }
    known_fields(
        value,
        "P2pNode.connect",
        &[
            "bootstrap",
            "serverUrl",
            "transports",
            "relay",
            "timeoutMs",
            "promptWebSocketFlush",
            "identity",
        ],
    )?;
    let mut bootstrap = match option_field(value, "bootstrap")? {
        Some(list) => string_list(&list, "bootstrap")?,
        None => Vec::new(),
    };
    if let Some(url) = option_field(value, "serverUrl")? {
        let url = string_from_js(&url, "serverUrl")?;
        bootstrap.extend(server_bootstrap(&url).await?);
    }
    if bootstrap.is_empty() {
        return Err(Error::InvalidArgument(
            "P2pNode.connect needs bootstrap addresses or a serverUrl".into(),
        ));
    }
    let transports = match option_field(value, "transports")? {
        None => TransportKind::ALL.to_vec(),
        Some(one) if one.is_string() => {
            vec![TransportKind::parse(&string_from_js(&one, "transports")?)?]
        }
        Some(list) => string_list(&list, "transports")?
            .iter()
            .map(|name| TransportKind::parse(name))
            .collect::<Result<_>>()?,
    };
    let identity = match option_field(value, "identity")? {
        Some(bytes) => Some(Identity::from_bytes(
            &array_from_js(&bytes, "identity")?.to_vec(),
        )?),
        None => None,
    };
    let relay = bool_field(value, "relay", true)?;
    let prompt_websocket_flush = bool_field(value, "promptWebSocketFlush", true)?;
    let timeout_ms = checked_timeout(
        whole_number_field(value, "timeoutMs", 1, 600_000)?,
        DEFAULT_CONNECT_TIMEOUT_MS,
        "timeoutMs",
    )?;
    Ok(ConnectOptions {
        bootstrap,
        transports,
        relay,
        timeout_ms,
        prompt_websocket_flush,
        identity,
    })
}

/// The bootstrap addresses a casweb server lists at `GET /api/p2p`.
async fn server_bootstrap(base_url: &str) -> Result<Vec<String>> {
    let url = format!("{}/api/p2p", base_url.trim_end_matches('/'));
    let reply = fetch::send("GET", &url, None, Body::None, DEFAULT_CONNECT_TIMEOUT_MS).await?;
    Ok(BootstrapInfo::from_json(&reply.body)?.addrs)
}

impl JsP2pNode {
    /// The Rust handle, for other classes built on the node (the Advertiser).
    pub(super) fn node(&self) -> &P2pNode {
        &self.node
    }
}

fn serve_limits(options: &JsValue) -> Result<ServeLimits> {
    known_fields(
        options,
        "serve",
        &["maxConcurrent", "maxConcurrentPerPeer", "maxAnswerBytes"],
    )?;
    let defaults = ServeLimits::default();
    Ok(ServeLimits {
        max_concurrent: whole_number_field(options, "maxConcurrent", 1, 1024)?
            .map_or(defaults.max_concurrent, |n| n as usize),
        max_concurrent_per_peer: whole_number_field(options, "maxConcurrentPerPeer", 1, 1024)?
            .map_or(defaults.max_concurrent_per_peer, |n| n as usize),
        max_answer_bytes: whole_number_field(options, "maxAnswerBytes", 16, MAX_ANSWER_BYTES)?
            .unwrap_or(defaults.max_answer_bytes),
    })
}

fn lookup_options(options: &JsValue) -> Result<LookupOptions> {
    known_fields(options, "getProviders", &["limit", "timeoutMs", "signal"])?;
    LookupOptions::new(
        whole_number_field(options, "limit", 0, u64::from(u32::MAX))?,
        whole_number_field(options, "timeoutMs", 0, u64::from(u32::MAX))?,
    )
}

fn bool_field(options: &JsValue, name: &str, default: bool) -> Result<bool> {
    match option_field(options, name)? {
        None => Ok(default),
        Some(value) => value.as_bool().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{name} must be a boolean, got {}",
                type_name(&value)
            ))
        }),
    }
}

fn string_list(value: &JsValue, what: &str) -> Result<Vec<String>> {
    if !Array::is_array(value) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be an array of strings, got {}",
            type_name(value)
        )));
    }
    Array::from(value)
        .iter()
        .enumerate()
        .map(|(i, item)| string_from_js(&item, &format!("{what}[{i}]")))
        .collect()
}

fn strings(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from(s.as_str())).collect()
}

fn providers_to_js(providers: &[Provider]) -> Array {
    providers
        .iter()
        .map(|p| {
            let object = Object::new();
            set_field(&object, "peerId", &p.peer_id.as_str().into());
            set_field(&object, "addrs", &strings(&p.addrs));
            JsValue::from(object)
        })
        .collect()
}

fn dispatch(target: &EventTarget, event: &NodeEvent) {
    let detail = Object::new();
    let kind = match event {
        NodeEvent::PeerConnected { peer_id } => {
            set_field(&detail, "peerId", &peer_id.as_str().into());
            "peer:connect"
        }
        NodeEvent::PeerDisconnected { peer_id } => {
            set_field(&detail, "peerId", &peer_id.as_str().into());
            "peer:disconnect"
        }
        NodeEvent::AddressConfirmed { addr } => {
            set_field(&detail, "addr", &addr.as_str().into());
            "address:confirmed"
        }
        NodeEvent::AddressExpired { addr } => {
            set_field(&detail, "addr", &addr.as_str().into());
            "address:expired"
        }
    };
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(kind, &init) {
        let _ = target.dispatch_event(event.unchecked_ref());
    }
}
