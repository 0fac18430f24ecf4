//! Browser tests of the sync engine (`BufferedStorage` over `HttpStorage`) in real headless
//! Chromium against the real reference server: composition with the IndexedDB cache, request
//! counts per DAG level, claims across realms, debounce, concurrent flushes, backpressure, and
//! faults (server killed mid-flush, injected 503s, reload mid-sync, bad getChildKeys), and two
//! replicas of one postgres+s3 backend taking the requests in turn: in every case the server
//! ends up owning every node, and nothing is lost.
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;
#[path = "support/unique_dag.rs"]
mod unique_dag;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use futures::future::join_all;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::chunker::{store_file, ChunkOptions, FileDag};
use casweb::http::{HttpConfig, HttpStorage};
use casweb::storage::{IdbPendingStore, IndexedDbStorage};
use casweb::sync::{Backoff, CheckResult, KeyStatus, SyncRemote};
use casweb::sync::{BufferedConfig, BufferedStorage, SyncHooks};
use casweb::{CachedStorage, Error, Key, Result, StorageProvider};
use unique_dag::{unique, unique_dag};

wasm_bindgen_test_configure!(run_in_browser);

fn http(base_url: &str, realm: &str, token: &str) -> HttpStorage {
    HttpStorage::new(HttpConfig::new(base_url, realm, token)).unwrap()
}

fn alpha() -> HttpStorage {
    http(server::server_url(), "alpha", server::token_alpha())
}

/// Engine settings for tests: own pending store, quick timers.
fn config() -> BufferedConfig {
    BufferedConfig {
        debounce_ms: 20,
        backoff: Backoff {
            base_ms: 50,
            max_ms: 400,
        },
        pending_store: Some(unique("pending")),
        ..BufferedConfig::default()
    }
}

/// Asserts that `realm_storage` owns every node of `dag`.
async fn assert_all_owned(storage: &HttpStorage, dag: &FileDag) {
    let keys: Vec<Key> = dag.nodes.iter().map(|(k, _)| *k).collect();
    let check = storage.check_many(&keys).await.unwrap();
    assert!(
        check.missing.is_empty(),
        "{} nodes missing",
        check.missing.len()
    );
    assert!(
        check.unowned.is_empty(),
        "{} nodes unowned",
        check.unowned.len()
    );
    assert_eq!(check.owned.len(), keys.len());
}

/// Waits (polling) until the engine has nothing pending, up to `ms`.
/// Waits until nothing is pending and the pass that synced it has ended: `pending` drops as
/// each level is acknowledged, before the pass (its last pending-store delete included) ends and
/// is counted in `passes`; a flush with nothing to do resolves when the running pass ends, and
/// starts none.
async fn until_synced(engine: &BufferedStorage<impl SyncRemote + StorageProvider>, ms: u32) {
    let mut waited = 0;
    while engine.stats().pending > 0 {
        assert!(
            waited < ms,
            "still {} pending after {ms} ms: {:?}",
            engine.stats().pending,
            engine.failures().first()
        );
        TimeoutFuture::new(50).await;
        waited += 50;
    }
    let passes = engine.stats().passes;
    let rest = engine.flush().await.unwrap();
    assert!(rest.synced.is_empty() && rest.failed.is_empty(), "{rest:?}");
    assert!(
        engine.stats().passes <= passes + 1,
        "the flush ran a pass of its own"
    );
}

async fn put_all<S: StorageProvider>(storage: &S, nodes: &[(Key, Bytes)]) {
    for result in join_all(nodes.iter().map(|(k, b)| storage.put(*k, b.clone()))).await {
        result.unwrap();
    }
}

