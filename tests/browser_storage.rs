//! Browser tests of the storage layer in real headless Chromium: IndexedDB persistence and
//! batching, CachedStorage compositions, JS-object providers and the JS API's typed errors.
#![cfg(target_arch = "wasm32")]

use bytes::Bytes;
use futures::future::join_all;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::js::{read_file, store_file, JsCachedStorage, JsIndexedDbStorage, JsMemoryStorage};
use casweb::storage::{error_from_js, IndexedDbStorage};
use casweb::{CachedStorage, Error, Key, MemoryStorage, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = failureOf)]
    fn failure_of(f: &js_sys::Function) -> Promise;
    #[wasm_bindgen(js_name = mapProvider)]
    fn map_provider() -> JsValue;
    #[wasm_bindgen(js_name = brokenProvider)]
    fn broken_provider(kind: &str) -> JsValue;
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
    #[wasm_bindgen(js_name = openRaw)]
    fn open_raw(name: &str, version: u32) -> Promise;
    #[wasm_bindgen(js_name = closeRaw)]
    fn close_raw(db: &JsValue);
    #[wasm_bindgen(js_name = quotaError)]
    fn quota_error() -> JsValue;
}

/// A database name no other test uses.
fn fresh_name(test: &str) -> String {
    format!("casweb-test-{test}-{}", js_sys::Math::random())
}

