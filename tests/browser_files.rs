//! Browser tests of large files through the JS API, as an app calls it, in real headless
//! Chromium against the real reference server: a 256 MiB `Blob` stored through the full stack
//! `CachedStorage(IndexedDbStorage, BufferedHttpStorage)` with bounded wasm memory and read back
//! as a verified stream; a range that fetches only its path; a cold read whose requests follow
//! the DAG's depth; every input kind; `signal` on store, read and flush.
//!
//! The large-file test comes first in the file and measures wasm memory growth over its own run
//! (wasm memory never shrinks, so a later test's allocations cannot hide in it).
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::js::{
    chunk_file, read_file, read_file_stream, store_file, JsBufferedHttpStorage, JsCachedStorage,
    JsHttpStorage, JsIndexedDbStorage, JsMemoryStorage,
};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
    #[wasm_bindgen(js_name = patternBlob)]
    fn pattern_blob(size: f64, seed: u32) -> JsValue;
    #[wasm_bindgen(js_name = patternBytes)]
    fn pattern_bytes(offset: f64, length: f64, seed: u32) -> Uint8Array;
    #[wasm_bindgen(js_name = checkPatternStream)]
    async fn check_pattern_stream(stream: JsValue, offset: f64, seed: u32) -> JsValue;
    #[wasm_bindgen(js_name = readOnce)]
    async fn read_once(stream: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = countingProvider)]
    fn counting_provider(inner: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = mapProvider)]
    fn map_provider() -> JsValue;
    #[wasm_bindgen(js_name = asyncChunks)]
    fn async_chunks(chunks: &Array) -> JsValue;
    #[wasm_bindgen(js_name = streamOf)]
    fn stream_of(chunks: &Array) -> JsValue;
    #[wasm_bindgen(js_name = jsHeapBytes)]
    fn js_heap_bytes() -> f64;
}

const MIB: f64 = 1024.0 * 1024.0;

fn seed() -> u32 {
    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
}

fn unique(tag: &str) -> String {
    format!("{tag}-{}-{}", js_sys::Date::now(), js_sys::Math::random())
}

fn object(entries: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (name, value) in entries {
        Reflect::set(&object, &(*name).into(), value).unwrap();
    }
    object.into()
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).unwrap()
}

fn number(object: &JsValue, name: &str) -> f64 {
    field(object, name)
        .as_f64()
        .unwrap_or_else(|| panic!("{name} is not a number in {object:?}"))
}

fn code_of(error: &JsValue) -> String {
    field(error, "code").as_string().unwrap_or_default()
}

async fn resolve(promise: Promise) -> JsValue {
    JsFuture::from(promise).await.expect("the call succeeds")
}

async fn rejection(promise: Promise) -> JsValue {
    JsFuture::from(promise)
        .await
        .expect_err("the call must reject")
}

fn wasm_memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}

fn http_config(base_url: &str) -> JsValue {
    object(&[
        ("baseUrl", base_url.into()),
        ("realm", "alpha".into()),
        ("token", server::token_alpha().into()),
    ])
}

fn http() -> JsHttpStorage {
    JsHttpStorage::new(http_config(server::server_url())).unwrap()
}

async fn indexeddb(name: &str) -> JsValue {
    JsValue::from(JsIndexedDbStorage::open(name.into()).await.unwrap())
}

/// Collects the `onProgress` reports of a call: `(function, reports)`.
fn progress_log() -> (Function, Array) {
    let reports = Array::new();
    let log = reports.clone();
    let callback = Closure::<dyn FnMut(JsValue)>::new(move |report: JsValue| {
        log.push(&report);
    });
    (callback.into_js_value().unchecked_into(), reports)
}

/// Asserts `reports` only grow in `bytes` and `nodes` and end at `bytes == total`.
fn assert_progress(reports: &Array, total: f64) {
    assert!(reports.length() > 0, "no progress was reported");
    let mut last = (0.0, 0.0);
    for report in reports.iter() {
        let now = (number(&report, "bytes"), number(&report, "nodes"));
        assert!(now.0 >= last.0 && now.1 >= last.1, "{last:?} then {now:?}");
        last = now;
    }
    let end = reports.get(reports.length() - 1);
    assert_eq!(number(&end, "bytes"), total);
    assert_eq!(number(&end, "totalBytes"), total);
}