#[wasm_bindgen_test]
async fn cached_indexeddb_over_the_engine_syncs_a_thousand_node_dag_with_hooks_in_order() {
    let dag = unique_dag(112_000);
    assert!(dag.nodes.len() >= 1000, "{} nodes", dag.nodes.len());
    let events: Rc<RefCell<Vec<String>>> = Rc::default();
    let mut config = config();
    config.hooks = SyncHooks {
        on_sync_start: Some(Rc::new({
            let events = events.clone();
            move || {
                events.borrow_mut().push("start".into());
                Box::pin(async { Ok(()) })
            }
        })),
        on_sync_end: Some(Rc::new({
            let events = events.clone();
            move |result| {
                events.borrow_mut().push(format!(
                    "end {} {} {}",
                    result.synced.len(),
                    result.skipped.len(),
                    result.failed.len()
                ))
            }
        })),
        on_key_sync: Some(Rc::new({
            let events = events.clone();
            move |_, status: KeyStatus, _| events.borrow_mut().push(status.as_str().into())
        })),
    };
    config.debounce_ms = 60_000; // only the explicit flush below
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    let cache_name = unique("cache");
    let cache = IndexedDbStorage::open(&cache_name).await.unwrap();
    let storage = CachedStorage::new(cache.clone(), engine.clone());
    let data_root = store_file(&storage, b"", &ChunkOptions::default())
        .await
        .unwrap();
    put_all(&storage, &dag.nodes).await;
    assert_eq!(engine.stats().pending, dag.nodes.len() + 1);

    let result = engine.flush().await.unwrap();
    assert_eq!(result.synced.len(), dag.nodes.len() + 1);
    assert!(result.failed.is_empty());
    assert_eq!(engine.stats().pending, 0);
    assert_all_owned(engine.remote(), &dag).await;
    assert!(cache.get(data_root).await.unwrap().is_some());

    let events = events.borrow().clone();
    assert_eq!(events.first().map(String::as_str), Some("start"));
    assert_eq!(
        events.last().map(String::as_str),
        Some(format!("end {} 0 0", dag.nodes.len() + 1).as_str())
    );
    let uploading = events.iter().filter(|e| *e == "uploading").count();
    let done = events.iter().filter(|e| *e == "done").count();
    assert_eq!(
        (uploading, done),
        (dag.nodes.len() + 1, dag.nodes.len() + 1)
    );
    let first_done = events.iter().position(|e| e == "done").unwrap();
    assert!(events[..first_done].iter().any(|e| e == "uploading"));
    engine.dispose();
    cache.close();
    IndexedDbStorage::delete_database(&cache_name)
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_dag_of_depth_d_costs_two_requests_per_level() {
    let dag = unique_dag(60_000);
    let depth = dag.levels().count();
    let remote = alpha();
    remote.info().await.unwrap();
    let before = remote.request_count();
    let mut config = config();
    config.debounce_ms = 60_000;
    let engine = BufferedStorage::open(remote.clone(), config).await.unwrap();
    put_all(&engine, &dag.nodes).await;
    let result = engine.flush().await.unwrap();
    assert_eq!(result.synced.len(), dag.nodes.len());
    // One check and one batch upload per level: O(depth), not O(nodes).
    assert_eq!(remote.request_count() - before, 2 * depth as u64);
    assert!(dag.nodes.len() > 100 * depth);
    engine.dispose();
}

/// Counts the batched calls that reach the server.
#[derive(Clone)]
struct Counting {
    inner: HttpStorage,
    claims: Rc<Cell<usize>>,
    uploads: Rc<Cell<usize>>,
}

impl SyncRemote for Counting {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        self.inner.check_many(keys).await
    }
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.claims.set(self.claims.get() + nodes.len());
        self.inner.claim_many(nodes).await
    }
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.uploads.set(self.uploads.get() + nodes.len());
        self.inner.put_many(nodes).await
    }
}

impl StorageProvider for Counting {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.inner.put(key, bytes).await
    }
}

/// A load balancer in the page: each call goes to the next of two replicas.
#[derive(Clone)]
struct Alternating {
    replicas: [HttpStorage; 2],
    calls: Rc<Cell<usize>>,
}

impl Alternating {
    fn next(&self) -> &HttpStorage {
        let call = self.calls.get();
        self.calls.set(call + 1);
        &self.replicas[call % 2]
    }
}

