//! The sync engine under faults in real headless Chromium against real servers: thousands of
//! nodes through servers injecting 503s into 20 % and 50 % of requests (every node owned,
//! passes bounded by requests), bad puts refused through the JS API with nothing kept, a second
//! flush that retries a parked node, and reloads mid-sync that keep their progress.
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;
#[path = "support/unique_dag.rs"]
mod unique_dag;

use bytes::Bytes;
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::chunker::{chunk_file, ChunkOptions};
use casweb::http::{HttpConfig, HttpStorage};
use casweb::storage::{IdbPendingStore, IndexedDbStorage};
use casweb::sync::{Backoff, BufferedConfig, BufferedStorage};
use casweb::{node, Key, StorageProvider};
use unique_dag::{unique, unique_dag};

wasm_bindgen_test_configure!(run_in_browser);

fn http(base_url: &str, token: &str) -> HttpStorage {
    HttpStorage::new(HttpConfig::new(base_url, "alpha", token)).unwrap()
}

fn alpha() -> HttpStorage {
    http(server::server_url(), server::token_alpha())
}

/// `files` files of unique content, `len` bytes each in 128-byte nodes (several levels).
fn nodes(files: usize, len: usize) -> Vec<(Key, Bytes)> {
    (0..files).flat_map(|_| unique_dag(len).nodes).collect()
}

fn config() -> BufferedConfig {
    BufferedConfig {
        debounce_ms: 20,
        backoff: Backoff {
            base_ms: 50,
            max_ms: 800,
        },
        pending_store: Some(unique("pending")),
        ..BufferedConfig::default()
    }
}

async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

/// How many of `keys` the realm owns, asked with retries (the server may be a faulty one).
async fn owned(remote: &HttpStorage, keys: &[Key]) -> usize {
    for _ in 0..50 {
        if let Ok(check) = remote.check_many(keys).await {
            return check.owned.len();
        }
    }
    panic!("no check got through");
}

async fn sync_through_faults(percent: u32) {
    let (url, token) = server::faulty_server(percent);
    let remote = http(url, token);
    let nodes = nodes(4, 60_000);
    assert!(nodes.len() > 2_000, "{} nodes", nodes.len());
    let engine = BufferedStorage::open(remote.clone(), config())
        .await
        .unwrap();
    for (key, bytes) in &nodes {
        engine.put(*key, bytes.clone()).await.unwrap();
    }
    let started = js_sys::Date::now();
    while engine.stats().pending > 0 {
        assert!(
            js_sys::Date::now() - started < 120_000.0,
            "{percent} %: not synced in 2 minutes: {:?} {:?}",
            engine.stats(),
            engine.failures().first()
        );
        sleep(50).await;
    }
    let elapsed = js_sys::Date::now() - started;
    let stats = engine.stats();
    let requests = remote.request_count();
    web_sys::console::log_1(
        &format!(
            "SYNC_FAULTS {percent}%: {} nodes, {} passes, {requests} requests, {elapsed} ms",
            nodes.len(),
            stats.passes
        )
        .into(),
    );
    assert!(
        stats.passes <= 2 * requests,
        "{percent} %: {} passes for {requests} requests",
        stats.passes
    );
    assert!(stats.passes > 1, "{percent} %: no fault was injected");
    engine.dispose();
    let keys: Vec<Key> = nodes.iter().map(|(k, _)| *k).collect();
    assert_eq!(owned(&remote, &keys).await, keys.len());
}

#[wasm_bindgen_test]
async fn a_fifth_of_requests_failing_still_syncs_every_node() {
    sync_through_faults(20).await;
}

#[wasm_bindgen_test]
async fn half_of_requests_failing_still_syncs_every_node() {
    sync_through_faults(50).await;
}

