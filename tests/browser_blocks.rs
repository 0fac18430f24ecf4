//! The block exchange in headless Chromium, between two nodes in the page that reach each other
//! only through the relay of the server that scripts/browser-test.sh starts (its DHT finds the
//! providers; no HTTP storage and no token on the reading side): a 5 MiB three-level file
//! served by A is read by B through `PeerStorage` with identical bytes, in a number of requests
//! bounded by the levels; 20 exchanges in a row; with A gone B gets `None` within its timeout;
//! a provider serving wrong bytes is detected (`hash_mismatch`) and an honest one then used; the
//! server (started with `--serve-blocks`) serves a node it announces, over the page's direct
//! connection to it.
#![cfg(all(target_arch = "wasm32", feature = "p2p"))]

#[path = "support/server.rs"]
mod server;

use std::rc::Rc;

use bytes::Bytes;
use js_sys::{Array, Promise};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::chunker::{self, ChunkOptions};
use casweb::exchange::{FetchOptions, ServeLimits, MAX_KEYS_PER_REQUEST};
use casweb::http::{HttpConfig, HttpStorage};
use casweb::p2p::{ConnectOptions, LookupOptions, P2pNode, PeerStorage, TransportKind};
use casweb::{node, Error, Key, MemoryStorage, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen::prelude::wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = serverProvide)]
    fn server_provide(base: &str, realm: &str, token: &str, key: &str, method: &str) -> Promise;
}

async fn connect() -> P2pNode {
    let bootstrap = server::p2p_bootstrap(server::server_url()).await;
    let options = ConnectOptions {
        transports: vec![TransportKind::WebSocket],
        timeout_ms: 20_000,
        ..ConnectOptions::new(bootstrap)
    };
    P2pNode::connect(options, Rc::new(|_| {}))
        .await
        .expect("connect")
}