#[wasm_bindgen_test]
async fn a_256_mib_blob_goes_in_and_out_with_bounded_wasm_memory() {
    let size = 256.0 * MIB;
    let seed = seed();
    let blob = pattern_blob(size, seed);
    let memory_before = wasm_memory_bytes();
    let heap_before = js_heap_bytes();

    let cache = indexeddb(&unique("files-cache")).await;
    let http = http();
    let buffered = JsFuture::from(JsBufferedHttpStorage::open(
        &http,
        Some(object(&[("pendingStore", unique("files-pending").into())]).unchecked_into()),
    ))
    .await
    .unwrap();
    let stack = JsValue::from(JsCachedStorage::new(cache.clone(), buffered.clone()).unwrap());

    let (on_progress, reports) = progress_log();
    let options = object(&[("onProgress", on_progress.into())]);
    let root = resolve(store_file(
        stack.clone(),
        blob,
        Some(options.unchecked_into()),
    ))
    .await
    .as_string()
    .unwrap();
    assert_progress(&reports, size);
    let flushed = resolve(call(&buffered, "flush", Box::new([])).unchecked_into()).await;
    assert_eq!(Array::from(&field(&flushed, "failed")).length(), 0);
    let stored_growth = wasm_memory_bytes() - memory_before;
    assert!(
        stored_growth <= 64.0 * MIB,
        "storing 256 MiB grew wasm memory by {} MiB",
        stored_growth / MIB
    );

    // Every byte back, verified, as a stream.
    let stream = read_file_stream(stack.clone(), root.clone().into(), None).unwrap();
    let checked = check_pattern_stream(stream, 0.0, seed).await;
    assert_eq!(number(&checked, "mismatch"), -1.0, "a byte differs");
    assert_eq!(number(&checked, "bytes"), size);
    let growth = wasm_memory_bytes() - memory_before;
    assert!(
        growth <= 64.0 * MIB,
        "storing and reading 256 MiB grew wasm memory by {} MiB",
        growth / MIB
    );
    web_sys::console::log_1(
        &format!(
            "256 MiB stored and read: wasm memory +{:.1} MiB, JS heap {:+.1} MiB",
            growth / MIB,
            (js_heap_bytes() - heap_before) / MIB
        )
        .into(),
    );

    // A 1 MiB range in the middle touches the root and at most two leaves (depth 2 + 2).
    let counting = counting_provider(&cache);
    let offset = 128.0 * MIB + 12_345.0;
    let range = object(&[("offset", offset.into()), ("length", MIB.into())]);
    let stream =
        read_file_stream(counting.clone(), root.into(), Some(range.unchecked_into())).unwrap();
    let checked = check_pattern_stream(stream, offset, seed).await;
    assert_eq!(number(&checked, "mismatch"), -1.0);
    assert_eq!(number(&checked, "bytes"), MIB);
    assert!(
        number(&counting, "gets") <= 4.0,
        "{:?}",
        field(&counting, "gets")
    );
    call(&buffered, "dispose", Box::new([]));
}

#[wasm_bindgen_test]
async fn a_cold_read_costs_requests_per_level_not_per_node() {
    // 6 MiB in 4 KiB nodes: 1,542 leaves under 7 inner nodes under the root (3 levels).
    let seed = seed();
    let data = pattern_bytes(0.0, 6.0 * MIB, seed);
    let chunking = object(&[("chunkSize", 4096.into())]);
    let dag = chunk_file(data.clone().into(), Some(chunking.clone().unchecked_into())).unwrap();
    let nodes = Array::from(&field(&dag, "nodes"));
    assert!(nodes.length() > 1500);
    let results = resolve(http().put_many(nodes.clone().into(), None)).await;
    let results = Array::from(&results);
    assert!(results.iter().all(|r| field(&r, "ok").is_truthy()));
    let root = field(&dag, "root");

    for streaming in [false, true] {
        let cache_name = unique("cold");
        let cache = indexeddb(&cache_name).await;
        let remote_js = JsValue::from(http());
        let stack = JsValue::from(JsCachedStorage::new(cache.clone(), remote_js.clone()).unwrap());
        let (on_progress, reports) = progress_log();
        let options = object(&[("onProgress", on_progress.into())]);
        if streaming {
            let stream =
                read_file_stream(stack, root.clone(), Some(options.unchecked_into())).unwrap();
            let checked = check_pattern_stream(stream, 0.0, seed).await;
            assert_eq!(number(&checked, "mismatch"), -1.0);
            assert_eq!(number(&checked, "bytes"), 6.0 * MIB);
        } else {
            let file = resolve(read_file(
                stack,
                root.clone(),
                Some(options.unchecked_into()),
            ))
            .await;
            assert_eq!(
                Uint8Array::new(&field(&file, "data")).to_vec(),
                data.to_vec()
            );
        }
        assert_progress(&reports, 6.0 * MIB);
        let requests = number(&remote_js, "requestCount");
        // readFile: the root alone (a plain GET), /api/info once, the 7 inner nodes in one
        // many-nodes get, the 1,542 leaves as they are asked, 1,024 at a time (1,000 + 24, then
        // 518): 6. The stream asks within its window (16 MiB, 1,024 nodes) as it goes.
        let most = if streaming { 12.0 } else { 6.0 };
        assert!(
            requests <= most,
            "a cold {} of 1,550 nodes took {requests} requests",
            if streaming { "stream" } else { "readFile" }
        );
        web_sys::console::log_1(
            &format!("cold read (stream: {streaming}): {requests} requests").into(),
        );
        let stats = call(&cache, "stats", Box::new([]));
        let writes = number(&stats, "writeTransactions");
        assert!(writes <= most, "{writes} IndexedDB write transactions");
        call(&cache, "close", Box::new([]));
    }
}