impl SyncRemote for Alternating {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        self.next().check_many(keys).await
    }
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.next().claim_many(nodes).await
    }
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.next().put_many(nodes).await
    }
}

impl StorageProvider for Alternating {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.next().get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.next().put(key, bytes).await
    }
}

#[wasm_bindgen_test]
async fn a_dag_synced_through_two_replicas_in_turn_is_owned_on_both() {
    let dag = unique_dag(60_000);
    let replicas =
        server::replica_urls().map(|url| http(url, "alpha", server::replica_token_alpha()));
    let remote = Alternating {
        replicas: replicas.clone(),
        calls: Rc::default(),
    };
    let engine = BufferedStorage::open(remote.clone(), config())
        .await
        .unwrap();
    put_all(&engine, &dag.nodes).await;
    let result = engine.flush().await.unwrap();
    assert_eq!(result.synced.len(), dag.nodes.len());
    // A check and an upload per level, each on the other replica than the one before.
    assert!(remote.calls.get() >= 4, "{} calls", remote.calls.get());
    for replica in &replicas {
        assert_all_owned(replica, &dag).await;
    }
    let (root, bytes) = dag.nodes.last().unwrap();
    for replica in &replicas {
        assert_eq!(replica.get(*root).await.unwrap().as_ref(), Some(bytes));
    }
    engine.dispose();
}