#[wasm_bindgen_test]
async fn reloads_mid_sync_keep_what_each_engine_got_owned() {
    // Big enough that a pass outlives a reload: ten 1,000-node upload batches on the lowest level.
    let nodes = nodes(3, 400_000);
    let keys: Vec<Key> = nodes.iter().map(|(k, _)| *k).collect();
    let mut config = config();
    config.debounce_ms = 60_000; // the first page goes away before any pass
    let first = BufferedStorage::open(alpha(), config.clone())
        .await
        .unwrap();
    for (key, bytes) in &nodes {
        first.put(*key, bytes.clone()).await.unwrap();
    }
    first.dispose();
    config.debounce_ms = 10;
    let mut previous = owned(&alpha(), &keys).await;
    assert_eq!(previous, 0);
    let mut reloads = 0;
    while previous < keys.len() {
        let engine = BufferedStorage::open(alpha(), config.clone())
            .await
            .unwrap();
        let resumed = engine.stats().pending;
        let not_owned = keys.len() - owned(&alpha(), &keys).await;
        assert!(
            resumed >= not_owned,
            "reload {reloads}: {resumed} resumed, {not_owned} not owned of {}: nodes lost",
            keys.len()
        );
        assert!(
            resumed < keys.len() || reloads == 0,
            "reload {reloads} started over"
        );
        // Let this "page" live until a level was acknowledged, then reload.
        let started = js_sys::Date::now();
        while engine.stats().pending == resumed && js_sys::Date::now() - started < 10_000.0 {
            sleep(5).await;
        }
        engine.dispose();
        sleep(100).await; // a pass in flight at dispose() may still land
        reloads += 1;
        let now = owned(&alpha(), &keys).await;
        assert!(
            now > previous,
            "no progress across reload {reloads}: {now} owned"
        );
        previous = now;
        assert!(reloads <= 40, "too many reloads");
    }
    web_sys::console::log_1(
        &format!("SYNC_RELOADS: {} nodes over {reloads} reloads", keys.len()).into(),
    );
    assert!(
        reloads >= 2,
        "{reloads} reloads: the DAG synced too fast to test anything"
    );
    sleep(300).await;
    let last = BufferedStorage::open(alpha(), config).await.unwrap();
    assert_eq!(
        last.stats().pending,
        0,
        "owned nodes left the pending store as they were acknowledged"
    );
    last.dispose();
}

#[wasm_bindgen_test]
async fn a_second_flush_retries_a_parked_node_whose_children_arrived() {
    let remote = alpha();
    let data = unique("parked").repeat(50);
    let options = ChunkOptions {
        chunk_size: 128,
        ..Default::default()
    };
    let dag = chunk_file(data.as_bytes(), &options).unwrap();
    let (root, root_bytes) = dag.nodes.last().unwrap().clone();
    let engine = BufferedStorage::open(remote.clone(), config())
        .await
        .unwrap();
    engine.put(root, root_bytes).await.unwrap();
    let first = engine.flush().await.unwrap();
    assert_eq!(first.failed.len(), 1);
    assert_eq!(engine.stats().parked, 1);
    // The children arrive another way; the next flush takes the parked root.
    let children = &dag.nodes[..dag.nodes.len() - 1];
    for result in remote.put_many(children).await.unwrap() {
        result.unwrap();
    }
    let passes = engine.stats().passes;
    let second = engine.flush().await.unwrap();
    assert_eq!(second.synced, vec![root]);
    assert_eq!(engine.stats().passes, passes + 1);
    assert_eq!(engine.stats().pending, 0);
    engine.dispose();
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Reflect, js_name = apply)]
    fn apply(function: &JsValue, this: &JsValue, args: &js_sys::Array) -> JsValue;
}

/// `object.method(...args)` from JS, as an app calls it.
fn call(object: &JsValue, method: &str, args: &[JsValue]) -> JsValue {
    let function = Reflect::get(object, &method.into()).unwrap();
    apply(&function, object, &args.iter().collect())
}

async fn rejection_code(promise: JsValue) -> String {
    let error = JsFuture::from(Promise::from(promise))
        .await
        .expect_err("must reject");
    Reflect::get(&error, &"code".into())
        .unwrap()
        .as_string()
        .unwrap()
}