fn node(i: usize, len: usize) -> (Key, Bytes) {
    let mut bytes = vec![(i % 251) as u8; len.max(8)];
    bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

/// Awaits a promise and returns its rejection's `code` (panics if it resolved).
async fn rejection_code(promise: Promise) -> String {
    let error = JsFuture::from(promise)
        .await
        .expect_err("expected a rejection");
    error_code(&error)
}

fn error_code(error: &JsValue) -> String {
    assert!(
        error.is_instance_of::<js_sys::Error>(),
        "not an Error: {error:?}"
    );
    let name = js_sys::Reflect::get(error, &"name".into()).unwrap();
    assert_eq!(name.as_string().as_deref(), Some("CaswebError"));
    js_sys::Reflect::get(error, &"code".into())
        .unwrap()
        .as_string()
        .expect("error.code is a string")
}

#[wasm_bindgen_test]
async fn indexeddb_keeps_nodes_across_close_and_reopen() {
    let name = fresh_name("reopen");
    let storage = IndexedDbStorage::open(&name).await.unwrap();
    let nodes: Vec<_> = (0..3).map(|i| node(i, 100)).collect();
    for (key, bytes) in &nodes {
        storage.put(*key, bytes.clone()).await.unwrap();
    }
    storage.close();
    assert_eq!(storage.get(nodes[0].0).await, Err(Error::Closed));

    let reopened = IndexedDbStorage::open(&name).await.unwrap();
    for (key, bytes) in &nodes {
        assert_eq!(reopened.get(*key).await.unwrap().as_ref(), Some(bytes));
    }
    assert_eq!(reopened.get(node(99, 100).0).await.unwrap(), None);
    reopened.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn ten_thousand_puts_in_one_tick_share_one_transaction() {
    let name = fresh_name("many");
    let storage = IndexedDbStorage::open(&name).await.unwrap();
    let nodes: Vec<_> = (0..10_000).map(|i| node(i, 64)).collect();
    let puts = join_all(nodes.iter().map(|(k, b)| storage.put(*k, b.clone()))).await;
    assert!(puts.iter().all(Result::is_ok));
    let stats = storage.stats();
    assert_eq!(stats.write_transactions, 1);
    assert_eq!(stats.records_written, 10_000);

    let gets = join_all(nodes.iter().map(|(k, _)| storage.get(*k))).await;
    for ((_, bytes), got) in nodes.iter().zip(gets) {
        assert_eq!(got.unwrap().as_ref(), Some(bytes));
    }
    assert_eq!(storage.stats().read_transactions, 1);
    assert_eq!(storage.stats().gets, 10_000);
    storage.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn four_mib_values_round_trip() {
    let name = fresh_name("large");
    let storage = IndexedDbStorage::open(&name).await.unwrap();
    let (key, bytes) = node(7, 4 * 1024 * 1024);
    storage.put(key, bytes.clone()).await.unwrap();
    assert_eq!(storage.get(key).await.unwrap(), Some(bytes));
    storage.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn existing_large_values_are_skipped_and_sequential_puts_get_their_own_transaction() {
    let name = fresh_name("skip");
    let storage = IndexedDbStorage::open(&name).await.unwrap();
    let large = casweb::storage::CHECK_BEFORE_WRITE_BYTES as usize;
    let nodes: Vec<_> = (0..20).map(|i| node(i, large)).collect();
    join_all(nodes.iter().map(|(k, b)| storage.put(*k, b.clone()))).await;
    // The same 20 again plus duplicates within the batch: one transaction, nothing written.
    join_all(
        nodes
            .iter()
            .chain(nodes.iter())
            .map(|(k, b)| storage.put(*k, b.clone())),
    )
    .await
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .unwrap();
    let stats = storage.stats();
    assert_eq!(stats.write_transactions, 2);
    assert_eq!(stats.records_written, 20);
    assert_eq!(stats.puts_skipped, 20);

    for (key, bytes) in nodes.iter().take(3) {
        storage.put(*key, bytes.clone()).await.unwrap();
    }
    assert_eq!(storage.stats().write_transactions, 5);
    assert_eq!(storage.stats().puts_skipped, 23);
    storage.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn small_values_are_rewritten_without_a_lookup() {
    let name = fresh_name("small");
    let storage = IndexedDbStorage::open(&name).await.unwrap();
    let small = casweb::storage::CHECK_BEFORE_WRITE_BYTES as usize - 1;
    let nodes: Vec<_> = (0..30).map(|i| node(i, small)).collect();
    for _ in 0..2 {
        join_all(nodes.iter().map(|(k, b)| storage.put(*k, b.clone())))
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
    }
    let stats = storage.stats();
    assert_eq!((stats.records_written, stats.puts_skipped), (60, 0));
    for (key, bytes) in &nodes {
        assert_eq!(storage.get(*key).await.unwrap().as_ref(), Some(bytes));
    }
    storage.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn cached_indexeddb_over_memory_writes_back_on_miss() {
    let remote = std::rc::Rc::new(MemoryStorage::new());
    let name = fresh_name("cached");
    let cache = IndexedDbStorage::open(&name).await.unwrap();
    let storage = CachedStorage::new(cache.clone(), remote.clone());
    let (key, bytes) = node(1, 1000);
    storage.put(key, bytes.clone()).await.unwrap();
    assert_eq!(remote.len(), 1);
    assert_eq!(cache.get(key).await.unwrap().as_ref(), Some(&bytes));

    // A fresh cache in front of the same remote: the first get goes to the remote and fills it.
    let other_name = fresh_name("cached-empty");
    let empty_cache = IndexedDbStorage::open(&other_name).await.unwrap();
    let second = CachedStorage::new(empty_cache.clone(), remote.clone());
    assert_eq!(empty_cache.get(key).await.unwrap(), None);
    assert_eq!(second.get(key).await.unwrap().as_ref(), Some(&bytes));
    assert_eq!(empty_cache.get(key).await.unwrap().as_ref(), Some(&bytes));
    assert_eq!(second.get(node(2, 10).0).await.unwrap(), None);
    for (db, db_name) in [(cache, name), (empty_cache, other_name)] {
        db.close();
        IndexedDbStorage::delete_database(&db_name).await.unwrap();
    }
}

#[wasm_bindgen_test]
async fn blocked_and_version_errors_are_typed() {
    // A stale connection that ignores versionchange blocks deleting the database.
    let name = fresh_name("blocked");
    let raw = JsFuture::from(open_raw(&name, 1)).await.unwrap();
    let error = IndexedDbStorage::delete_database(&name).await.unwrap_err();
    assert_eq!(error.code(), "blocked");
    close_raw(&raw);

    // A database created at a newer version than this library knows.
    let newer = fresh_name("newer");
    let raw = JsFuture::from(open_raw(&newer, 7)).await.unwrap();
    close_raw(&raw);
    let error = IndexedDbStorage::open(&newer).await.unwrap_err();
    assert!(matches!(error, Error::VersionMismatch(_)), "{error:?}");
    IndexedDbStorage::delete_database(&newer).await.unwrap();

    // Our own connections step aside when another tab upgrades the schema.
    let ours = fresh_name("ours");
    let storage = IndexedDbStorage::open(&ours).await.unwrap();
    let raw = JsFuture::from(open_raw(&ours, casweb::storage::SCHEMA_VERSION + 1))
        .await
        .unwrap();
    close_raw(&raw);
    assert_eq!(storage.get(node(0, 1).0).await, Err(Error::Closed));
    IndexedDbStorage::delete_database(&ours).await.unwrap();
}

#[wasm_bindgen_test]
fn quota_errors_are_typed() {
    let error = error_from_js(&quota_error());
    assert!(matches!(error, Error::QuotaExceeded(ref m) if m.contains("disk is full")));
    assert_eq!(
        error_code(&casweb::js::to_js_error(error)),
        "quota_exceeded"
    );
}

#[wasm_bindgen_test]
async fn js_object_provider_works_as_remote_and_as_cache() {
    let remote = map_provider();
    let cache = JsMemoryStorage::new();
    let cached = JsCachedStorage::new(cache.into(), remote.clone()).unwrap();
    let (key, bytes) = node(3, 500);
    let array = Uint8Array::from(&bytes[..]);
    JsFuture::from(cached.put(key.to_string().into(), array.into(), None))
        .await
        .unwrap();
    let map: js_sys::Map = js_sys::Reflect::get(&remote, &"map".into()).unwrap().into();
    assert!(map.has(&key.to_string().into()));

    // The same JS object as a cache in front of a casweb MemoryStorage, driven through JS.
    let memory = JsValue::from(JsMemoryStorage::new());
    let reversed = JsValue::from(JsCachedStorage::new(remote.clone(), memory.clone()).unwrap());
    let got = JsFuture::from(Promise::from(call(
        &reversed,
        "get",
        Box::new([key.to_string().into()]),
    )))
    .await
    .unwrap();
    assert_eq!(
        got.dyn_into::<Uint8Array>().unwrap().to_vec(),
        bytes.to_vec()
    );
    let missing = JsFuture::from(Promise::from(call(
        &reversed,
        "get",
        Box::new([node(4, 1).0.to_string().into()]),
    )))
    .await
    .unwrap();
    assert!(missing.is_null());
}

/// Bad arguments to a storage's JS `get`/`put` reject with typed errors.
async fn assert_bad_arguments_rejected(storage: &JsValue, key_js: &JsValue, bytes_js: &JsValue) {
    let put = |args: Vec<JsValue>| Promise::from(call(storage, "put", args.into_boxed_slice()));
    assert_eq!(
        rejection_code(put(vec![42.into(), bytes_js.clone()])).await,
        "invalid_argument"
    );
    assert_eq!(
        rejection_code(put(vec!["nope".into(), bytes_js.clone()])).await,
        "invalid_key"
    );
    assert_eq!(
        rejection_code(put(vec![
            "240B5PHBGEC2A705WTKKMVRS31".into(),
            bytes_js.clone()
        ]))
        .await,
        "invalid_key"
    );
    assert_eq!(
        rejection_code(put(vec![key_js.clone(), "text".into()])).await,
        "invalid_argument"
    );
    assert_eq!(
        rejection_code(put(vec![key_js.clone()])).await,
        "invalid_argument"
    );
    let get = Promise::from(call(storage, "get", Box::new([JsValue::UNDEFINED])));
    assert_eq!(rejection_code(get).await, "invalid_argument");
    let get = Promise::from(call(storage, "get", Box::new(["nope".into()])));
    assert_eq!(rejection_code(get).await, "invalid_key");
}

#[wasm_bindgen_test]
async fn bad_js_inputs_reject_with_typed_errors() {
    let memory = JsValue::from(JsMemoryStorage::new());
    let (key, bytes) = node(5, 50);
    let key_js: JsValue = key.to_string().into();
    let bytes_js: JsValue = Uint8Array::from(&bytes[..]).into();
    assert_bad_arguments_rejected(&memory, &key_js, &bytes_js).await;
    let name = fresh_name("bad-js");
    let indexeddb = JsValue::from(JsIndexedDbStorage::open(name.clone().into()).await.unwrap());
    assert_bad_arguments_rejected(&indexeddb, &key_js, &bytes_js).await;
    call(&indexeddb, "close", Box::new([]));
    IndexedDbStorage::delete_database(&name).await.unwrap();

    let error = JsIndexedDbStorage::open(42.into())
        .await
        .err()
        .expect("must reject");
    assert_eq!(error_code(&error), "invalid_argument");
    let error = JsIndexedDbStorage::open("".into())
        .await
        .err()
        .expect("must reject");
    assert_eq!(error_code(&error), "invalid_argument");

    // Constructing a CachedStorage from things that are not providers throws synchronously.
    for bad in [JsValue::from(42), JsValue::NULL, broken_provider("no-put")] {
        let error = JsCachedStorage::new(bad, memory.clone())
            .err()
            .expect("must throw");
        assert_eq!(error_code(&error), "invalid_argument");
    }
    // Providers that throw, reject or answer the wrong type give provider_error.
    for kind in ["throws", "rejects", "wrong-type"] {
        let cached = JsCachedStorage::new(memory.clone(), broken_provider(kind)).unwrap();
        let get = cached.get(node(6, 1).0.to_string().into(), None);
        assert_eq!(rejection_code(get).await, "provider_error", "{kind}");
    }
    // A CaswebError thrown by a provider keeps the codes that change behaviour (a network error
    // or a 5xx stays retryable); other codes become provider_error.
    for (kind, code) in [
        ("offline", "network_error"),
        ("server-error", "http_error"),
        ("casweb-other", "provider_error"),
    ] {
        let cached = JsCachedStorage::new(memory.clone(), broken_provider(kind)).unwrap();
        let get = cached.get(node(6, 1).0.to_string().into(), None);
        let error = JsFuture::from(get).await.expect_err("must reject");
        assert_eq!(error_code(&error), code, "{kind}");
        if kind == "server-error" {
            let status = js_sys::Reflect::get(&error, &"status".into()).unwrap();
            assert_eq!(status.as_f64(), Some(503.0));
        }
        if kind == "casweb-other" {
            let message = js_sys::Reflect::get(&error, &"message".into()).unwrap();
            assert!(
                message.as_string().unwrap().contains("invalid_node"),
                "{message:?}"
            );
        }
    }
    let failing_cache = JsCachedStorage::new(broken_provider("rejects"), memory.clone()).unwrap();
    assert_eq!(
        rejection_code(failing_cache.put(key_js.clone(), bytes_js.clone(), None)).await,
        "provider_error"
    );
}

#[wasm_bindgen_test]
async fn js_indexeddb_put_keeps_the_bytes_given_even_if_the_caller_reuses_its_array() {
    let name = fresh_name("js-put");
    let storage = JsIndexedDbStorage::open(name.clone().into()).await.unwrap();
    let (key, bytes) = node(9, 4096);
    let key_js: JsValue = key.to_string().into();
    let array = Uint8Array::from(&bytes[..]);
    let put = storage.put(key_js.clone(), array.clone().into());
    array.fill(0, 0, array.length()); // before the batch is written
    JsFuture::from(put).await.unwrap();
    let read = JsFuture::from(storage.get(key_js)).await.unwrap();
    assert_eq!(
        read.dyn_into::<Uint8Array>().unwrap().to_vec(),
        bytes.to_vec()
    );
    let missing = JsFuture::from(storage.get(node(10, 8).0.to_string().into()))
        .await
        .unwrap();
    assert!(missing.is_null());
    storage.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn files_round_trip_through_indexeddb_from_js() {
    let name = fresh_name("file");
    let storage = JsValue::from(JsIndexedDbStorage::open(name.clone().into()).await.unwrap());
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"chunkSize".into(), &4096.into()).unwrap();
    js_sys::Reflect::set(
        &options,
        &"contentType".into(),
        &"application/x-test".into(),
    )
    .unwrap();
    let root = JsFuture::from(store_file(
        storage.clone(),
        Uint8Array::from(&data[..]).into(),
        Some(options.unchecked_into()),
    ))
    .await
    .unwrap();
    let file = JsFuture::from(read_file(storage.clone(), root.clone(), None))
        .await
        .unwrap();
    let content_type = js_sys::Reflect::get(&file, &"contentType".into()).unwrap();
    assert_eq!(
        content_type.as_string().as_deref(),
        Some("application/x-test")
    );
    let read: Uint8Array = js_sys::Reflect::get(&file, &"data".into()).unwrap().into();
    assert_eq!(read.to_vec(), data);

    let missing = JsFuture::from(read_file(
        storage.clone(),
        node(8, 20).0.to_string().into(),
        None,
    ))
    .await
    .unwrap_err();
    assert_eq!(error_code(&missing), "not_found");
    let bad_options = js_sys::Object::new();
    js_sys::Reflect::set(&bad_options, &"chunkSize".into(), &"big".into()).unwrap();
    let error = JsFuture::from(store_file(
        storage.clone(),
        Uint8Array::new_with_length(1).into(),
        Some(bad_options.unchecked_into()),
    ))
    .await
    .unwrap_err();
    assert_eq!(error_code(&error), "invalid_argument");
    let _ = call(&storage, "close", Box::new([]));
    IndexedDbStorage::delete_database(&name).await.unwrap();
}