/// Distinct data for each call: `len` bytes.
fn data(len: usize, tag: &str) -> Vec<u8> {
    let seed = format!("{tag}/{}/{}", js_sys::Date::now(), js_sys::Math::random());
    let mut out = vec![0; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Announces `key` from `provider` and waits until `seeker` finds it (at most 5 s): Kademlia's
/// ADD_PROVIDER has no acknowledgement, so a lookup made at once may come too early.
async fn announce(provider: &P2pNode, seeker: &P2pNode, key: &Key) {
    provider.start_provide(key).await.expect("announce");
    let options = LookupOptions {
        limit: 20,
        timeout_ms: 10_000,
    };
    for _ in 0..50 {
        let found = seeker.get_providers(key, options).await.unwrap_or_default();
        if found.iter().any(|p| p.peer_id == provider.peer_id()) {
            return;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    panic!(
        "{} not found as provider of {key} within 5 s",
        provider.peer_id()
    );
}

/// Nodes per level of the DAG under `root`, root first (every node distinct).
async fn level_sizes(storage: &MemoryStorage, root: Key) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut level = vec![root];
    while !level.is_empty() {
        sizes.push(level.len());
        let mut next = Vec::new();
        for key in level {
            let bytes = storage.get(key).await.unwrap().unwrap();
            next.extend(node::child_keys(&bytes).unwrap());
        }
        level = next;
    }
    sizes
}

fn fetch_options(timeout_ms: u32) -> FetchOptions {
    FetchOptions {
        timeout_ms,
        request_timeout_ms: 10_000,
        ..FetchOptions::default()
    }
}

#[wasm_bindgen_test]
async fn a_five_mib_file_travels_between_two_pages_through_the_relay() {
    let a = connect().await;
    let b = connect().await;
    let served = Rc::new(MemoryStorage::new());
    let content = data(5 << 20, "five-mib");
    let options = ChunkOptions {
        chunk_size: 4096,
        content_type: "application/octet-stream".into(),
    };
    let root = chunker::store_file(&served, &content, &options)
        .await
        .unwrap();
    let levels = level_sizes(&served, root).await;
    assert!(levels.len() >= 3, "a multi-level file: {levels:?}");
    a.serve(served.clone(), ServeLimits::default()).unwrap();
    announce(&a, &b, &root).await;

    let peers = PeerStorage::new(b.clone(), fetch_options(60_000));
    let started = js_sys::Date::now();
    let file = chunker::read_file(&peers, root)
        .await
        .expect("read from the peer");
    let elapsed = js_sys::Date::now() - started;
    assert!(file.data == content, "the bytes differ");
    let stats = peers.stats();
    // One request per level, plus one per MAX_KEYS_PER_REQUEST keys of a level.
    let bound: usize = levels
        .iter()
        .map(|n| n.div_ceil(MAX_KEYS_PER_REQUEST))
        .sum();
    web_sys::console::log_1(
        &format!(
            "5 MiB through the relay: {elapsed:.0} ms, levels {levels:?}, {stats:?}, bound {bound}"
        )
        .into(),
    );
    assert_eq!(stats.lookups, 1, "one lookup, for the root: {stats:?}");
    assert!(stats.requests as usize <= bound, "{stats:?} > {bound}");
    assert_eq!(stats.nodes as usize, levels.iter().sum::<usize>());
    assert_eq!(stats.hash_mismatches, 0);

    // Twenty exchanges in a row: each a new file from A, read by a new PeerStorage of B.
    let runs_started = js_sys::Date::now();
    for run in 0..20 {
        let content = data(64 << 10, &format!("run-{run}"));
        let root = chunker::store_file(
            &served,
            &content,
            &ChunkOptions {
                chunk_size: 1024,
                content_type: String::new(),
            },
        )
        .await
        .unwrap();
        announce(&a, &b, &root).await;
        let peers = PeerStorage::new(b.clone(), fetch_options(20_000));
        let file = chunker::read_file(&peers, root)
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"));
        assert!(file.data == content, "run {run}: the bytes differ");
    }

    web_sys::console::log_1(
        &format!("20 exchanges: {:.0} ms", js_sys::Date::now() - runs_started).into(),
    );
    // A gone: its record is still on the DHT, but nobody can reach it; B's answer is None
    // within its timeout.
    a.close().await;
    let peers = PeerStorage::new(b.clone(), fetch_options(5_000));
    let started = js_sys::Date::now();
    assert_eq!(peers.get(root).await, Ok(None));
    let elapsed = js_sys::Date::now() - started;
    assert!(elapsed < 7_000.0, "answered after {elapsed} ms");
    b.close().await;
}

/// A storage that answers every key with the bytes of another node.
struct Liar(Bytes);

impl StorageProvider for Liar {
    async fn get(&self, _key: Key) -> casweb::Result<Option<Bytes>> {
        Ok(Some(self.0.clone()))
    }
    async fn put(&self, _key: Key, _bytes: Bytes) -> casweb::Result<()> {
        Ok(())
    }
}

#[wasm_bindgen_test]
async fn a_provider_serving_wrong_bytes_is_detected_and_an_honest_one_used() {
    let liar = connect().await;
    let honest = connect().await;
    let reader = connect().await;
    let other = node::encode_successor(&[], b"not the node you asked for", 0).unwrap();
    liar.serve(Liar(Bytes::from(other)), ServeLimits::default())
        .unwrap();
    let wanted = node::encode_successor(&[], &data(1000, "wanted"), 0).unwrap();
    let key = Key::for_bytes(&wanted);

    // Only the liar has announced the key: its bytes are refused.
    announce(&liar, &reader, &key).await;
    let peers = PeerStorage::new(reader.clone(), fetch_options(20_000));
    assert_eq!(peers.get(key).await, Err(Error::HashMismatch { key }));
    assert_eq!(peers.stats().hash_mismatches, 1);
    assert_eq!(peers.stats().dropped_providers, 1);

    // An honest provider too: whichever the DHT lists first, the verified node comes back.
    let store = Rc::new(MemoryStorage::new());
    store.put(key, Bytes::from(wanted.clone())).await.unwrap();
    honest.serve(store, ServeLimits::default()).unwrap();
    announce(&honest, &reader, &key).await;
    assert_eq!(peers.get(key).await, Ok(Some(Bytes::from(wanted))));
    // put stores nothing: a typed refusal.
    let refused = peers.put(key, Bytes::new()).await.unwrap_err();
    assert_eq!(refused.code(), "unsupported");
    // A node that serves nothing refuses as not_serving; the reader gets None, not an error.
    honest.stop_serving().unwrap();
    let fresh = PeerStorage::new(reader.clone(), fetch_options(5_000));
    let missing = node::encode_successor(&[], b"nobody serves this", 0).unwrap();
    let missing_key = Key::for_bytes(&missing);
    announce(&honest, &reader, &missing_key).await;
    assert_eq!(fresh.get(missing_key).await, Ok(None));
    assert_eq!(fresh.stats().dropped_providers, 1, "{:?}", fresh.stats());
    for node in [liar, honest, reader] {
        node.close().await;
    }
}

#[wasm_bindgen_test]
async fn the_server_with_serve_blocks_serves_a_node_it_announces() {
    let bytes = node::encode_successor(&[], &data(2000, "server"), 0).unwrap();
    let key = Key::for_bytes(&bytes);
    let http = HttpStorage::new(HttpConfig::new(
        server::server_url(),
        "alpha",
        server::token_alpha(),
    ))
    .unwrap();
    http.put(key, Bytes::from(bytes.clone())).await.unwrap();
    let answer = JsFuture::from(server_provide(
        server::server_url(),
        "alpha",
        server::token_alpha(),
        &key.to_string(),
        "POST",
    ))
    .await
    .unwrap();
    assert_eq!(Array::from(&answer).get(0).as_f64(), Some(200.0));

    let reader = connect().await;
    let peers = PeerStorage::new(reader.clone(), fetch_options(10_000));
    // The server's record may reach the DHT nodes a moment after its provide resolves.
    let mut got = None;
    for _ in 0..20 {
        got = peers.get(key).await.expect("no error");
        if got.is_some() {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(200).await;
    }
    assert_eq!(got, Some(Bytes::from(bytes)));
    assert_eq!(peers.stats().dropped_providers, 0);
    reader.close().await;
}
