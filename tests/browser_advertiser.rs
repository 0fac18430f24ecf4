//! The Advertiser in headless Chromium against the local DHT that scripts/browser-test.sh starts:
//! 100 blocks stored through `CachedStorage(AdvertisingStorage(IndexedDb), remote)` are all
//! announced and a native node (the main server) finds the browser as provider of each; a new
//! Advertiser on the same IndexedDB (a reload) re-announces only the keys that are due; the JS
//! classes work as an app would use them.
#![cfg(all(target_arch = "wasm32", feature = "p2p"))]

#[path = "support/server.rs"]
mod server;

use std::rc::Rc;

use bytes::Bytes;
use futures::future::join_all;
use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::p2p::advertiser::{
    AdvertStore, Advertiser, AdvertiserConfig, BrowserAdvertiser, IdbAdvertStore, KeyStatus,
};
use casweb::p2p::{ConnectOptions, P2pNode, TransportKind};
use casweb::runtime::BrowserRuntime;
use casweb::storage::{AdvertisingStorage, CachedStorage, IndexedDbStorage, MemoryStorage};
use casweb::{node, Key, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = serverProviders)]
    fn server_providers(base: &str, key: &str, limit: u32) -> js_sys::Promise;
}

fn unique_block(tag: &str, i: usize) -> (Key, Bytes) {
    let data = format!(
        "adv/{tag}/{i}/{}/{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    );
    let bytes = node::encode_successor(&[], data.as_bytes(), 0).unwrap();
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

fn unique_name(tag: &str) -> String {
    format!("adv-{tag}-{}", js_sys::Math::random())
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

async fn connect() -> P2pNode {
    let window = web_sys::window().unwrap();
    let url = format!("{}/api/p2p", server::server_url());
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&url))
        .await
        .unwrap()
        .dyn_into()
        .unwrap();
    let body = JsFuture::from(response.json().unwrap()).await.unwrap();
    let bootstrap = Array::from(&Reflect::get(&body, &"addrs".into()).unwrap())
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect();
    let options = ConnectOptions {
        transports: vec![TransportKind::WebSocket],
        timeout_ms: 20_000,
        ..ConnectOptions::new(bootstrap)
    };
    P2pNode::connect(options, Rc::new(|_| {}))
        .await
        .expect("connect")
}

fn advertiser(node: &P2pNode, database: &str) -> BrowserAdvertiser {
    Advertiser::new(
        node.clone(),
        IdbAdvertStore::new(database).unwrap(),
        BrowserRuntime,
        AdvertiserConfig::default(),
    )
}

async fn wait_until(what: &str, seconds: u32, condition: impl Fn() -> bool) {
    for _ in 0..seconds * 10 {
        if condition() {
            return;
        }
        sleep(100).await;
    }
    panic!("{what} did not happen within {seconds} s");
}

/// Whether the main server's own DHT lookup lists `peer` as a provider of `key`. Kademlia's
/// ADD_PROVIDER is unacknowledged, so a lookup right after announcing may retry briefly.
async fn server_finds(key: Key, peer: &str) -> bool {
    for _ in 0..30 {
        let providers =
            JsFuture::from(server_providers(server::server_url(), &key.to_string(), 20))
                .await
                .expect("server lookup");
        let found = Array::from(&providers).iter().any(|p| {
            Reflect::get(&p, &"peerId".into())
                .unwrap()
                .as_string()
                .as_deref()
                == Some(peer)
        });
        if found {
            return true;
        }
        sleep(100).await;
    }
    false
}

#[wasm_bindgen_test]
async fn stored_blocks_are_found_on_the_dht_and_a_reload_resumes_the_schedule() {
    let node = connect().await;
    let nodes_db = unique_name("nodes");
    let schedule_db = unique_name("schedule");
    let idb = IndexedDbStorage::open(&nodes_db).await.unwrap();
    let first = advertiser(&node, &schedule_db);
    let storage = CachedStorage::new(
        AdvertisingStorage::new(idb.clone(), first.clone()),
        MemoryStorage::new(),
    );
    first.start().await.unwrap();

    let blocks: Vec<(Key, Bytes)> = (0..100).map(|i| unique_block("store", i)).collect();
    let puts = blocks.iter().map(|(k, b)| storage.put(*k, b.clone()));
    for outcome in join_all(puts).await {
        outcome.unwrap();
    }
    let metrics = first.metrics();
    assert_eq!(metrics.tracked, 100);
    assert!(metrics.in_flight <= 10, "{metrics:?}");
    wait_until("100 announcements", 120, || first.advertised_count() == 100).await;
    let metrics = first.metrics();
    assert_eq!((metrics.announced_total, metrics.failures_total), (100, 0));
    assert!(blocks.iter().all(|(k, _)| first.is_advertised(*k)));

    // A native node finds the browser as a provider of every block.
    let me = node.peer_id();
    for chunk in blocks.chunks(10) {
        let found = join_all(chunk.iter().map(|(k, _)| server_finds(*k, &me))).await;
        for ((key, _), found) in chunk.iter().zip(found) {
            assert!(found, "the server did not find the browser providing {key}");
        }
    }
    first.stop().await.unwrap();
    assert_eq!(first.stop().await, Err(casweb::Error::NotRunning));

    // Ten more keys as if announced an hour ago (due again with the 30 min interval).
    let old: Vec<Key> = (0..10).map(|i| unique_block("old", i).0).collect();
    let an_hour_ago = (js_sys::Date::now() / 1000.0) as u32 - 3600;
    let records: Vec<(Key, u32)> = old.iter().map(|k| (*k, an_hour_ago)).collect();
    IdbAdvertStore::new(&schedule_db)
        .unwrap()
        .save(&records)
        .await
        .unwrap();

    // The reload: a new Advertiser on the same database re-announces the 10 due keys only.
    let second = advertiser(&node, &schedule_db);
    second.start().await.unwrap();
    wait_until("10 re-announcements", 60, || {
        second.metrics().announced_total == 10
    })
    .await;
    sleep(2_000).await;
    let metrics = second.metrics();
    assert_eq!(metrics.tracked, 110, "{metrics:?}");
    assert_eq!(
        metrics.announced_total, 10,
        "only the due keys: {metrics:?}"
    );
    assert_eq!((metrics.in_flight, metrics.queued, metrics.due), (0, 0, 0));
    assert_eq!(second.advertised_count(), 110);
    let now = js_sys::Date::now() as u64;
    for key in &old {
        match second.status(*key) {
            Some(KeyStatus::Announced { at_ms, .. }) => assert!(now - at_ms < 90_000),
            other => panic!("{key}: {other:?}"),
        }
    }
    for (key, _) in &blocks {
        match second.status(*key) {
            Some(KeyStatus::Announced { next_ms, .. }) => assert!(next_ms > now + 25 * 60_000),
            other => panic!("{key}: {other:?}"),
        }
    }
    assert!(server_finds(old[0], &me).await);
    second.stop().await.unwrap();
    node.close().await;
    idb.close();
}

#[wasm_bindgen_test]
async fn lifecycle_errors_and_status_through_the_rust_api() {
    let node = connect().await;
    let advertiser = advertiser(&node, &unique_name("lifecycle"));
    assert_eq!(advertiser.stop().await, Err(casweb::Error::NotRunning));
    let (key, _) = unique_block("lifecycle", 0);
    assert_eq!(advertiser.advertise(key), Ok(true));
    assert_eq!(advertiser.advertise(key), Ok(false));
    assert_eq!(advertiser.status(key), Some(KeyStatus::Queued));
    advertiser.start().await.unwrap();
    assert_eq!(
        advertiser.start().await.map_err(|e| e.code()),
        Err("already_running")
    );
    wait_until("the announcement", 30, || advertiser.is_advertised(key)).await;
    assert!(matches!(
        advertiser.status(key),
        Some(KeyStatus::Announced { .. })
    ));
    // No peers: the node is closed; a new key waits instead of failing.
    advertiser.stop().await.unwrap();
    node.close().await;
    advertiser.start().await.unwrap();
    let (offline, _) = unique_block("lifecycle", 1);
    advertiser.advertise(offline).unwrap();
    wait_until("the pause", 10, || advertiser.metrics().paused).await;
    sleep(1_500).await;
    let metrics = advertiser.metrics();
    assert_eq!(metrics.failures_total, 0, "{metrics:?}");
    assert_eq!(advertiser.status(offline), Some(KeyStatus::Queued));
    advertiser.stop().await.unwrap();
}

// The schedule's database steps aside when another tab deletes it (no `blocked`), and the
// store reopens it on its next use.
#[wasm_bindgen_test]
async fn schedule_database_steps_aside_for_a_delete_and_reopens() {
    let name = unique_name("step-aside");
    let store = IdbAdvertStore::new(&name).unwrap();
    let key = unique_block("step-aside", 0).0;
    store.save(&[(key, 7)]).await.expect("save");
    assert_eq!(store.load().await.unwrap(), vec![(key, 7)]);
    IndexedDbStorage::delete_database(&name)
        .await
        .expect("the open schedule database must not block its deletion");
    assert_eq!(store.load().await.unwrap(), vec![], "a fresh database");
    store.save(&[(key, 8)]).await.expect("save after reopening");
    assert_eq!(store.load().await.unwrap(), vec![(key, 8)]);
    drop(store);
    IndexedDbStorage::delete_database(&name).await.unwrap();
}