#[wasm_bindgen_test]
async fn every_kind_of_input_gives_the_same_root() {
    let seed = seed();
    let len = 300_000.0;
    let data = pattern_bytes(0.0, len, seed);
    let chunking = object(&[("chunkSize", 4096.into())]);
    let expected = field(
        &chunk_file(data.clone().into(), Some(chunking.clone().unchecked_into())).unwrap(),
        "root",
    );
    let pieces = Array::new();
    let mut offset = 0;
    for size in [1u32, 4095, 4096, 100_000, 7] {
        pieces.push(&data.subarray(offset, offset + size));
        offset += size;
    }
    pieces.push(&data.subarray(offset, data.length()));
    let inputs: Vec<(&str, JsValue)> = vec![
        ("Uint8Array", data.clone().into()),
        ("ArrayBuffer", data.slice(0, data.length()).buffer().into()),
        ("Blob", pattern_blob(len, seed)),
        ("ReadableStream", stream_of(&pieces)),
        ("async iterable", async_chunks(&pieces)),
    ];
    for (kind, input) in inputs {
        let storage = JsValue::from(JsMemoryStorage::new());
        let root = resolve(store_file(
            storage.clone(),
            input,
            Some(chunking.clone().unchecked_into()),
        ))
        .await;
        assert_eq!(root, expected, "{kind}");
        let file = resolve(read_file(storage, root, None)).await;
        assert_eq!(
            Uint8Array::new(&field(&file, "data")).to_vec(),
            data.to_vec(),
            "{kind}"
        );
    }
    // Anything else is refused, naming what it got; so are chunks that are not bytes.
    let storage = JsValue::from(JsMemoryStorage::new());
    for bad in [
        JsValue::from("text"),
        JsValue::from(42),
        Object::new().into(),
    ] {
        let error = rejection(store_file(storage.clone(), bad, None)).await;
        assert_eq!(code_of(&error), "invalid_argument");
    }
    let strings = Array::of2(&"not".into(), &"bytes".into());
    let error = rejection(store_file(storage.clone(), stream_of(&strings), None)).await;
    assert_eq!(code_of(&error), "invalid_argument");
    let options = object(&[("onProgress", "loud".into())]);
    let error = rejection(store_file(
        storage.clone(),
        data.clone().into(),
        Some(options.unchecked_into()),
    ))
    .await;
    assert_eq!(code_of(&error), "invalid_argument");
    let options = object(&[("offset", (-1).into())]);
    let thrown = read_file_stream(storage, expected, Some(options.unchecked_into())).unwrap_err();
    assert_eq!(code_of(&thrown), "invalid_argument");
}

