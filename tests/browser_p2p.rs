//! P2P in headless Chromium against the local DHT that scripts/browser-test.sh starts (the main
//! server's node and 4 DHT-only nodes; a second DHT with 3 s provider TTLs), once over
//! WebRTC-direct and once over WebSocket: a native node provides and the browser finds it; the
//! browser provides and a native node finds it; two nodes in the page find and dial each other
//! through the relay; records expire after stopProvide; a kept identity keeps the peer id and
//! its records across a reconnect; bad input gets typed errors.
#![cfg(all(target_arch = "wasm32", feature = "p2p"))]

#[path = "support/server.rs"]
mod server;

use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::http::{HttpConfig, HttpStorage};
use casweb::js::JsP2pNode;
use casweb::p2p::{
    ConnectOptions, Identity, LookupOptions, NodeEvent, P2pNode, Provider, TransportKind,
};
use casweb::{node, Key, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = serverProvide)]
    fn server_provide(base: &str, realm: &str, token: &str, key: &str, method: &str) -> Promise;
    #[wasm_bindgen(js_name = serverProviders)]
    fn server_providers(base: &str, key: &str, limit: u32) -> Promise;
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
}

fn unique_leaf(tag: &str) -> (Key, Bytes) {
    let data = format!(
        "p2p/{tag}/{}/{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    );
    let bytes = node::encode_successor(&[], data.as_bytes(), 0).unwrap();
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

fn options(bootstrap: Vec<String>, transport: TransportKind) -> ConnectOptions {
    ConnectOptions {
        transports: vec![transport],
        timeout_ms: 20_000,
        ..ConnectOptions::new(bootstrap)
    }
}

async fn connect(transport: TransportKind) -> P2pNode {
    let bootstrap = server::p2p_bootstrap(server::server_url()).await;
    connect_with(options(bootstrap, transport)).await
}

async fn connect_with(options: ConnectOptions) -> P2pNode {
    let node = P2pNode::connect(options, Rc::new(|_| {}))
        .await
        .expect("connect");
    node
}

fn lookup(limit: usize) -> LookupOptions {
    LookupOptions {
        limit,
        timeout_ms: 15_000,
    }
}

/// Looks `key` up from `seeker` until `provider` is among the answers (at most 5 s).
/// Kademlia's ADD_PROVIDER has no acknowledgement: startProvide resolves once the records are
/// sent, so a lookup made at once may reach a DHT node before that node has stored them.
async fn find_provider_eventually(
    seeker: &P2pNode,
    key: &Key,
    provider: &P2pNode,
) -> Vec<Provider> {
    let mut providers = Vec::new();
    for _ in 0..50 {
        providers = seeker.get_providers(key, lookup(1)).await.expect("lookup");
        if providers.iter().any(|p| p.peer_id == provider.peer_id()) {
            return providers;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    panic!(
        "{} not found as provider within 5 s: {providers:?}",
        provider.peer_id()
    );
}

/// Dials `provider` from `dialer` at its relayed address; the peer id reached.
async fn dial_through_relay(dialer: &P2pNode, provider: &Provider) -> String {
    let relayed = provider
        .addrs
        .iter()
        .find(|a| a.contains("/p2p-circuit/"))
        .unwrap_or_else(|| panic!("no relayed address: {provider:?}"));
    dialer
        .dial(relayed, 20_000)
        .await
        .expect("dial through the relay")
}

// (a) A native node provides K; the browser finds it with addresses.
async fn browser_finds_a_native_provider(transport: TransportKind) {
    let (key, bytes) = unique_leaf("native-provides");
    let http = HttpStorage::new(HttpConfig::new(
        server::server_url(),
        "alpha",
        server::token_alpha(),
    ))
    .unwrap();
    http.put(key, bytes).await.unwrap();
    let answer = JsFuture::from(server_provide(
        server::server_url(),
        "alpha",
        server::token_alpha(),
        &key.to_string(),
        "POST",
    ))
    .await
    .unwrap();
    let status = Array::from(&answer).get(0).as_f64().unwrap();
    assert_eq!(status, 200.0, "provide: {:?}", Array::from(&answer).get(1));

    let server_peer = JsFuture::from(
        web_sys::window()
            .unwrap()
            .fetch_with_str(&format!("{}/api/p2p", server::server_url())),
    )
    .await
    .unwrap()
    .dyn_into::<web_sys::Response>()
    .unwrap();
    let info = JsFuture::from(server_peer.json().unwrap()).await.unwrap();
    let server_peer = Reflect::get(&info, &"peerId".into())
        .unwrap()
        .as_string()
        .unwrap();

    let node = connect(transport).await;
    assert_eq!(node.transport(), transport);
    let providers = node.get_providers(&key, lookup(1)).await.expect("lookup");
    assert_eq!(providers.len(), 1, "{providers:?}");
    assert_eq!(providers[0].peer_id, server_peer);
    assert!(
        providers[0]
            .addrs
            .iter()
            .any(|a| TransportKind::of_address(a) == Some(transport)),
        "no {transport:?} address among {:?}",
        providers[0].addrs
    );
    // A key nobody provides: the lookup ends with an empty list.
    let nobody = node
        .get_providers(&unique_leaf("nobody").0, lookup(5))
        .await
        .expect("lookup");
    assert!(nobody.is_empty(), "{nobody:?}");
    node.close().await;
}

// (b) The browser provides K2; a native node finds the browser, with a relayed address.
async fn native_node_finds_the_browser(transport: TransportKind) {
    let node = connect(transport).await;
    let own = node.external_addresses().await.unwrap();
    assert!(own.iter().any(|a| a.contains("/p2p-circuit/")), "{own:?}");
    let key = unique_leaf("browser-provides").0;
    node.start_provide(&key).await.expect("provide");
    // Kademlia's ADD_PROVIDER has no acknowledgement: startProvide resolves once the records
    // are sent, so the server may look a moment before they have arrived.
    let mut me = None;
    for _ in 0..50 {
        let providers = JsFuture::from(server_providers(server::server_url(), &key.to_string(), 5))
            .await
            .expect("server lookup");
        me = Array::from(&providers).iter().find(|p| {
            Reflect::get(p, &"peerId".into()).unwrap().as_string() == Some(node.peer_id())
        });
        if me.is_some() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    let me = me.expect("the server did not find the browser within 5 s");
    let addrs: Vec<String> = Array::from(&Reflect::get(&me, &"addrs".into()).unwrap())
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect();
    assert!(
        addrs.iter().any(|a| a.contains("/p2p-circuit/p2p/")),
        "no relayed address: {addrs:?}"
    );
    node.close().await;
}

// (c) Two nodes in the page (different identities): B finds A and dials it through the relay.
async fn two_page_nodes_find_and_dial_each_other(transport: TransportKind) {
    let events = Rc::new(std::cell::RefCell::new(Vec::new()));
    let bootstrap = server::p2p_bootstrap(server::server_url()).await;
    let recorded = events.clone();
    let a = P2pNode::connect(
        options(bootstrap.clone(), transport),
        Rc::new(move |event| recorded.borrow_mut().push(event)),
    )
    .await
    .expect("connect a");
    let b = connect_with(options(bootstrap, transport)).await;
    assert_ne!(a.peer_id(), b.peer_id());
    let key = unique_leaf("page-to-page").0;
    a.start_provide(&key).await.expect("provide");
    let providers = find_provider_eventually(&b, &key, &a).await;
    assert_eq!(providers.len(), 1, "{providers:?}");
    assert_eq!(providers[0].peer_id, a.peer_id());
    assert_eq!(dial_through_relay(&b, &providers[0]).await, a.peer_id());
    assert!(b.connected_peers().await.unwrap().contains(&a.peer_id()));
    // A saw B connect (its own event loop may report it a moment after B's dial returned), and,
    // at start, its relayed address confirmed.
    let b_connected = NodeEvent::PeerConnected {
        peer_id: b.peer_id(),
    };
    for _ in 0..50 {
        if events.borrow().contains(&b_connected) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    let seen = events.borrow().clone();
    assert!(
        seen.contains(&NodeEvent::PeerConnected {
            peer_id: b.peer_id()
        }),
        "{seen:?}"
    );
    assert!(seen.iter().any(
        |e| matches!(e, NodeEvent::AddressConfirmed { addr } if addr.contains("/p2p-circuit"))
    ));
    b.close().await;
    a.close().await;
}

// (d) stopProvide, then the records expire (the short-TTL DHT keeps them 3 s).
async fn records_expire_after_stop_provide(transport: TransportKind) {
    let bootstrap = server::short_ttl_bootstrap();
    let a = connect_with(options(bootstrap.clone(), transport)).await;
    let b = connect_with(options(bootstrap, transport)).await;
    let key = unique_leaf("expiry").0;
    a.start_provide(&key).await.expect("provide");
    let found = find_provider_eventually(&b, &key, &a).await;
    assert_eq!(found.len(), 1, "{found:?}");
    a.stop_provide(&key).await.expect("stop");
    // A's own store no longer lists it either.
    gloo_timers::future::TimeoutFuture::new(4_000).await;
    let after = b
        .get_providers(&key, lookup(1))
        .await
        .expect("lookup after expiry");
    assert!(
        after.is_empty(),
        "record still found after its TTL: {after:?}"
    );
    a.close().await;
    b.close().await;
}

// (f) A kept identity (a page reload): the same peer id on every connect, and a record announced
// before the reload (not announced again) still names the node after it; over WebSocket other
// peers reach it through that record's relayed address.
async fn a_kept_identity_survives_a_reconnect(transport: TransportKind) {
    let identity = Identity::generate();
    let bootstrap = server::p2p_bootstrap(server::server_url()).await;
    let kept = ConnectOptions {
        identity: Some(identity.clone()),
        ..options(bootstrap.clone(), transport)
    };
    let before = connect_with(kept.clone()).await;
    assert_eq!(before.peer_id(), identity.peer_id());
    let key = unique_leaf("kept-identity").0;
    // Closed right after announcing (close lets the announcement leave first).
    before.start_provide(&key).await.expect("provide");
    before.close().await;

    let after = connect_with(kept).await;
    assert_eq!(after.peer_id(), identity.peer_id());
    let seeker = connect_with(options(bootstrap, transport)).await;
    assert_ne!(seeker.peer_id(), identity.peer_id());
    let providers = find_provider_eventually(&seeker, &key, &after).await;
    // Over WebSocket the relay sees the old connection end at once (TCP); over WebRTC-direct it
    // may still hold it for a while and route the circuit into it ("unexpected end of file"),
    // so only the record is checked there (docs/p2p.md).
    if transport == TransportKind::WebSocket {
        assert_eq!(
            dial_through_relay(&seeker, &providers[0]).await,
            identity.peer_id()
        );
    }
    seeker.close().await;
    after.close().await;
}

#[wasm_bindgen_test]
async fn webrtc_direct_browser_finds_a_native_provider() {
    browser_finds_a_native_provider(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn websocket_browser_finds_a_native_provider() {
    browser_finds_a_native_provider(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn webrtc_direct_native_node_finds_the_browser() {
    native_node_finds_the_browser(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn websocket_native_node_finds_the_browser() {
    native_node_finds_the_browser(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn webrtc_direct_two_page_nodes_dial_through_the_relay() {
    two_page_nodes_find_and_dial_each_other(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn websocket_two_page_nodes_dial_through_the_relay() {
    two_page_nodes_find_and_dial_each_other(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn webrtc_direct_records_expire_after_stop_provide() {
    records_expire_after_stop_provide(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn websocket_records_expire_after_stop_provide() {
    records_expire_after_stop_provide(TransportKind::WebSocket).await;
}

#[wasm_bindgen_test]
async fn webrtc_direct_a_kept_identity_survives_a_reconnect() {
    a_kept_identity_survives_a_reconnect(TransportKind::WebRtcDirect).await;
}

#[wasm_bindgen_test]
async fn websocket_a_kept_identity_survives_a_reconnect() {
    a_kept_identity_survives_a_reconnect(TransportKind::WebSocket).await;
}

/// Calls `P2pNode.connect(options)` from JS and returns the error code it rejected with.
async fn connect_error(options: JsValue) -> String {
    let promise = JsP2pNode::connect(options);
    let error = JsFuture::from(promise)
        .await
        .expect_err("connect must fail");
    Reflect::get(&error, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in pairs {
        Reflect::set(&object, &(*name).into(), value).unwrap();
    }
    object.into()
}

fn strings(items: &[&str]) -> JsValue {
    items
        .iter()
        .map(|s| JsValue::from(*s))
        .collect::<Array>()
        .into()
}

// (e) Bad input: typed errors, from the JS API as an app sees it.
#[wasm_bindgen_test]
async fn bad_input_gets_typed_errors() {
    let bootstrap = server::p2p_bootstrap(server::server_url()).await;
    let ws_only: Vec<&str> = bootstrap
        .iter()
        .filter(|a| a.contains("/ws/"))
        .map(String::as_str)
        .collect();
    let webrtc_only: Vec<&str> = bootstrap
        .iter()
        .filter(|a| a.contains("/webrtc-direct/"))
        .map(String::as_str)
        .collect();
    let cases: Vec<(JsValue, &str)> = vec![
        (JsValue::from("not an object"), "invalid_argument"),
        (object(&[]), "invalid_argument"),
        (object(&[("bootstrap", JsValue::from(42))]), "invalid_argument"),
        (object(&[("bootstrap", strings(&["garbage"]))]), "invalid_multiaddr"),
        (
            object(&[("bootstrap", strings(&["/ip4/127.0.0.1/tcp/1/ws"]))]),
            "invalid_multiaddr",
        ),
        (
            object(&[("bootstrap", strings(&ws_only)), ("transports", "quic".into())]),
            "unsupported_transport",
        ),
        (
            object(&[("bootstrap", strings(&ws_only)), ("transports", "webrtc-direct".into())]),
            "unsupported_transport",
        ),
        (
            object(&[("bootstrap", strings(&webrtc_only)), ("relay", "yes".into())]),
            "invalid_argument",
        ),
        (
            object(&[("bootstrap", strings(&webrtc_only)), ("timeoutMs", JsValue::from(-1))]),
            "invalid_argument",
        ),
        (
            object(&[("bootstrap", strings(&webrtc_only)), ("identity", "secret".into())]),
            "invalid_argument",
        ),
        (
            object(&[
                ("bootstrap", strings(&webrtc_only)),
                ("identity", Uint8Array::from(&[8u8, 1, 18, 3, 1, 2, 3][..]).into()),
            ]),
            "invalid_argument",
        ),
        // Nobody listens there (a peer id that is not the server's, on a closed port).
        (
            object(&[(
                "bootstrap",
                strings(&["/ip4/127.0.0.1/tcp/9/ws/p2p/12D3KooWGzh9x9vvkqy1uKc9Fw8tD8yHY1TEKqtFy2T8Vi7NgNfc"]),
            )]),
            "no_route",
        ),
        // A server without its p2p node: 404 p2p_disabled, as an http_error.
        (
            object(&[("serverUrl", server::faulty_server_url().into())]),
            "http_error",
        ),
    ];
    for (options, expected) in cases {
        let shown = format!("{options:?}");
        assert_eq!(connect_error(options).await, expected, "{shown}");
    }

    // A connected node (with an identity from generateIdentity) refuses bad keys, options and
    // addresses, and everything once closed.
    let identity = JsP2pNode::generate_identity();
    let node = JsFuture::from(JsP2pNode::connect(object(&[
        ("serverUrl", server::server_url().into()),
        ("transports", strings(&["websocket"])),
        ("identity", identity.clone().into()),
    ])))
    .await
    .expect("connect");
    assert_eq!(
        Reflect::get(&node, &"transport".into()).unwrap(),
        "websocket"
    );
    assert_eq!(
        Reflect::get(&node, &"peerId".into()).unwrap(),
        Identity::from_bytes(&identity.to_vec())
            .unwrap()
            .peer_id()
            .as_str()
    );
    let code = |method: &str, args: Vec<JsValue>| {
        let promise: Promise = call(&node, method, args.into_boxed_slice()).unchecked_into();
        async move {
            let error = JsFuture::from(promise).await.expect_err("must fail");
            Reflect::get(&error, &"code".into())
                .unwrap()
                .as_string()
                .unwrap()
        }
    };
    let key = JsValue::from(unique_leaf("bad-input").0.to_string());
    assert_eq!(
        code("startProvide", vec!["not-a-key".into()]).await,
        "invalid_key"
    );
    assert_eq!(
        code("startProvide", vec![JsValue::from(7)]).await,
        "invalid_argument"
    );
    assert_eq!(
        code("stopProvide", vec![JsValue::NULL]).await,
        "invalid_argument"
    );
    let aborted = web_sys::AbortController::new().unwrap();
    aborted.abort();
    assert_eq!(
        code(
            "getProviders",
            vec![key.clone(), object(&[("signal", aborted.signal().into())])]
        )
        .await,
        "aborted"
    );
    assert_eq!(
        code(
            "getProviders",
            vec![key.clone(), object(&[("signal", "stop".into())])]
        )
        .await,
        "invalid_argument"
    );
    let limit0 = object(&[("limit", JsValue::from(0))]);
    assert_eq!(
        code("getProviders", vec![key.clone(), limit0]).await,
        "invalid_argument"
    );
    let fractional = object(&[("timeoutMs", JsValue::from(1.5))]);
    assert_eq!(
        code("getProviders", vec![key.clone(), fractional]).await,
        "invalid_argument"
    );
    assert_eq!(
        code("dial", vec!["garbage".into()]).await,
        "invalid_multiaddr"
    );
    assert_eq!(
        code("dial", vec!["/ip4/127.0.0.1/tcp/9".into()]).await,
        "unsupported_transport"
    );
    let closing: Promise = call(&node, "close", Box::new([])).unchecked_into();
    JsFuture::from(closing).await.unwrap();
    assert_eq!(code("startProvide", vec![key.clone()]).await, "closed");
    assert_eq!(code("getProviders", vec![key]).await, "closed");
}
