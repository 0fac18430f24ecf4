//! Browser tests of the bounded cache (issue 17) in real headless Chromium against the real
//! reference server: `IndexedDbStorage` opened with `maxBytes` keeps its usage within the cap
//! while 40 MiB of files pass through it (misses refetched from the server and verified), loses
//! nothing pending when the server is down, keeps a pinned file readable offline, keeps its
//! usage record equal to a full scan (random operations, a connection closed mid-eviction, an
//! upgrade from schema 1), journals small puts and indexes them exactly, evicts by last access, survives two connections evicting and reading
//! the same database at once, retries a put once after a quota error, and its JS API.
//!
//! "Two tabs": two `IndexedDbStorage` connections to one database in one page. Each has its own
//! IndexedDB connection and its own in-memory view of the cap, as two tabs would; a second real
//! tab is out of reach of wasm-bindgen-test (one page per test binary).
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;

use std::collections::HashSet;

use bytes::Bytes;
use futures::future::{join, join_all};
use futures::StreamExt;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::chunker::{chunk_file, read_file, store_file, ChunkOptions};
use casweb::http::{HttpConfig, HttpStorage};
use casweb::js::{
    read_file_stream, store_file as js_store_file, JsCachedStorage, JsHttpStorage,
    JsIndexedDbStorage,
};
use casweb::storage::{IndexedDbOptions, IndexedDbStorage, Usage, SCHEMA_VERSION};
use casweb::sync::{Backoff, BufferedConfig, BufferedStorage};
use casweb::{CachedStorage, Error, Key, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
    #[wasm_bindgen(js_name = patternBlob)]
    fn pattern_blob(size: f64, seed: u32) -> JsValue;
    #[wasm_bindgen(js_name = checkPatternStream)]
    async fn check_pattern_stream(stream: JsValue, offset: f64, seed: u32) -> JsValue;
    #[wasm_bindgen(js_name = countingProvider)]
    fn counting_provider(inner: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = collectAsync)]
    async fn collect_async(iterable: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = takeAsync)]
    async fn take_async(iterable: &JsValue, count: u32) -> JsValue;
    #[wasm_bindgen(js_name = createSchema1Database)]
    async fn create_schema1_database(name: &str, keys: Array, values: Array);
    #[wasm_bindgen(js_name = ageAccessTimes)]
    async fn age_access_times(name: &str, version: u32, ms: f64);
    #[wasm_bindgen(js_name = countRecords)]
    async fn count_records(name: &str, version: u32, store: &str) -> JsValue;
}

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// The cap of the 40 MiB tests.
const CAP: u64 = 8 * MIB as u64;
/// Their node size: a 4 MiB file is 64 leaves and a root.
const CHUNK: usize = 64 * KIB;

fn unique(tag: &str) -> String {
    format!(
        "casweb-test-{tag}-{}-{}",
        js_sys::Date::now(),
        js_sys::Math::random()
    )
}

fn seed() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32 | 1
}