#[wasm_bindgen_test]
async fn aborted_stores_and_reads_reject_and_leave_the_store_consistent() {
    let seed = seed();
    let len = 4.0 * MIB;
    let data = pattern_bytes(0.0, len, seed);
    let chunking = object(&[("chunkSize", 1024.into())]);
    let expected = field(
        &chunk_file(data.clone().into(), Some(chunking.clone().unchecked_into())).unwrap(),
        "root",
    );

    // Aborted at the first progress report: rejects with `aborted`, and every stored node's
    // children are stored.
    let storage = map_provider();
    let controller = web_sys::AbortController::new().unwrap();
    let aborter = controller.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| aborter.abort());
    let options = object(&[
        ("chunkSize", 1024.into()),
        ("signal", controller.signal().into()),
        ("onProgress", on_progress.into_js_value()),
    ]);
    let error = rejection(store_file(
        storage.clone(),
        data.clone().into(),
        Some(options.unchecked_into()),
    ))
    .await;
    assert_eq!(code_of(&error), "aborted");
    let map: js_sys::Map = field(&storage, "map").unchecked_into();
    let stored = map.size();
    assert!(stored < 4000, "the store ran on: {stored} nodes");
    map.for_each(&mut |bytes, _key| {
        let bytes = Uint8Array::new(&bytes).to_vec();
        for child in casweb::node::child_keys(&bytes).unwrap() {
            assert!(
                map.has(&child.to_string().into()),
                "a parent without its child {child}"
            );
        }
    });
    // Storing again completes with the same root.
    let root = resolve(store_file(
        storage.clone(),
        data.clone().into(),
        Some(chunking.clone().unchecked_into()),
    ))
    .await;
    assert_eq!(root, expected);

    // An already aborted signal: nothing is read.
    let counting = counting_provider(&storage);
    let controller = web_sys::AbortController::new().unwrap();
    controller.abort();
    let options = object(&[("signal", controller.signal().into())]);
    let error = rejection(read_file(
        counting.clone(),
        root.clone(),
        Some(options.clone().unchecked_into()),
    ))
    .await;
    assert_eq!(code_of(&error), "aborted");
    assert_eq!(number(&counting, "gets"), 0.0);
    let error = rejection(store_file(
        counting.clone(),
        data.clone().into(),
        Some(options.unchecked_into()),
    ))
    .await;
    assert_eq!(code_of(&error), "aborted");
    assert_eq!(number(&counting, "puts"), 0.0);

    // A stream aborted after its first chunk: the next read rejects with `aborted`.
    let controller = web_sys::AbortController::new().unwrap();
    let options = object(&[("signal", controller.signal().into())]);
    let stream = read_file_stream(storage, root, Some(options.unchecked_into())).unwrap();
    let opened = read_once(stream).await;
    assert!(!field(&field(&opened, "first"), "done").is_truthy());
    controller.abort();
    let reader = field(&opened, "reader");
    let next: Promise = call(&reader, "read", Box::new([])).unchecked_into();
    // The chunk already queued may still arrive; the one after fails.
    let failure = match JsFuture::from(next).await {
        Ok(_) => rejection(call(&reader, "read", Box::new([])).unchecked_into()).await,
        Err(error) => error,
    };
    assert_eq!(code_of(&failure), "aborted");
}

#[wasm_bindgen_test]
async fn an_aborted_flush_stops_waiting_and_keeps_the_nodes_pending() {
    // A server that never answers: the flush would wait for its timeout.
    let hanging = JsHttpStorage::new(object(&[
        ("baseUrl", server::hanging_url().into()),
        ("realm", "alpha".into()),
        ("token", server::token_alpha().into()),
        ("timeoutMs", 20_000.into()),
    ]))
    .unwrap();
    let buffered = JsFuture::from(JsBufferedHttpStorage::open(
        &hanging,
        Some(
            object(&[
                ("pendingStore", JsValue::NULL),
                ("debounceMs", 60_000.into()),
            ])
            .unchecked_into(),
        ),
    ))
    .await
    .unwrap();
    let data = pattern_bytes(0.0, 10_000.0, seed());
    let chunking = object(&[("chunkSize", 1024.into())]);
    resolve(store_file(
        buffered.clone(),
        data.into(),
        Some(chunking.unchecked_into()),
    ))
    .await;
    let pending = number(&call(&buffered, "stats", Box::new([])), "pending");
    assert!(pending > 5.0);
    let controller = web_sys::AbortController::new().unwrap();
    let options = object(&[("signal", controller.signal().into())]);
    let flush: Promise = call(&buffered, "flush", Box::new([options])).unchecked_into();
    let aborter = controller.clone();
    let started = js_sys::Date::now();
    let _timer = gloo_timers::callback::Timeout::new(200, move || aborter.abort());
    let error = rejection(flush).await;
    assert_eq!(code_of(&error), "aborted");
    assert!(
        js_sys::Date::now() - started < 2_000.0,
        "the flush did not stop promptly"
    );
    assert_eq!(
        number(&call(&buffered, "stats", Box::new([])), "pending"),
        pending
    );
    call(&buffered, "dispose", Box::new([]));
}