#[wasm_bindgen_test]
async fn nodes_another_realm_uploaded_are_claimed_not_uploaded() {
    let dag = unique_dag(20_000);
    let outcomes = alpha().put_many(&dag.nodes).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok));

    let beta = Counting {
        inner: http(server::server_url(), "beta", server::token_beta()),
        claims: Rc::default(),
        uploads: Rc::default(),
    };
    let engine = BufferedStorage::open(beta.clone(), config()).await.unwrap();
    put_all(&engine, &dag.nodes).await;
    let result = engine.flush().await.unwrap();
    assert_eq!(result.synced.len(), dag.nodes.len());
    assert_eq!(beta.claims.get(), dag.nodes.len());
    assert_eq!(beta.uploads.get(), 0);
    assert_all_owned(&beta.inner, &dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn puts_within_the_debounce_window_make_one_pass() {
    let dag = unique_dag(5_000);
    let mut config = config();
    // Wide enough that a loaded machine (a put is an IndexedDB transaction of the pending store)
    // does not open a gap between two awaited puts.
    config.debounce_ms = 1_000;
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    for (key, bytes) in &dag.nodes {
        engine.put(*key, bytes.clone()).await.unwrap();
    }
    assert_eq!(engine.stats().passes, 0, "put must return before syncing");
    until_synced(&engine, 5_000).await;
    assert_eq!(engine.stats().passes, 1);
    assert_all_owned(engine.remote(), &dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn concurrent_flushes_all_wait_for_everything_buffered_before_them() {
    let mut config = config();
    config.debounce_ms = 60_000;
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    let first = unique_dag(3_000);
    put_all(&engine, &first.nodes).await;
    let flush_one = engine.flush();
    let second = unique_dag(3_000);
    let engine_two = engine.clone();
    let nodes_two = second.nodes.clone();
    let later = async move {
        put_all(&engine_two, &nodes_two).await;
        let a = engine_two.flush();
        let b = engine_two.flush();
        let (a, b) = futures::future::join(a, b).await;
        (a.unwrap(), b.unwrap(), engine_two.stats().pending)
    };
    let (one, (a, b, pending_after)) = futures::future::join(flush_one, later).await;
    one.unwrap();
    let _ = (a, b);
    assert_eq!(
        pending_after, 0,
        "a flush resolved before its nodes were synced"
    );
    assert_all_owned(engine.remote(), &first).await;
    assert_all_owned(engine.remote(), &second).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn a_full_buffer_makes_put_wait_for_a_flush() {
    let dag = unique_dag(40_000);
    let mut config = config();
    config.max_buffer_bytes = 4_096;
    config.debounce_ms = 60_000;
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    // Children first, one at a time: every put must fit or wait for a pass to make room.
    for (key, bytes) in &dag.nodes {
        engine.put(*key, bytes.clone()).await.unwrap();
        assert!(engine.stats().buffered_bytes <= 4_096);
    }
    assert!(engine.stats().passes > 5, "{:?}", engine.stats());
    engine.flush().await.unwrap();
    assert_all_owned(engine.remote(), &dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn a_server_killed_mid_flush_and_restarted_loses_nothing() {
    let dag = unique_dag(30_000);
    let mut config = config();
    config.debounce_ms = 60_000;
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    put_all(&engine, &dag.nodes).await;
    server::control_stop_main().await;
    let result = engine.flush().await.unwrap();
    assert_eq!(result.failed.len(), dag.nodes.len());
    assert!(
        result.failed.iter().all(|(_, e)| e.is_transient()),
        "{:?}",
        result.failed[0]
    );
    assert_eq!(engine.stats().pending, dag.nodes.len());
    server::control_start_main().await;
    until_synced(&engine, 10_000).await;
    assert_all_owned(engine.remote(), &dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn injected_503s_are_retried_until_everything_is_owned() {
    let dag = unique_dag(30_000);
    let remote = http(
        server::faulty_server_url(),
        "alpha",
        server::faulty_token_alpha(),
    );
    let engine = BufferedStorage::open(remote.clone(), config())
        .await
        .unwrap();
    put_all(&engine, &dag.nodes).await;
    until_synced(&engine, 20_000).await;
    // Checking goes through the faulty server too: retry the check itself.
    let keys: Vec<Key> = dag.nodes.iter().map(|(k, _)| *k).collect();
    let mut owned = None;
    for _ in 0..20 {
        if let Ok(check) = remote.check_many(&keys).await {
            owned = Some(check.owned.len());
            break;
        }
    }
    assert_eq!(owned, Some(keys.len()));
    assert!(
        engine.stats().passes > 1,
        "no 503 was injected: {:?}",
        engine.stats()
    );
    engine.dispose();
}

#[wasm_bindgen_test]
async fn a_reload_mid_sync_resumes_from_the_pending_store() {
    let dag = unique_dag(20_000);
    let mut config = config();
    config.debounce_ms = 60_000;
    let store = config.pending_store.clone().unwrap();
    let first = BufferedStorage::open(alpha(), config.clone())
        .await
        .unwrap();
    put_all(&first, &dag.nodes).await;
    first.dispose(); // the page goes away before any flush

    config.debounce_ms = 10;
    let second = BufferedStorage::open(alpha(), config).await.unwrap();
    assert_eq!(
        second.stats().pending,
        dag.nodes.len(),
        "pending nodes were not resumed"
    );
    until_synced(&second, 10_000).await;
    assert_all_owned(second.remote(), &dag).await;
    second.dispose();

    // Synced nodes left the pending store.
    let pending = IdbPendingStore::open(&store).await.unwrap();
    assert!(pending.entries().await.unwrap().is_empty());
    pending.close();
}

#[wasm_bindgen_test]
async fn bad_get_child_keys_gives_typed_errors_and_loses_nothing() {
    let (a, b, c) = (
        Key::for_bytes(b"cycle a"),
        Key::for_bytes(b"cycle b"),
        Key::for_bytes(b"orphan"),
    );
    let absent = Key::for_bytes(b"never uploaded");
    let nodes: Vec<(Key, Bytes)> = [(a, "cycle a"), (b, "cycle b"), (c, "orphan")]
        .iter()
        .map(|(k, text)| (*k, Bytes::from(text.as_bytes().to_vec())))
        .collect();
    let mut config = config();
    config.debounce_ms = 60_000;
    config.child_keys = Some(Rc::new(move |key: Key, _: &[u8]| {
        if key == a {
            Ok(vec![b])
        } else if key == b {
            Ok(vec![a])
        } else if key == c {
            Ok(vec![absent])
        } else {
            Err(Error::ChildKeys("unknown".into()))
        }
    }));
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    put_all(&engine, &nodes).await;
    let result = engine.flush().await.unwrap();
    let codes: std::collections::HashMap<Key, &str> =
        result.failed.iter().map(|(k, e)| (*k, e.code())).collect();
    assert_eq!(codes[&a], "cycle");
    assert_eq!(codes[&b], "cycle");
    // The server refuses a node whose child it does not have (these bytes are not even a node).
    assert!(codes.contains_key(&c));
    assert_eq!(engine.stats().pending, 3, "failed nodes must stay pending");
    assert_eq!(engine.stats().failed, 3);
    engine.dispose();

    // A getChildKeys that throws, through the JS API: the put is refused.
    let throwing = js_sys::Function::new_no_args("throw new Error('no children for you')");
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"getChildKeys".into(), &throwing).unwrap();
    js_sys::Reflect::set(&options, &"pendingStore".into(), &JsValue::NULL).unwrap();
    js_sys::Reflect::set(&options, &"debounceMs".into(), &60_000.into()).unwrap();
    let js_http = casweb::js::JsHttpStorage::new(http_config_js()).unwrap();
    let engine: JsValue = JsFuture::from(casweb::js::JsBufferedHttpStorage::open(
        &js_http,
        Some(options.unchecked_into()),
    ))
    .await
    .unwrap();
    let put = call(
        &engine,
        "put",
        Box::new([
            c.to_string().into(),
            js_sys::Uint8Array::from(&b"orphan"[..]).into(),
        ]),
    );
    // The engine needs the child keys at put: the caller learns of the failure there, and
    // nothing is buffered.
    let error = JsFuture::from(js_sys::Promise::from(put))
        .await
        .expect_err("put must reject");
    let code = js_sys::Reflect::get(&error, &"code".into()).unwrap();
    assert_eq!(code.as_string().as_deref(), Some("child_keys_failed"));
    let stats = call(&engine, "stats", Box::new([]));
    let pending = js_sys::Reflect::get(&stats, &"pending".into()).unwrap();
    assert_eq!(pending.as_f64(), Some(0.0));
    let _ = call(&engine, "dispose", Box::new([]));
}

#[wasm_bindgen_test]
async fn bad_js_config_is_a_typed_error() {
    let js_http = casweb::js::JsHttpStorage::new(http_config_js()).unwrap();
    for (field, value) in [
        ("debounceMs", JsValue::from("soon")),
        ("maxBufferBytes", JsValue::from(0)),
        ("getChildKeys", JsValue::from(42)),
        ("pendingStore", JsValue::from(7)),
        ("onSyncEnd", JsValue::from("later")),
    ] {
        let options = js_sys::Object::new();
        js_sys::Reflect::set(&options, &field.into(), &value).unwrap();
        let error = JsFuture::from(casweb::js::JsBufferedHttpStorage::open(
            &js_http,
            Some(options.unchecked_into()),
        ))
        .await
        .expect_err(field);
        let code = js_sys::Reflect::get(&error, &"code".into()).unwrap();
        assert_eq!(
            code.as_string().as_deref(),
            Some("invalid_argument"),
            "{field}"
        );
    }
}

fn http_config_js() -> JsValue {
    let config = js_sys::Object::new();
    js_sys::Reflect::set(&config, &"baseUrl".into(), &server::server_url().into()).unwrap();
    js_sys::Reflect::set(&config, &"realm".into(), &"alpha".into()).unwrap();
    js_sys::Reflect::set(&config, &"token".into(), &server::token_alpha().into()).unwrap();
    config.into()
}

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
}

#[wasm_bindgen_test]
async fn engines_sharing_a_pending_store_flush_one_at_a_time() {
    // Two engines on one pending store stand for two tabs: the Web Lock serialises their passes.
    let active = Rc::new(Cell::new(0u32));
    let most = Rc::new(Cell::new(0u32));
    let store = unique("shared");
    let engine_with_hooks = |active: Rc<Cell<u32>>, most: Rc<Cell<u32>>| {
        let mut config = config();
        config.pending_store = Some(store.clone());
        config.debounce_ms = 60_000;
        let on_end_active = active.clone();
        config.hooks = SyncHooks {
            on_sync_start: Some(Rc::new(move || {
                active.set(active.get() + 1);
                most.set(most.get().max(active.get()));
                Box::pin(async {
                    TimeoutFuture::new(100).await;
                    Ok(())
                })
            })),
            on_sync_end: Some(Rc::new(move |_| on_end_active.set(on_end_active.get() - 1))),
            on_key_sync: None,
        };
        BufferedStorage::open(alpha(), config)
    };
    let first = engine_with_hooks(active.clone(), most.clone())
        .await
        .unwrap();
    let second = engine_with_hooks(active.clone(), most.clone())
        .await
        .unwrap();
    let (one, two) = (unique_dag(3_000), unique_dag(3_000));
    put_all(&first, &one.nodes).await;
    put_all(&second, &two.nodes).await;
    let (a, b) = futures::future::join(first.flush(), second.flush()).await;
    assert!(a.unwrap().failed.is_empty() && b.unwrap().failed.is_empty());
    assert_eq!(most.get(), 1, "two passes ran at the same time");
    assert_eq!(active.get(), 0);
    assert_all_owned(first.remote(), &one).await;
    assert_all_owned(first.remote(), &two).await;
    first.dispose();
    second.dispose();
}

#[wasm_bindgen_test]
async fn a_failing_on_sync_start_postpones_the_pass_and_is_retried() {
    let dag = unique_dag(3_000);
    let calls = Rc::new(Cell::new(0u32));
    let mut config = config();
    config.hooks.on_sync_start = Some(Rc::new({
        let calls = calls.clone();
        move || {
            calls.set(calls.get() + 1);
            let first = calls.get() == 1;
            Box::pin(async move {
                if first {
                    Err(Error::Hook("not logged in yet".into()))
                } else {
                    Ok(())
                }
            })
        }
    }));
    let engine = BufferedStorage::open(alpha(), config).await.unwrap();
    put_all(&engine, &dag.nodes).await;
    until_synced(&engine, 5_000).await;
    assert!(calls.get() >= 2);
    assert_all_owned(engine.remote(), &dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn while_the_server_is_unreachable_new_puts_wait_for_the_outage_backoff() {
    // Nothing listens on port 9 of loopback: every request fails at once with network_error.
    let unreachable = http("http://127.0.0.1:9", "alpha", server::token_alpha());
    let engine = BufferedStorage::open(unreachable, config()).await.unwrap();
    let dag = unique_dag(12_000);
    // One put every 20 ms (the debounce) for about 2 s: without the outage backoff each would
    // start a pass of its own.
    let started = js_sys::Date::now();
    for (key, bytes) in dag.nodes.iter().take(100) {
        engine.put(*key, bytes.clone()).await.unwrap();
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let elapsed = js_sys::Date::now() - started;
    let stats = engine.stats();
    assert!(stats.passes >= 2, "it kept trying: {stats:?}");
    // Backoff 50 ms doubling to 400 ms, jitter down to half: the first four passes, then at
    // most one per 200 ms (one per put, about one per 20 ms, without the backoff).
    let most = 6 + (elapsed / 200.0) as u64;
    assert!(
        stats.passes <= most,
        "{} passes in {elapsed} ms (at most {most}): {stats:?}",
        stats.passes
    );
    assert_eq!(stats.pending, 100, "nothing lost: {stats:?}");
    // An explicit flush still tries at once, and reports the network errors.
    let before = engine.stats().passes;
    let result = engine.flush().await.unwrap();
    assert!(engine.stats().passes > before);
    assert!(!result.failed.is_empty());
    assert!(
        result
            .failed
            .iter()
            .all(|(_, e)| e.code() == "network_error"),
        "{:?}",
        result.failed[0]
    );
    assert_eq!(engine.stats().pending, 100);
    engine.dispose();
}