/// `len` bytes no earlier run stored (the server keeps its data between runs).
fn unique_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut state = u64::from(seed) << 32 | u64::from(seed.rotate_left(7)) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn node(i: usize, len: usize, salt: u32) -> (Key, Bytes) {
    let mut bytes = unique_bytes(len.max(16), salt ^ (i as u32).wrapping_mul(2_654_435_761));
    bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

fn chunked() -> ChunkOptions {
    ChunkOptions {
        chunk_size: CHUNK,
        ..Default::default()
    }
}

fn alpha() -> HttpStorage {
    HttpStorage::new(HttpConfig::new(
        server::server_url(),
        "alpha",
        server::token_alpha(),
    ))
    .unwrap()
}

async fn open_cache(name: &str, max_bytes: Option<u64>) -> IndexedDbStorage {
    IndexedDbStorage::open_with(name, IndexedDbOptions { max_bytes })
        .await
        .unwrap()
}

async fn drop_database(storage: IndexedDbStorage) {
    let name = storage.name().to_owned();
    storage.close();
    drop(storage);
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

/// The usage record equals what a full scan of the stored values finds.
async fn assert_usage_matches_scan(storage: &IndexedDbStorage, when: &str) -> Usage {
    let usage = storage.usage().await.unwrap();
    let scan = storage.scan_usage().await.unwrap();
    assert_eq!(usage, scan.usage, "{when}: usage record vs full scan");
    assert_eq!(
        (scan.meta_nodes, scan.meta_bytes),
        (scan.usage.nodes, scan.usage.bytes),
        "{when}: meta records vs values"
    );
    usage
}

/// Samples `storage.usage()` every few milliseconds until `done` is set; the largest seen.
async fn max_usage_while(storage: &IndexedDbStorage, done: &std::cell::Cell<bool>) -> u64 {
    let mut max = 0;
    while !done.get() {
        max = max.max(storage.usage().await.unwrap().bytes);
        TimeoutFuture::new(5).await;
    }
    max
}

fn all_keys(data: &[u8]) -> Vec<Key> {
    chunk_file(data, &chunked())
        .unwrap()
        .nodes
        .iter()
        .map(|(key, _)| *key)
        .collect()
}

async fn assert_all_owned(http: &HttpStorage, keys: &[Key]) {
    for batch in keys.chunks(500) {
        let check = http.check_many(batch).await.unwrap();
        assert!(
            check.missing.is_empty() && check.unowned.is_empty(),
            "{} missing, {} unowned of {}",
            check.missing.len(),
            check.unowned.len(),
            batch.len()
        );
    }
}

#[wasm_bindgen_test]
async fn a_cap_of_8_mib_holds_while_40_mib_of_synced_files_pass_through_and_all_read_back() {
    // Through the JS API, as an app calls it: CachedStorage(IndexedDbStorage{maxBytes}, remote).
    let name = unique("cap-40");
    let options = Object::new();
    Reflect::set(&options, &"maxBytes".into(), &(CAP as f64).into()).unwrap();
    let cache =
        JsIndexedDbStorage::open_with_options(name.clone().into(), Some(options.unchecked_into()))
            .await
            .unwrap();
    let storage = cache.storage().clone();
    let http = JsHttpStorage::new(http_config()).unwrap();
    let remote = counting_provider(&JsValue::from(http));
    let cache = JsValue::from(cache);
    let stack = JsValue::from(JsCachedStorage::new(cache.clone(), remote.clone()).unwrap());

    let done = std::cell::Cell::new(false);
    let files = 10;
    let size = 4.0 * MIB as f64;
    let seeds: Vec<u32> = (0..files).map(|_| seed()).collect();
    let store_all = async {
        let mut roots = Vec::new();
        for seed in &seeds {
            let options = Object::new();
            Reflect::set(&options, &"chunkSize".into(), &(CHUNK as f64).into()).unwrap();
            let root = JsFuture::from(js_store_file(
                stack.clone(),
                pattern_blob(size, *seed),
                Some(options.unchecked_into()),
            ))
            .await
            .unwrap();
            let usage = storage.usage().await.unwrap();
            assert!(
                usage.bytes <= CAP + CHUNK as u64,
                "after a file: {usage:?} over the cap {CAP} + one node"
            );
            roots.push(root);
        }
        done.set(true);
        roots
    };
    let (roots, max_seen) = join(store_all, max_usage_while(&storage, &done)).await;
    assert!(
        max_seen <= CAP + CHUNK as u64,
        "usage reached {max_seen} while storing, over {CAP} + one node"
    );
    let stats = storage.stats();
    assert!(stats.nodes_evicted > 0, "nothing was evicted: {stats:?}");

    // Every file back, verified node by node and byte by byte; the cache misses go to the
    // server (through the counting provider) and are written back within the cap.
    let gets_before = Reflect::get(&remote, &"gets".into())
        .unwrap()
        .as_f64()
        .unwrap();
    for (root, seed) in roots.iter().zip(&seeds) {
        let stream = read_file_stream(stack.clone(), root.clone(), None).unwrap();
        let checked = check_pattern_stream(stream, 0.0, *seed).await;
        let field = |name: &str| Reflect::get(&checked, &name.into()).unwrap().as_f64();
        assert_eq!(field("mismatch"), Some(-1.0), "a byte differs");
        assert_eq!(field("bytes"), Some(size));
        assert!(storage.usage().await.unwrap().bytes <= CAP + CHUNK as u64);
    }
    let refetched = Reflect::get(&remote, &"gets".into())
        .unwrap()
        .as_f64()
        .unwrap()
        - gets_before;
    assert!(
        refetched >= 4.0 * 32.0,
        "only {refetched} gets reached the server"
    );
    let usage = assert_usage_matches_scan(&storage, "after 40 MiB").await;
    web_sys::console::log_1(
        &format!(
            "cap {CAP}: max usage seen {max_seen}, {} nodes evicted in {} batches, {refetched} \
             refetched, final {usage:?}",
            storage.stats().nodes_evicted,
            storage.stats().eviction_batches
        )
        .into(),
    );
    drop_database(storage).await;
}

fn http_config() -> JsValue {
    let config = Object::new();
    Reflect::set(&config, &"baseUrl".into(), &server::server_url().into()).unwrap();
    Reflect::set(&config, &"realm".into(), &"alpha".into()).unwrap();
    Reflect::set(&config, &"token".into(), &server::token_alpha().into()).unwrap();
    config.into()
}

#[wasm_bindgen_test]
async fn with_the_server_stopped_a_capped_cache_loses_nothing_pending() {
    let config = BufferedConfig {
        debounce_ms: 20,
        max_buffer_bytes: 64 * MIB,
        backoff: Backoff {
            base_ms: 50,
            max_ms: 400,
        },
        pending_store: Some(unique("pending")),
        ..BufferedConfig::default()
    };
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    let cache = open_cache(&unique("offline"), Some(CAP)).await;
    let storage = CachedStorage::new(cache.clone(), engine.clone());

    server::control_stop_main().await;
    let seeds: Vec<u32> = (0..10).map(|_| seed()).collect();
    let mut roots = Vec::new();
    let mut keys = Vec::new();
    for seed in &seeds {
        let data = unique_bytes(4 * MIB, *seed);
        roots.push(store_file(&storage, &data, &chunked()).await.unwrap());
        keys.extend(all_keys(&data));
        let usage = cache.usage().await.unwrap();
        assert!(usage.bytes <= CAP + CHUNK as u64, "{usage:?}");
    }
    assert!(cache.stats().nodes_evicted > 0, "{:?}", cache.stats());
    assert_eq!(engine.stats().pending, keys.len(), "every node is pending");
    // Everything reads back while the server is down: from the cache or the pending buffer.
    for (root, seed) in roots.iter().zip(&seeds) {
        let file = read_file(&storage, *root).await.unwrap();
        assert!(file.data == unique_bytes(4 * MIB, *seed), "file differs");
    }

    server::control_start_main().await;
    let mut waited = 0;
    while engine.stats().pending > 0 {
        let _ = engine.flush().await;
        waited += 1;
        assert!(waited < 40, "still {} pending", engine.stats().pending);
    }
    assert_all_owned(engine.remote(), &keys).await;
    engine.dispose();
    assert_usage_matches_scan(&cache, "after the outage").await;
    drop_database(cache).await;
}

#[wasm_bindgen_test]
async fn a_pinned_5_mib_file_stays_readable_offline_after_40_mib_passed_through() {
    let http = alpha();
    let pinned_data = unique_bytes(5 * MIB, seed());
    // Stored on the server only: pinning fetches every node.
    let pinned_root = store_file(&http, &pinned_data, &chunked()).await.unwrap();
    let pinned_nodes = all_keys(&pinned_data).len() as u64;
    let cache = open_cache(&unique("pinned"), Some(CAP)).await;
    let pinned = cache.pin_from(pinned_root, &http).await.unwrap();
    assert_eq!(pinned.fetched, pinned_nodes);
    assert_eq!(pinned.nodes, pinned_nodes);
    let usage = cache.usage().await.unwrap();
    assert_eq!(usage.pinned_bytes, pinned.bytes);
    assert!(pinned.bytes > 5 * MIB as u64);
    assert_eq!(cache.pins().await.unwrap().len(), 1);
    // Pinning it again is the same pin.
    assert_eq!(cache.pin(pinned_root).await.unwrap().fetched, 0);

    let storage = CachedStorage::new(cache.clone(), http.clone());
    let mut last = None;
    for _ in 0..10 {
        let data = unique_bytes(4 * MIB, seed());
        last = Some((store_file(&storage, &data, &chunked()).await.unwrap(), data));
        let usage = cache.usage().await.unwrap();
        assert!(usage.bytes <= CAP + CHUNK as u64, "{usage:?}");
        assert_eq!(usage.pinned_bytes, pinned.bytes);
    }
    assert!(cache.stats().nodes_evicted > 0);
    assert_usage_matches_scan(&cache, "after 40 MiB around a pin").await;

    server::control_stop_main().await;
    let offline = read_file(&cache, pinned_root).await;
    let through = read_file(&storage, pinned_root).await;
    server::control_start_main().await;
    assert!(
        offline.unwrap().data == pinned_data,
        "the pinned file differs"
    );
    assert!(through.unwrap().data == pinned_data);

    // 5 MiB pinned + 4 MiB more would pass the 8 MiB cap: refused, nothing pinned.
    let (last_root, last_data) = last.unwrap();
    let refused = cache.pin_from(last_root, &http).await.unwrap_err();
    assert!(
        matches!(refused, Error::CapExceeded { root, max, .. } if root == last_root && max == CAP),
        "{refused:?}"
    );
    assert_eq!(refused.code(), "cap_exceeded");
    assert_eq!(cache.usage().await.unwrap().pinned_bytes, pinned.bytes);
    assert_eq!(cache.pins().await.unwrap().len(), 1);
    // A DAG larger than the cap alone fails before it is all fetched.
    let huge = store_file(&http, &unique_bytes(9 * MIB, seed()), &chunked())
        .await
        .unwrap();
    assert_eq!(
        cache.pin_from(huge, &http).await.unwrap_err().code(),
        "cap_exceeded"
    );
    // A pinned node cannot be deleted.
    assert_eq!(
        cache.delete(pinned_root).await.unwrap_err(),
        Error::Pinned { key: pinned_root }
    );

    assert!(cache.unpin(pinned_root).await.unwrap());
    assert!(!cache.unpin(pinned_root).await.unwrap());
    assert_eq!(cache.usage().await.unwrap().pinned_bytes, 0);
    let second = cache.pin_from(last_root, &http).await.unwrap();
    assert_eq!(cache.usage().await.unwrap().pinned_bytes, second.bytes);
    assert!(read_file(&cache, last_root).await.unwrap().data == last_data);
    let usage = cache.evict().await.unwrap();
    assert!(usage.bytes <= CAP, "{usage:?}");
    assert_usage_matches_scan(&cache, "after unpin and pin").await;
    drop_database(cache).await;
}

#[wasm_bindgen_test]
async fn usage_matches_a_full_scan_after_random_puts_deletes_and_evictions() {
    let name = unique("random");
    let cache = open_cache(&name, Some(256 * KIB as u64)).await;
    let salt = seed();
    let mut rng = u64::from(salt) | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut stored: Vec<Key> = Vec::new();
    for round in 0..12 {
        // A tick of puts: new nodes of 1-100 KiB (some large enough to be checked before
        // writing), re-puts and duplicates within the tick.
        let mut batch = Vec::new();
        for _ in 0..(5 + next(30)) {
            let i = next(200) as usize;
            let len = 1 + next(100 * KIB as u64) as usize;
            batch.push(node(i, len.max(16) + i, salt));
        }
        let puts = join_all(batch.iter().map(|(k, b)| cache.put(*k, b.clone()))).await;
        puts.into_iter().collect::<Result<Vec<_>, _>>().unwrap();
        stored.extend(batch.iter().map(|(k, _)| *k));
        // Deletes, some of keys already gone.
        for _ in 0..next(4) {
            let key = stored[next(stored.len() as u64) as usize];
            cache.delete(key).await.unwrap();
        }
        cache.evict().await.unwrap();
        let usage = assert_usage_matches_scan(&cache, &format!("round {round}")).await;
        assert!(usage.bytes <= 256 * KIB as u64, "{usage:?}");
    }
    assert!(cache.stats().nodes_evicted > 0);

    // keys() lists exactly what is stored, in key order, a page at a time.
    let keys: Vec<Key> = cache
        .keys()
        .map(|key| key.unwrap())
        .collect::<Vec<_>>()
        .await;
    let mut sorted: Vec<String> = keys.iter().map(Key::to_string).collect();
    sorted.sort();
    assert_eq!(keys.iter().map(Key::to_string).collect::<Vec<_>>(), sorted);
    assert_eq!(keys.len() as u64, cache.usage().await.unwrap().nodes);
    cache.clear().await.unwrap();
    assert_eq!(
        assert_usage_matches_scan(&cache, "cleared").await,
        Usage::default()
    );
    assert_eq!(cache.keys().count().await, 0);
    drop_database(cache).await;
}

#[wasm_bindgen_test]
async fn a_connection_closed_or_dropped_mid_eviction_leaves_usage_equal_to_a_scan() {
    let name = unique("reload");
    let salt = seed();
    let nodes: Vec<(Key, Bytes)> = (0..1500).map(|i| node(i, 4 * KIB, salt)).collect();
    let store = open_cache(&name, None).await;
    for result in join_all(nodes.iter().map(|(k, b)| store.put(*k, b.clone()))).await {
        result.unwrap();
    }
    store.close();

    for round in 0..3 {
        // Opening with a cap far below the usage starts eviction at once (batches of 256);
        // close (round 0, 2) or drop (round 1) the connection as soon as one batch is done.
        let capped = open_cache(&name, Some(512 * KIB as u64)).await;
        let mut waited = 0;
        while capped.stats().eviction_batches == 0 {
            TimeoutFuture::new(1).await;
            waited += 1;
            assert!(waited < 5000, "no eviction started");
        }
        if round == 1 {
            drop(capped);
        } else {
            capped.close();
        }
        let reopened = open_cache(&name, None).await;
        let usage = assert_usage_matches_scan(&reopened, &format!("reopened {round}")).await;
        assert!(usage.nodes > 0);
        reopened.close();
    }
    let capped = open_cache(&name, Some(512 * KIB as u64)).await;
    let usage = capped.evict().await.unwrap();
    assert!(usage.bytes <= 512 * KIB as u64, "{usage:?}");
    assert_usage_matches_scan(&capped, "evicted to the cap").await;
    // What is left are the last nodes put (least recently used went first).
    let kept: HashSet<Key> = capped.keys().map(|k| k.unwrap()).collect().await;
    assert!(kept.contains(&nodes[1499].0) && !kept.contains(&nodes[0].0));
    drop_database(capped).await;
}

async fn records(name: &str, store: &str) -> f64 {
    count_records(name, SCHEMA_VERSION, store)
        .await
        .as_f64()
        .unwrap()
}

#[wasm_bindgen_test]
async fn small_puts_are_journaled_then_indexed_exactly_on_a_pause_on_usage_and_after_a_reopen() {
    let name = unique("journal");
    let storage = open_cache(&name, None).await;
    let salt = seed();
    let nodes: Vec<(Key, Bytes)> = (0..400).map(|i| node(i, 4 * KIB, salt)).collect();
    let put_all =
        |slice: &[(Key, Bytes)]| join_all(slice.iter().map(|(k, b)| storage.put(*k, b.clone())));
    let bytes = |slice: &[(Key, Bytes)]| slice.iter().map(|(_, b)| b.len() as u64).sum::<u64>();

    // Two batches (the second re-puts a third of the first): values only, one journal record
    // each. The background indexing waits for a pause, so unless this page stalled for it,
    // nothing is indexed yet.
    assert!(put_all(&nodes[..300]).await.iter().all(Result::is_ok));
    assert!(put_all(&nodes[..100]).await.iter().all(Result::is_ok));
    let before = storage.stats().journal_indexings;
    let (meta, journal) = (
        records(&name, "meta").await,
        records(&name, "journal").await,
    );
    if before == 0 && storage.stats().journal_indexings == 0 {
        assert_eq!(
            (meta, journal),
            (0.0, 2.0),
            "meta records and journal records before"
        );
    }
    assert_eq!(records(&name, "nodes").await, 300.0);

    // usage() indexes first: exact, the re-puts counted once.
    let exact = Usage {
        bytes: bytes(&nodes[..300]),
        nodes: 300,
        pinned_bytes: 0,
    };
    assert_eq!(storage.usage().await.unwrap(), exact);
    assert_eq!(records(&name, "meta").await, 300.0);
    assert_eq!(records(&name, "journal").await, 0.0);

    // A pause indexes in the background.
    let indexings = storage.stats().journal_indexings;
    assert!(put_all(&nodes[300..350]).await.iter().all(Result::is_ok));
    let mut waited = 0;
    while records(&name, "journal").await > 0.0 {
        assert!(
            waited < 5_000,
            "the journal was not indexed 5 s after the last put"
        );
        TimeoutFuture::new(50).await;
        waited += 50;
    }
    assert!(storage.stats().journal_indexings > indexings);
    assert_eq!(records(&name, "meta").await, 350.0);

    // A journal left by a connection closed before its pause is indexed by the next one.
    assert!(put_all(&nodes[350..]).await.iter().all(Result::is_ok));
    storage.close();
    drop(storage);
    assert_eq!(records(&name, "journal").await, 1.0);
    let reopened = open_cache(&name, None).await;
    let usage = assert_usage_matches_scan(&reopened, "reopened with a journal").await;
    assert_eq!(
        usage,
        Usage {
            bytes: bytes(&nodes),
            nodes: 400,
            pinned_bytes: 0
        }
    );
    drop_database(reopened).await;
}

#[wasm_bindgen_test]
async fn eviction_takes_the_least_recently_read_nodes() {
    let name = unique("lru");
    let salt = seed();
    let nodes: Vec<(Key, Bytes)> = (0..100).map(|i| node(i, KIB, salt)).collect();
    let per_node = nodes[0].1.len() as u64;
    let cache = open_cache(&name, Some(100 * per_node)).await;
    for (key, bytes) in &nodes {
        cache.put(*key, bytes.clone()).await.unwrap();
    }
    // As if stored an hour ago (their meta records written first: usage() indexes the journal
    // of small puts); then the first 10 are read now.
    cache.usage().await.unwrap();
    age_access_times(&name, SCHEMA_VERSION, 3_600_000.0).await;
    for (key, _) in &nodes[..10] {
        assert!(cache.get(*key).await.unwrap().is_some());
    }
    cache.evict().await.unwrap(); // writes the access log first
    assert_eq!(cache.stats().access_writes, 10);
    // 20 new nodes: eviction frees down to 90 % of the cap, from the least recently used.
    let more: Vec<(Key, Bytes)> = (100..120).map(|i| node(i, KIB, salt)).collect();
    for (key, bytes) in &more {
        cache.put(*key, bytes.clone()).await.unwrap();
    }
    let usage = cache.evict().await.unwrap();
    assert!(usage.bytes <= 100 * per_node);
    let kept: HashSet<Key> = cache.keys().map(|k| k.unwrap()).collect().await;
    for (key, _) in nodes[..10].iter().chain(&more) {
        assert!(
            kept.contains(key),
            "a recently read or new node was evicted"
        );
    }
    assert!(
        !kept.contains(&nodes[10].0),
        "the oldest unread node stayed"
    );
    drop_database(cache).await;
}

#[wasm_bindgen_test]
async fn upgrading_a_schema_1_database_keeps_its_nodes_and_builds_usage() {
    let name = unique("upgrade");
    let salt = seed();
    let nodes: Vec<(Key, Bytes)> = (0..50).map(|i| node(i, 3 * KIB + i, salt)).collect();
    let keys: Array = nodes
        .iter()
        .map(|(k, _)| JsValue::from(k.to_string()))
        .collect();
    let values: Array = nodes
        .iter()
        .map(|(_, b)| JsValue::from(Uint8Array::from(&b[..])))
        .collect();
    create_schema1_database(&name, keys, values).await;
    let total: u64 = nodes.iter().map(|(_, b)| b.len() as u64).sum();
    let store = open_cache(&name, None).await;
    let usage = assert_usage_matches_scan(&store, "upgraded").await;
    assert_eq!(
        (usage.bytes, usage.nodes, usage.pinned_bytes),
        (total, 50, 0)
    );
    for (key, bytes) in &nodes {
        assert_eq!(store.get(*key).await.unwrap().as_ref(), Some(bytes));
    }
    store.close();
    // The cap (100 KiB) is below the 150 KiB stored: eviction starts at open.
    let cache = open_cache(&name, Some(100 * KIB as u64)).await;
    let usage = cache.evict().await.unwrap();
    assert!(
        usage.bytes <= 100 * KIB as u64 && usage.nodes < 50,
        "{usage:?}"
    );
    assert_usage_matches_scan(&cache, "upgraded and evicted").await;
    let kept: Vec<Key> = cache.keys().map(|k| k.unwrap()).collect().await;
    assert_eq!(kept.len() as u64, usage.nodes);
    for (key, bytes) in nodes.iter().filter(|(k, _)| kept.contains(k)) {
        assert_eq!(cache.get(*key).await.unwrap().as_ref(), Some(bytes));
    }
    drop_database(cache).await;
}

#[wasm_bindgen_test]
async fn two_connections_evicting_and_reading_at_once_lose_no_pinned_or_pending_node() {
    let name = unique("two-tabs");
    let cap = 2 * MIB as u64;
    let config = BufferedConfig {
        debounce_ms: 60_000, // everything stays pending until the flush at the end
        max_buffer_bytes: 64 * MIB,
        pending_store: Some(unique("two-tabs-pending")),
        ..BufferedConfig::default()
    };
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    let first = open_cache(&name, Some(cap)).await;
    let second = open_cache(&name, Some(cap)).await;
    let one = CachedStorage::new(first.clone(), engine.clone());
    let two = CachedStorage::new(second.clone(), engine.clone());

    let pinned_data = unique_bytes(MIB, seed());
    let pinned_root = store_file(&one, &pinned_data, &chunked()).await.unwrap();
    first.pin(pinned_root).await.unwrap();

    let mut keys = all_keys(&pinned_data);
    let files: Vec<Vec<u8>> = (0..12).map(|_| unique_bytes(MIB, seed())).collect();
    for data in &files {
        keys.extend(all_keys(data));
    }
    let work = |storage: CachedStorage<IndexedDbStorage, _>, files: Vec<Vec<u8>>| {
        let pinned = pinned_data.clone();
        async move {
            let mut roots = Vec::new();
            for data in &files {
                roots.push(store_file(&storage, data, &chunked()).await.unwrap());
                // Read everything stored so far and the pinned file, while the other
                // connection writes and evicts.
                for (root, data) in roots.iter().zip(&files) {
                    assert!(read_file(&storage, *root).await.unwrap().data == *data);
                }
                assert!(read_file(storage.cache(), pinned_root).await.unwrap().data == pinned);
            }
        }
    };
    let (a, b) = files.split_at(6);
    join(work(one, a.to_vec()), work(two, b.to_vec())).await;
    assert!(first.stats().nodes_evicted + second.stats().nodes_evicted > 0);
    first.evict().await.unwrap();
    second.evict().await.unwrap();

    // The pinned file is whole in the database, through either connection.
    assert!(read_file(&second, pinned_root).await.unwrap().data == pinned_data);
    assert_eq!(second.pins().await.unwrap()[0].root, pinned_root);
    let usage = assert_usage_matches_scan(&second, "two connections").await;
    assert!(usage.bytes <= cap, "{usage:?}");
    // Nothing pending was lost: every node reaches the server.
    assert_eq!(engine.stats().pending, keys.len());
    let result = engine.flush().await.unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_all_owned(engine.remote(), &keys).await;
    engine.dispose();
    first.close();
    drop_database(second).await;
}

#[wasm_bindgen_test]
async fn a_quota_error_evicts_and_retries_once() {
    let cache = open_cache(&unique("quota"), Some(u64::MAX)).await;
    let salt = seed();
    let nodes: Vec<(Key, Bytes)> = (0..40).map(|i| node(i, 16 * KIB, salt)).collect();
    for result in join_all(nodes.iter().map(|(k, b)| cache.put(*k, b.clone()))).await {
        result.unwrap();
    }
    assert_eq!(cache.stats().nodes_evicted, 0, "no cap: nothing evicted");
    // One refused batch: eviction frees at least its bytes, the retry goes through.
    cache.inject_quota_failures(1);
    let (key, bytes) = node(100, 16 * KIB, salt);
    cache.put(key, bytes.clone()).await.unwrap();
    assert!(cache.stats().nodes_evicted >= 1);
    assert_eq!(cache.get(key).await.unwrap(), Some(bytes));
    // Refused twice: reported.
    cache.inject_quota_failures(2);
    let (key, bytes) = node(101, 16 * KIB, salt);
    let error = cache.put(key, bytes).await.unwrap_err();
    assert_eq!(error.code(), "quota_exceeded");
    assert_eq!(cache.get(key).await.unwrap(), None);
    assert_usage_matches_scan(&cache, "after quota errors").await;
    drop_database(cache).await;
}

async fn resolve(promise: Promise) -> JsValue {
    JsFuture::from(promise).await.expect("the call succeeds")
}

async fn rejection_code(promise: Promise) -> String {
    let error = JsFuture::from(promise)
        .await
        .expect_err("the call must reject");
    Reflect::get(&error, &"code".into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

fn js_call(object: &JsValue, method: &str, args: Vec<JsValue>) -> Promise {
    call(object, method, args.into_boxed_slice()).unchecked_into()
}

fn number(object: &JsValue, name: &str) -> f64 {
    Reflect::get(object, &name.into())
        .unwrap()
        .as_f64()
        .unwrap()
}

fn options(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in entries {
        Reflect::set(&object, &(*name).into(), value).unwrap();
    }
    object.into()
}

#[wasm_bindgen_test]
async fn the_js_api_pins_lists_deletes_and_reports_usage_with_typed_errors() {
    let name = unique("js-api");
    let cache = JsValue::from(
        JsIndexedDbStorage::open_with_options(
            name.clone().into(),
            Some(options(&[("maxBytes", (MIB as f64).into())]).unchecked_into()),
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        Reflect::get(&cache, &"maxBytes".into()).unwrap().as_f64(),
        Some(MIB as f64)
    );
    let remote = JsValue::from(casweb::js::JsMemoryStorage::new());
    let data = unique_bytes(200 * KIB, seed());
    let dag = chunk_file(
        &data,
        &ChunkOptions {
            chunk_size: 16 * KIB,
            ..Default::default()
        },
    )
    .unwrap();
    for (key, bytes) in &dag.nodes {
        resolve(js_call(
            &remote,
            "put",
            vec![key.to_string().into(), Uint8Array::from(&bytes[..]).into()],
        ))
        .await;
    }
    let root: JsValue = dag.root.to_string().into();

    // Not stored and no remote: not_found. With `from`: fetched, verified, pinned.
    assert_eq!(
        rejection_code(js_call(&cache, "pin", vec![root.clone()])).await,
        "not_found"
    );
    let pinned = resolve(js_call(
        &cache,
        "pin",
        vec![root.clone(), options(&[("from", remote.clone())])],
    ))
    .await;
    assert_eq!(number(&pinned, "nodes"), dag.nodes.len() as f64);
    assert_eq!(number(&pinned, "fetched"), dag.nodes.len() as f64);
    let usage = resolve(js_call(&cache, "usage", vec![])).await;
    assert_eq!(number(&usage, "pinnedBytes"), number(&pinned, "bytes"));
    assert_eq!(number(&usage, "nodes"), dag.nodes.len() as f64);
    let pins = Array::from(&resolve(js_call(&cache, "pins", vec![])).await);
    assert_eq!(pins.length(), 1);
    assert_eq!(Reflect::get(&pins.get(0), &"root".into()).unwrap(), root);

    // keys(): an async iterable, complete, and `break` stops it.
    let keys = call(&cache, "keys", Box::new([]));
    let listed = Array::from(&collect_async(&keys).await);
    assert_eq!(listed.length() as usize, dag.nodes.len());
    let first_two = Array::from(&take_async(&call(&cache, "keys", Box::new([])), 2).await);
    assert_eq!(first_two.length(), 2);
    assert_eq!(first_two.get(0), listed.get(0));

    // delete: refused for a pinned node, true then false once unpinned.
    assert_eq!(
        rejection_code(js_call(&cache, "delete", vec![root.clone()])).await,
        "pinned"
    );
    assert_eq!(
        resolve(js_call(&cache, "unpin", vec![root.clone()])).await,
        JsValue::TRUE
    );
    assert_eq!(
        resolve(js_call(&cache, "delete", vec![root.clone()])).await,
        JsValue::TRUE
    );
    assert_eq!(
        resolve(js_call(&cache, "delete", vec![root.clone()])).await,
        JsValue::FALSE
    );
    resolve(js_call(&cache, "clear", vec![])).await;
    let usage = resolve(js_call(&cache, "usage", vec![])).await;
    assert_eq!(
        (number(&usage, "bytes"), number(&usage, "nodes")),
        (0.0, 0.0)
    );

    // The origin's estimate and persistence.
    let class = Reflect::get(&cache, &"constructor".into()).unwrap();
    let estimate = resolve(js_call(&class, "estimate", vec![])).await;
    assert!(number(&estimate, "quota") > 0.0);
    assert!(number(&estimate, "usage") >= 0.0);
    let persisted = resolve(js_call(&class, "persist", vec![])).await;
    assert!(persisted.as_bool().is_some(), "{persisted:?}");

    // Typed errors: options, keys, a signal already aborted, a closed store.
    for bad in [
        options(&[("maxBytes", 0.into())]),
        options(&[("maxBytes", 1.5.into())]),
        options(&[("maxBytes", "big".into())]),
        options(&[("maxbytes", 10.into())]),
    ] {
        let open = js_call(&class, "open", vec![unique("bad").into(), bad]);
        assert_eq!(rejection_code(open).await, "invalid_argument");
    }
    assert_eq!(
        rejection_code(js_call(
            &cache,
            "pin",
            vec![root.clone(), options(&[("form", remote.clone())])]
        ))
        .await,
        "invalid_argument"
    );
    assert_eq!(
        rejection_code(js_call(&cache, "delete", vec!["nope".into()])).await,
        "invalid_key"
    );
    let controller = web_sys::AbortController::new().unwrap();
    controller.abort();
    let aborted = options(&[("signal", controller.signal().into())]);
    assert_eq!(
        rejection_code(js_call(&cache, "usage", vec![aborted.clone()])).await,
        "aborted"
    );
    assert_eq!(
        rejection_code(js_call(
            &cache,
            "pin",
            vec![
                root.clone(),
                options(&[("signal", controller.signal().into())])
            ]
        ))
        .await,
        "aborted"
    );
    let _ = call(&cache, "close", Box::new([]));
    assert_eq!(
        rejection_code(js_call(&cache, "usage", vec![])).await,
        "closed"
    );
    IndexedDbStorage::delete_database(&name).await.unwrap();
}
