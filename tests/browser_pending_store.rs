//! The sync engine's IndexedDB pending store in headless Chromium: one record per tick of puts,
//! records deleted once nothing in them is pending, resume after a reopen, discard for good, a
//! pending database of an earlier casweb version (one record per node) and an unreadable record.
#![cfg(target_arch = "wasm32")]

use bytes::Bytes;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use casweb::storage::{IdbPendingStore, IndexedDbStorage, NODES_STORE, SCHEMA_VERSION};
use casweb::{Key, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = countRecords)]
    async fn count_records(name: &str, version: u32, store: &str) -> JsValue;
    #[wasm_bindgen(js_name = putRecord)]
    async fn put_record(name: &str, version: u32, store: &str, key: &JsValue, value: &JsValue);
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", js_sys::Math::random())
}

fn nodes(prefix: &str, count: usize) -> Vec<(Key, Bytes)> {
    (0..count)
        .map(|i| {
            let bytes = Bytes::from(format!("{prefix} node {i}").into_bytes());
            (Key::for_bytes(&bytes), bytes)
        })
        .collect()
}

async fn records(name: &str) -> u32 {
    count_records(name, SCHEMA_VERSION, NODES_STORE)
        .await
        .as_f64()
        .unwrap() as u32
}

async fn put_all(store: &IdbPendingStore, nodes: &[(Key, Bytes)]) {
    let puts = nodes
        .iter()
        .map(|(key, bytes)| store.put(*key, bytes.clone()));
    for outcome in futures::future::join_all(puts).await {
        outcome.unwrap();
    }
}

fn sorted(mut entries: Vec<(Key, Bytes)>) -> Vec<(Key, Bytes)> {
    entries.sort_by_key(|(key, _)| *key);
    entries
}

#[wasm_bindgen_test]
async fn puts_of_one_tick_are_one_record_deleted_once_nothing_in_it_is_pending() {
    let name = unique("pending-records");
    let store = IdbPendingStore::open(&name).await.unwrap();
    let first = nodes("first", 50);
    let second = nodes("second", 30);
    put_all(&store, &first).await;
    put_all(&store, &second).await;
    assert_eq!(records(&name).await, 2, "one record per tick of puts");

    // Half of the first tick is synced: its record stays, and a reopen resumes all of it.
    let synced: Vec<Key> = first[..25].iter().map(|(key, _)| *key).collect();
    store.delete_many(&synced).await.unwrap();
    assert_eq!(records(&name).await, 2);
    store.close();
    let reopened = IdbPendingStore::open(&name).await.unwrap();
    let all: Vec<(Key, Bytes)> = first.iter().chain(&second).cloned().collect();
    assert_eq!(sorted(reopened.entries().await.unwrap()), sorted(all));

    // Everything synced: no record is left.
    let keys: Vec<Key> = first.iter().chain(&second).map(|(key, _)| *key).collect();
    reopened.delete_many(&keys[..60]).await.unwrap();
    assert_eq!(records(&name).await, 1, "the first tick's record went");
    reopened.delete_many(&keys[60..]).await.unwrap();
    assert_eq!(records(&name).await, 0);
    reopened.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_discarded_node_does_not_come_back_and_its_neighbours_stay() {
    let name = unique("pending-discard");
    let store = IdbPendingStore::open(&name).await.unwrap();
    let batch = nodes("discard", 10);
    put_all(&store, &batch).await;
    store.discard(batch[3].0).await.unwrap();
    assert_eq!(records(&name).await, 1, "rewritten, not deleted");
    store.close();

    let reopened = IdbPendingStore::open(&name).await.unwrap();
    let mut expected = batch.clone();
    expected.remove(3);
    assert_eq!(sorted(reopened.entries().await.unwrap()), sorted(expected));
    // Discarding the last pending node of a record deletes it.
    let alone = nodes("alone", 1);
    put_all(&reopened, &alone).await;
    assert_eq!(records(&name).await, 2);
    reopened.discard(alone[0].0).await.unwrap();
    assert_eq!(records(&name).await, 1);
    reopened.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_pending_database_of_one_record_per_node_resumes_and_is_cleaned_up() {
    // What earlier casweb versions left: an IndexedDbStorage with its meta and usage records.
    let name = unique("pending-legacy");
    let legacy = IndexedDbStorage::open(&name).await.unwrap();
    let old = nodes("legacy", 20);
    for (key, bytes) in &old {
        legacy.put(*key, bytes.clone()).await.unwrap();
    }
    legacy.usage().await.unwrap(); // indexes the journal into meta records
    legacy.close();
    assert!(count_records(&name, SCHEMA_VERSION, "meta").await.as_f64() > Some(0.0));

    let store = IdbPendingStore::open(&name).await.unwrap();
    assert_eq!(
        count_records(&name, SCHEMA_VERSION, "meta").await.as_f64(),
        Some(0.0),
        "the cache bookkeeping is cleared"
    );
    assert_eq!(sorted(store.entries().await.unwrap()), sorted(old.clone()));
    let newer = nodes("newer", 5);
    put_all(&store, &newer).await;
    let keys: Vec<Key> = old.iter().chain(&newer).map(|(key, _)| *key).collect();
    store.delete_many(&keys).await.unwrap();
    assert_eq!(records(&name).await, 0);
    store.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}

#[wasm_bindgen_test]
async fn an_unreadable_record_is_left_in_place_and_the_rest_resumes() {
    let name = unique("pending-corrupt");
    let store = IdbPendingStore::open(&name).await.unwrap();
    let good = nodes("good", 4);
    put_all(&store, &good).await;
    store.close();
    // A batch record whose framing is cut short, and one that is not bytes at all.
    let truncated = Uint8Array::from(&[200u8, 0, 0, 0, 1, 2, 3][..]);
    put_record(
        &name,
        SCHEMA_VERSION,
        NODES_STORE,
        &JsValue::from(7.0),
        &truncated,
    )
    .await;
    let not_bytes = Array::of1(&JsValue::from("nope"));
    put_record(
        &name,
        SCHEMA_VERSION,
        NODES_STORE,
        &JsValue::from(8.0),
        &not_bytes,
    )
    .await;

    let reopened = IdbPendingStore::open(&name).await.unwrap();
    assert_eq!(
        sorted(reopened.entries().await.unwrap()),
        sorted(good.clone())
    );
    let keys: Vec<Key> = good.iter().map(|(key, _)| *key).collect();
    reopened.delete_many(&keys).await.unwrap();
    assert_eq!(records(&name).await, 2, "the unreadable records stay");
    reopened.close();
    IndexedDbStorage::delete_database(&name).await.unwrap();
}