#[wasm_bindgen_test]
async fn bad_puts_are_refused_by_every_store_and_nothing_is_kept() {
    let token = server::token_alpha();
    let config = js_sys::Object::new();
    for (name, value) in [
        ("baseUrl", server::server_url()),
        ("realm", "alpha"),
        ("token", token),
    ] {
        Reflect::set(&config, &name.into(), &value.into()).unwrap();
    }
    let http = casweb::js::JsHttpStorage::new(config.into()).unwrap();
    let pending_name = unique("bad-puts-pending");
    let options = js_sys::Object::new();
    Reflect::set(
        &options,
        &"pendingStore".into(),
        &pending_name.clone().into(),
    )
    .unwrap();
    Reflect::set(&options, &"debounceMs".into(), &60_000.into()).unwrap();
    // The engine learns the server's maxNodeSize once it asked for it.
    JsFuture::from(http.info(None)).await.unwrap();
    let engine = JsFuture::from(casweb::js::JsBufferedHttpStorage::open(
        &http,
        Some(options.unchecked_into()),
    ))
    .await
    .unwrap();
    let cache_name = unique("bad-puts-cache");
    let cache = JsValue::from(
        casweb::js::JsIndexedDbStorage::open(cache_name.clone().into())
            .await
            .unwrap(),
    );
    let stack =
        JsValue::from(casweb::js::JsCachedStorage::new(cache.clone(), engine.clone()).unwrap());
    let memory = JsValue::from(casweb::js::JsMemoryStorage::new());

    let good = node::encode_successor(&[], unique("good").as_bytes(), 0).unwrap();
    let other = node::encode_successor(&[], unique("other").as_bytes(), 0).unwrap();
    let good_key = Key::for_bytes(&good).to_string();
    let corrupt = b"these bytes are no node".to_vec();
    let corrupt_key = Key::for_bytes(&corrupt).to_string();
    let big = node::encode_successor(&[], &vec![7u8; 5 << 20], 0).unwrap();
    let big_key = Key::for_bytes(&big).to_string();
    let array = |bytes: &[u8]| JsValue::from(Uint8Array::from(bytes));

    for (store, name) in [
        (&memory, "MemoryStorage"),
        (&cache, "IndexedDbStorage"),
        (&engine, "BufferedHttpStorage"),
        (&stack, "CachedStorage"),
    ] {
        let put = call(store, "put", &[good_key.clone().into(), array(&other)]);
        assert_eq!(rejection_code(put).await, "hash_mismatch", "{name}");
    }
    for (store, name) in [(&engine, "BufferedHttpStorage"), (&stack, "CachedStorage")] {
        let put = call(store, "put", &[corrupt_key.clone().into(), array(&corrupt)]);
        assert_eq!(rejection_code(put).await, "invalid_node", "{name}");
        let put = call(store, "put", &[big_key.clone().into(), array(&big)]);
        assert_eq!(rejection_code(put).await, "too_large", "{name}");
    }
    // Nothing reached the engine's buffer or its pending store, nor the cache under a wrong key.
    let stats = call(&engine, "stats", &[]);
    assert_eq!(
        Reflect::get(&stats, &"pending".into()).unwrap().as_f64(),
        Some(0.0)
    );
    let pending = IdbPendingStore::open(&pending_name).await.unwrap();
    assert!(pending.entries().await.unwrap().is_empty());
    pending.close();
    let cached = JsFuture::from(Promise::from(call(&cache, "get", &[good_key.into()])))
        .await
        .unwrap();
    assert!(
        cached.is_null(),
        "the cache kept bytes under a key they do not hash to"
    );
    let _ = call(&engine, "dispose", &[]);
    let _ = call(&cache, "close", &[]);
    IndexedDbStorage::delete_database(&cache_name)
        .await
        .unwrap();
    IndexedDbStorage::delete_database(&pending_name)
        .await
        .unwrap();
}
