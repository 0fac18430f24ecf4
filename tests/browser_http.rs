//! Browser tests of `HttpStorage` in real headless Chromium against the real reference server
//! (started by `scripts/browser-test.sh`; see `tests/support/server.rs`): the protocol's calls,
//! splitting by the server's limits, ownership across realms, typed errors for every kind of
//! failure (HTTP, network, timeout, injected 503s) and the JS class.
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;

use bytes::Bytes;
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::http::{HttpConfig, HttpStorage};
use casweb::js::{JsCachedStorage, JsHttpStorage, JsMemoryStorage};
use casweb::{node, Error, Key, StorageProvider};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
}

/// A tag no other test (or earlier run against the same server) uses.
fn unique() -> String {
    format!("{}-{}", js_sys::Date::now(), js_sys::Math::random())
}

/// A childless node (a successor with data only).
fn leaf(tag: &str, i: usize, len: usize) -> (Key, Bytes) {
    let mut data = format!("{tag}/{i}/").into_bytes();
    data.resize(len.max(data.len()), (i % 251) as u8);
    let bytes = node::encode_successor(&[], &data, 0).unwrap();
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

/// A set node over `children`.
fn set_of(children: &[Key]) -> (Key, Bytes) {
    let bytes = node::encode_set(children).unwrap();
    (Key::for_bytes(&bytes), Bytes::from(bytes))
}

fn storage(base_url: &str, realm: &str, token: &str) -> HttpStorage {
    HttpStorage::new(HttpConfig::new(base_url, realm, token)).unwrap()
}

fn alpha() -> HttpStorage {
    storage(server::server_url(), "alpha", server::token_alpha())
}

fn beta() -> HttpStorage {
    storage(server::server_url(), "beta", server::token_beta())
}

/// `(status, server code)` of an `Error::Http`, panicking on anything else.
fn http(error: &Error) -> (u16, &str) {
    match error {
        Error::Http { status, code, .. } => (*status, code.as_str()),
        other => panic!("expected an HTTP error, got {other:?}"),
    }
}

fn rejected_code(result: &Result<(), Error>) -> &str {
    match result {
        Err(Error::Rejected { code, .. }) => code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &name.into()).unwrap()
}

/// Checks a JS rejection is a CaswebError and returns its `code`.
fn error_code(error: &JsValue) -> String {
    assert!(
        error.is_instance_of::<js_sys::Error>(),
        "not an Error: {error:?}"
    );
    assert_eq!(
        field(error, "name").as_string().as_deref(),
        Some("CaswebError")
    );
    field(error, "code")
        .as_string()
        .expect("error.code is a string")
}

async fn rejection(promise: Promise) -> JsValue {
    JsFuture::from(promise)
        .await
        .expect_err("expected a rejection")
}

fn js_nodes(nodes: &[(Key, Bytes)]) -> JsValue {
    nodes
        .iter()
        .map(|(key, bytes)| {
            let item = Object::new();
            Reflect::set(&item, &"key".into(), &key.to_string().into()).unwrap();
            Reflect::set(&item, &"bytes".into(), &Uint8Array::from(&bytes[..])).unwrap();
            JsValue::from(item)
        })
        .collect::<Array>()
        .into()
}

fn js_config(entries: &[(&str, JsValue)]) -> JsValue {
    let config = Object::new();
    for (name, value) in entries {
        Reflect::set(&config, &(*name).into(), value).unwrap();
    }
    config.into()
}

fn alpha_js_config() -> JsValue {
    js_config(&[
        ("baseUrl", server::server_url().into()),
        ("realm", "alpha".into()),
        ("token", server::token_alpha().into()),
    ])
}

#[wasm_bindgen_test]
async fn info_reports_the_limits_once() {
    let alpha = alpha();
    let limits = alpha.info().await.unwrap();
    assert_eq!(limits.max_node_size, 4 * 1024 * 1024);
    assert_eq!(limits.max_check_keys, 1000);
    assert!(limits.max_batch_bytes >= limits.max_node_size + 4);
    assert!(limits.max_batch_nodes > 0 && limits.max_claim_batch > 0);
    assert_eq!(alpha.info().await.unwrap(), limits);
    assert_eq!(
        alpha.request_count(),
        1,
        "info is cached after the first answer"
    );
    // Clones share the cache and the counter.
    let clone = alpha.clone();
    clone.info().await.unwrap();
    assert_eq!(clone.request_count(), 1);
}

#[wasm_bindgen_test]
async fn put_and_get_round_trip_and_missing_is_none() {
    let alpha = alpha();
    let tag = unique();
    let (key, bytes) = leaf(&tag, 0, 3000);
    alpha.put(key, bytes.clone()).await.unwrap();
    assert_eq!(alpha.get(key).await.unwrap(), Some(bytes.clone()));
    // Putting an owned node again is fine.
    alpha.put(key, bytes).await.unwrap();
    let (absent, _) = leaf(&tag, 1, 10);
    assert_eq!(alpha.get(absent).await.unwrap(), None);
    assert_eq!(alpha.request_count(), 4);
}

#[wasm_bindgen_test]
async fn get_of_another_realms_node_is_403_not_owned() {
    let (key, bytes) = leaf(&unique(), 0, 100);
    alpha().put(key, bytes).await.unwrap();
    let error = beta().get(key).await.unwrap_err();
    assert_eq!(http(&error), (403, "not_owned"));
    assert_eq!(error.code(), "http_error");
    assert!(!error.is_transient());
}

#[wasm_bindgen_test]
async fn corrupt_puts_are_400_with_the_server_code() {
    let alpha = alpha();
    let tag = unique();
    let (key, _) = leaf(&tag, 0, 100);
    let (_, other_bytes) = leaf(&tag, 1, 100);
    let error = alpha.put(key, other_bytes).await.unwrap_err();
    assert_eq!(http(&error), (400, "hash_mismatch"));
    // Bytes that hash to their key but are not a node.
    let garbage = Bytes::from_static(b"definitely not a casweb node");
    let error = alpha
        .put(Key::for_bytes(&garbage), garbage)
        .await
        .unwrap_err();
    assert_eq!(http(&error), (400, "invalid_node"));

    // The same through the JS class: an Error with code, status and serverCode.
    let js = JsHttpStorage::new(alpha_js_config()).unwrap();
    let (_, bytes) = leaf(&tag, 2, 100);
    let error = rejection(js.put(
        key.to_string().into(),
        Uint8Array::from(&bytes[..]).into(),
        None,
    ))
    .await;
    assert_eq!(error_code(&error), "http_error");
    assert_eq!(field(&error, "status").as_f64(), Some(400.0));
    assert_eq!(
        field(&error, "serverCode").as_string().as_deref(),
        Some("hash_mismatch")
    );
}

#[wasm_bindgen_test]
async fn put_many_of_a_three_level_dag_then_check_says_owned() {
    let alpha = alpha();
    let tag = unique();
    let leaves: Vec<_> = (0..4).map(|i| leaf(&tag, i, 500 + i)).collect();
    let left = set_of(&[leaves[0].0, leaves[1].0]);
    let right = set_of(&[leaves[2].0, leaves[3].0]);
    let root = set_of(&[left.0, right.0]);
    let mut nodes = leaves.clone();
    nodes.extend([left, right, root.clone()]);
    let results = alpha.put_many(&nodes).await.unwrap();
    assert_eq!(results.len(), nodes.len());
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let keys: Vec<Key> = nodes.iter().map(|(k, _)| *k).collect();
    let (absent, _) = leaf(&tag, 99, 10);
    let mut asked = keys.clone();
    asked.push(absent);
    asked.push(keys[0]); // duplicates are asked once
    let check = alpha.check_many(&asked).await.unwrap();
    assert_eq!(check.owned, keys);
    assert_eq!(check.missing, vec![absent]);
    assert!(check.unowned.is_empty());
    assert_eq!(alpha.get(root.0).await.unwrap(), Some(root.1));
}

#[wasm_bindgen_test]
async fn gets_of_one_tick_travel_together_split_by_max_get_keys() {
    let tag = unique();
    let nodes: Vec<_> = (0..2500).map(|i| leaf(&tag, i, 64)).collect();
    let results = alpha().put_many(&nodes).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let (absent, _) = leaf(&tag, 9999, 10);
    let reader = alpha();
    let limits = reader.info().await.unwrap();
    assert_eq!(limits.max_get_keys, 1000);

    // 2,501 gets issued in one tick: three many-nodes gets (1,000 keys each at most).
    let before = reader.request_count();
    let gets = nodes
        .iter()
        .map(|(key, _)| *key)
        .chain([absent])
        .map(|key| reader.get(key));
    let values = futures::future::join_all(gets).await;
    assert_eq!(reader.request_count() - before, 3);
    for ((_, bytes), value) in nodes.iter().zip(&values) {
        assert_eq!(value.as_ref().unwrap().as_ref(), Some(bytes));
    }
    assert_eq!(values.last().unwrap().as_ref().unwrap(), &None);

    // The same through get_many, in order, duplicates included.
    let mut keys: Vec<Key> = nodes.iter().map(|(key, _)| *key).collect();
    keys.push(keys[0]);
    let before = reader.request_count();
    let values = reader.get_many(&keys).await.unwrap();
    assert_eq!(reader.request_count() - before, 3);
    assert_eq!(values.len(), keys.len());
    assert_eq!(values[0].as_ref(), Some(&nodes[0].1));
    assert_eq!(values.last().unwrap().as_ref(), Some(&nodes[0].1));

    // A node this realm does not own fails its own get only, even in a shared tick.
    let beta = beta();
    let (theirs, theirs_bytes) = leaf(&tag, 5000, 40);
    beta.put(theirs, theirs_bytes.clone()).await.unwrap();
    let (mine, not_mine) = futures::join!(beta.get(theirs), beta.get(nodes[0].0));
    assert_eq!(mine.unwrap(), Some(theirs_bytes));
    assert_eq!(http(&not_mine.unwrap_err()), (403, "not_owned"));
    assert_eq!(
        http(&beta.get_many(&[theirs, nodes[0].0]).await.unwrap_err()),
        (403, "not_owned")
    );
}

#[wasm_bindgen_test]
async fn put_many_rejects_only_the_node_whose_child_is_absent() {
    let alpha = alpha();
    let tag = unique();
    let (a, b, absent) = (leaf(&tag, 0, 50), leaf(&tag, 1, 60), leaf(&tag, 2, 70));
    let orphan = set_of(&[a.0, absent.0]);
    let fine = set_of(&[a.0, b.0]);
    let (wrong_key, _) = leaf(&tag, 3, 10);
    let mismatched = (wrong_key, b.1.clone());
    let nodes = vec![
        a.clone(),
        b.clone(),
        orphan.clone(),
        fine.clone(),
        mismatched,
    ];
    let results = alpha.put_many(&nodes).await.unwrap();
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Ok(()));
    assert_eq!(rejected_code(&results[2]), "missing_nodes");
    match &results[2] {
        Err(error @ Error::Rejected { key, message, .. }) => {
            assert_eq!(*key, orphan.0);
            assert!(message.contains(&absent.0.to_string()), "{message}");
            assert_eq!(error.code(), "rejected");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(results[3], Ok(()));
    // Bytes that are not the key's are refused locally, not sent.
    assert_eq!(results[4], Err(Error::HashMismatch { key: wrong_key }));
    let check = alpha
        .check_many(&[orphan.0, fine.0, wrong_key])
        .await
        .unwrap();
    assert_eq!(check.missing, vec![orphan.0, wrong_key]);
    assert_eq!(check.owned, vec![fine.0]);
}

#[wasm_bindgen_test]
async fn put_many_splits_by_the_node_count_and_keeps_order() {
    let alpha = alpha();
    let limits = alpha.info().await.unwrap();
    let tag = unique();
    let count = limits.max_batch_nodes + 10;
    let leaves: Vec<_> = (0..count).map(|i| leaf(&tag, i, 20)).collect();
    let root = set_of(&leaves.iter().map(|(k, _)| *k).collect::<Vec<_>>());
    let mut nodes = leaves;
    nodes.push(root.clone());
    let before = alpha.request_count();
    let results = alpha.put_many(&nodes).await.unwrap();
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(
        alpha.request_count() - before,
        2,
        "{} nodes in 2 batches",
        nodes.len()
    );
    // The root (in the second batch) relied on leaves of the first.
    assert_eq!(alpha.get(root.0).await.unwrap(), Some(root.1));
}

#[wasm_bindgen_test]
async fn check_many_splits_by_max_check_keys() {
    let alpha = alpha();
    let limits = alpha.info().await.unwrap();
    let tag = unique();
    let keys: Vec<Key> = (0..2500).map(|i| leaf(&tag, i, 8).0).collect();
    let before = alpha.request_count();
    let check = alpha.check_many(&keys).await.unwrap();
    let expected = keys.len().div_ceil(limits.max_check_keys) as u64;
    assert_eq!(expected, 3);
    assert_eq!(alpha.request_count() - before, expected);
    assert_eq!(check.missing, keys, "merged in input order");
    assert!(check.owned.is_empty() && check.unowned.is_empty());
    assert_eq!(alpha.check_many(&[]).await.unwrap(), Default::default());
    assert_eq!(
        alpha.request_count() - before,
        expected,
        "nothing to ask, no request"
    );
}

#[wasm_bindgen_test]
async fn another_realm_claims_with_proofs_of_possession() {
    let (alpha, beta) = (alpha(), beta());
    let tag = unique();
    let leaves: Vec<_> = (0..4).map(|i| leaf(&tag, i, 200)).collect();
    let parent = set_of(&[leaves[1].0, leaves[2].0]);
    let mut nodes = leaves.clone();
    nodes.push(parent.clone());
    let keys: Vec<Key> = nodes.iter().map(|(k, _)| *k).collect();
    assert!(alpha
        .put_many(&nodes)
        .await
        .unwrap()
        .iter()
        .all(Result::is_ok));

    let check = beta.check_many(&keys).await.unwrap();
    assert_eq!(check.unowned, keys);

    beta.claim(leaves[0].0, &leaves[0].1).await.unwrap();
    beta.claim(leaves[0].0, &leaves[0].1).await.unwrap(); // already owned: fine
    assert_eq!(
        beta.get(leaves[0].0).await.unwrap(),
        Some(leaves[0].1.clone())
    );
    // Wrong bytes: the proof does not verify.
    let error = beta.claim(leaves[3].0, &leaves[0].1).await.unwrap_err();
    assert_eq!(http(&error), (403, "invalid_pop"));
    // A parent before its children: missing_nodes.
    let error = beta.claim(parent.0, &parent.1).await.unwrap_err();
    assert_eq!(http(&error), (409, "missing_nodes"));
    // A node nobody stored.
    let (absent, absent_bytes) = leaf(&tag, 50, 10);
    let error = beta.claim(absent, &absent_bytes).await.unwrap_err();
    assert_eq!(http(&error), (404, "not_found"));

    // Claim many, children first: the parent relies on children claimed earlier in the request;
    // one claim with bytes beta does not hold is refused, the others go through.
    let claims = vec![
        leaves[1].clone(),
        leaves[2].clone(),
        (leaves[3].0, leaves[0].1.clone()),
        parent.clone(),
        (absent, absent_bytes),
    ];
    let results = beta.claim_many(&claims).await.unwrap();
    assert_eq!(results[0], Ok(()));
    assert_eq!(results[1], Ok(()));
    assert_eq!(rejected_code(&results[2]), "invalid_pop");
    assert_eq!(results[3], Ok(()));
    assert_eq!(rejected_code(&results[4]), "not_found");

    let check = beta.check_many(&keys).await.unwrap();
    assert_eq!(check.unowned, vec![leaves[3].0]);
    assert_eq!(
        check.owned,
        vec![leaves[0].0, leaves[1].0, leaves[2].0, parent.0]
    );
    // A proof is bound to the token: alpha's token proves nothing for beta (and vice versa),
    // which the server checks; beta's own proof for the last leaf works.
    assert_eq!(
        beta.claim_many(&[leaves[3].clone()]).await.unwrap(),
        vec![Ok(())]
    );
}

#[wasm_bindgen_test]
async fn bad_tokens_and_wrong_realms_are_refused() {
    let unknown = storage(
        server::server_url(),
        "alpha",
        "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
    );
    let (key, bytes) = leaf(&unique(), 0, 10);
    // A refused token is the typed `unauthorized` (no getToken to renew it), with the server's
    // code; not transient.
    let unauthorized = |error: Error| match error {
        Error::Unauthorized { code, .. } => code,
        other => panic!("expected unauthorized, got {other:?}"),
    };
    assert_eq!(
        unauthorized(unknown.get(key).await.unwrap_err()),
        "unauthorized"
    );
    assert_eq!(
        unauthorized(unknown.put(key, bytes.clone()).await.unwrap_err()),
        "unauthorized"
    );
    assert_eq!(
        unauthorized(unknown.check_many(&[key]).await.unwrap_err()),
        "unauthorized"
    );
    let error = unknown.put_many(&[(key, bytes)]).await.unwrap_err();
    assert!(!error.is_transient());
    assert_eq!(error.code(), "unauthorized");
    assert_eq!(unauthorized(error), "unauthorized");
    let wrong_realm = storage(server::server_url(), "beta", server::token_alpha());
    assert_eq!(
        http(&wrong_realm.get(key).await.unwrap_err()),
        (403, "wrong_realm")
    );
}

#[wasm_bindgen_test]
async fn a_closed_port_is_a_network_error() {
    let nowhere = storage("http://127.0.0.1:1", "alpha", server::token_alpha());
    let error = nowhere.info().await.unwrap_err();
    assert!(matches!(error, Error::Network(_)), "{error:?}");
    assert_eq!(error.code(), "network_error");
    assert!(error.is_transient());
    assert!(matches!(
        nowhere.get(leaf("x", 0, 1).0).await,
        Err(Error::Network(_))
    ));
    assert_eq!(nowhere.request_count(), 2);
}

#[wasm_bindgen_test]
async fn a_server_that_does_not_answer_times_out() {
    let mut config = HttpConfig::new(server::hanging_url(), "alpha", server::token_alpha());
    config.timeout_ms = 300;
    let hanging = HttpStorage::new(config).unwrap();
    let started = js_sys::Date::now();
    let error = hanging.info().await.unwrap_err();
    let elapsed = js_sys::Date::now() - started;
    assert_eq!(error, Error::Timeout { ms: 300 });
    assert_eq!(error.code(), "timeout");
    assert!(error.is_transient());
    assert!((250.0..3000.0).contains(&elapsed), "took {elapsed} ms");
    let (key, bytes) = leaf(&unique(), 0, 10);
    assert_eq!(
        hanging.put(key, bytes).await,
        Err(Error::Timeout { ms: 300 })
    );

    // A tiny timeout on a large upload to the real server.
    let mut config = HttpConfig::new(server::server_url(), "alpha", server::token_alpha());
    config.timeout_ms = 1;
    let hurried = HttpStorage::new(config).unwrap();
    let (key, bytes) = leaf(&unique(), 0, 4 * 1024 * 1024 - 64);
    assert_eq!(hurried.put(key, bytes).await, Err(Error::Timeout { ms: 1 }));
}

#[wasm_bindgen_test]
async fn a_stopped_server_is_a_network_error_until_it_restarts() {
    let alpha = alpha();
    let (key, bytes) = leaf(&unique(), 0, 1000);
    alpha.put(key, bytes.clone()).await.unwrap();
    server::control_stop_main().await;
    let error = alpha.get(key).await.unwrap_err();
    assert!(matches!(error, Error::Network(_)), "{error:?}");
    assert!(error.is_transient());
    server::control_start_main().await;
    // The node survived the SIGKILL (a 200 means committed durably).
    assert_eq!(alpha.get(key).await.unwrap(), Some(bytes));
}

#[wasm_bindgen_test]
async fn injected_503s_are_transient_http_errors() {
    let faulty = storage(
        server::faulty_server_url(),
        "alpha",
        server::faulty_token_alpha(),
    );
    faulty.info().await.unwrap(); // /api/info is never faulted
    let tag = unique();
    let (mut faults, mut answers) = (0, 0);
    for i in 0..40 {
        match faulty.check_many(&[leaf(&tag, i, 8).0]).await {
            Ok(check) => {
                assert_eq!(check.missing.len(), 1);
                answers += 1;
            }
            Err(error) => {
                assert_eq!(http(&error), (503, "injected_fault"));
                assert!(error.is_transient());
                faults += 1;
            }
        }
    }
    assert!(
        faults > 0 && answers > 0,
        "{faults} faults, {answers} answers"
    );
    assert_eq!(faulty.request_count(), 41);
}

#[wasm_bindgen_test]
async fn js_class_checks_its_config() {
    let cases: Vec<JsValue> = vec![
        JsValue::UNDEFINED,
        JsValue::NULL,
        42.into(),
        "http://127.0.0.1:1".into(),
        Array::new().into(),
        Object::new().into(),
        js_config(&[
            ("baseUrl", 42.into()),
            ("realm", "alpha".into()),
            ("token", server::token_alpha().into()),
        ]),
        js_config(&[
            ("baseUrl", server::server_url().into()),
            ("realm", 7.into()),
            ("token", server::token_alpha().into()),
        ]),
        js_config(&[
            ("baseUrl", server::server_url().into()),
            ("realm", "alpha".into()),
        ]),
        js_config(&[
            ("baseUrl", server::server_url().into()),
            ("realm", "alpha".into()),
            ("token", "c2hvcnQ=".into()),
        ]),
        js_config(&[
            ("baseUrl", "ftp://example.org".into()),
            ("realm", "alpha".into()),
            ("token", server::token_alpha().into()),
        ]),
        js_config(&[
            ("baseUrl", server::server_url().into()),
            ("realm", "no spaces".into()),
            ("token", server::token_alpha().into()),
        ]),
    ];
    for (i, config) in cases.into_iter().enumerate() {
        let error = JsHttpStorage::new(config).err().expect("must throw");
        assert_eq!(error_code(&error), "invalid_argument", "case {i}");
    }
    for timeout in [JsValue::from("soon"), 0.into(), (-5).into(), 1.5.into()] {
        let config = alpha_js_config();
        Reflect::set(&config, &"timeoutMs".into(), &timeout).unwrap();
        let error = JsHttpStorage::new(config).err().expect("must throw");
        assert_eq!(
            error_code(&error),
            "invalid_argument",
            "timeoutMs {timeout:?}"
        );
        let message = field(&error, "message").as_string().unwrap();
        assert!(message.contains("timeoutMs"), "{message}");
    }
    let error = JsHttpStorage::new(js_config(&[])).err().unwrap();
    let message = field(&error, "message").as_string().unwrap();
    assert!(message.contains("baseUrl"), "{message}");
    let config = alpha_js_config();
    Reflect::set(&config, &"timeoutMs".into(), &5000.into()).unwrap();
    assert!(JsHttpStorage::new(config).is_ok());
}

#[wasm_bindgen_test]
async fn js_class_speaks_the_protocol() {
    let storage = JsHttpStorage::new(alpha_js_config()).unwrap();
    let object = JsValue::from(JsHttpStorage::new(alpha_js_config()).unwrap());
    let info = JsFuture::from(storage.info(None)).await.unwrap();
    assert_eq!(field(&info, "maxCheckKeys").as_f64(), Some(1000.0));
    assert_eq!(field(&info, "maxNodeSize").as_f64(), Some(4194304.0));
    assert_eq!(storage.request_count(), 1.0);

    let tag = unique();
    let (a, b, absent) = (leaf(&tag, 0, 40), leaf(&tag, 1, 40), leaf(&tag, 2, 40));
    let orphan = set_of(&[a.0, absent.0]);
    let results = JsFuture::from(storage.put_many(js_nodes(&[a.clone(), orphan.clone()]), None))
        .await
        .unwrap();
    let results = Array::from(&results);
    assert_eq!(results.length(), 2);
    let first = results.get(0);
    assert_eq!(field(&first, "key").as_string(), Some(a.0.to_string()));
    assert_eq!(field(&first, "ok").as_bool(), Some(true));
    assert!(field(&first, "error").is_undefined());
    let second = results.get(1);
    assert_eq!(field(&second, "ok").as_bool(), Some(false));
    let error = field(&second, "error");
    assert_eq!(
        field(&error, "code").as_string().as_deref(),
        Some("rejected")
    );
    assert_eq!(
        field(&error, "serverCode").as_string().as_deref(),
        Some("missing_nodes")
    );
    assert!(field(&error, "message").is_string());

    let asked: Array = [a.0, absent.0]
        .iter()
        .map(|k| JsValue::from(k.to_string()))
        .collect();
    let got = Array::from(
        &JsFuture::from(storage.get_many(asked.into(), None))
            .await
            .unwrap(),
    );
    assert_eq!(got.length(), 2);
    assert_eq!(Uint8Array::new(&got.get(0)).to_vec(), a.1.to_vec());
    assert!(got.get(1).is_null());

    let keys: Array = [a.0, b.0, orphan.0]
        .iter()
        .map(|k| JsValue::from(k.to_string()))
        .collect();
    let check = JsFuture::from(storage.check_many(keys.into(), None))
        .await
        .unwrap();
    let list = |name: &str| -> Vec<String> {
        Array::from(&field(&check, name))
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect()
    };
    assert_eq!(list("owned"), vec![a.0.to_string()]);
    assert_eq!(list("missing"), vec![b.0.to_string(), orphan.0.to_string()]);
    assert!(list("unowned").is_empty());

    // get/put exactly as JS would call them, and as the remote of a CachedStorage.
    let key_js = JsValue::from(b.0.to_string());
    let put = Promise::from(call(
        &object,
        "put",
        Box::new([key_js.clone(), Uint8Array::from(&b.1[..]).into()]),
    ));
    JsFuture::from(put).await.unwrap();
    let got = JsFuture::from(Promise::from(call(
        &object,
        "get",
        Box::new([key_js.clone()]),
    )))
    .await
    .unwrap();
    assert_eq!(got.dyn_into::<Uint8Array>().unwrap().to_vec(), b.1.to_vec());
    let missing = JsFuture::from(Promise::from(call(
        &object,
        "get",
        Box::new([absent.0.to_string().into()]),
    )))
    .await
    .unwrap();
    assert!(missing.is_null());
    assert_eq!(field(&object, "requestCount").as_f64(), Some(3.0));

    let cached = JsCachedStorage::new(JsMemoryStorage::new().into(), object.clone()).unwrap();
    let got = JsFuture::from(cached.get(a.0.to_string().into(), None))
        .await
        .unwrap();
    assert_eq!(got.dyn_into::<Uint8Array>().unwrap().to_vec(), a.1.to_vec());

    // Claims from JS, as realm beta.
    let beta_config = js_config(&[
        ("baseUrl", server::server_url().into()),
        ("realm", "beta".into()),
        ("token", server::token_beta().into()),
    ]);
    let beta = JsHttpStorage::new(beta_config).unwrap();
    JsFuture::from(beta.claim(
        a.0.to_string().into(),
        Uint8Array::from(&a.1[..]).into(),
        None,
    ))
    .await
    .unwrap();
    let results = JsFuture::from(beta.claim_many(js_nodes(&[(b.0, a.1.clone())]), None))
        .await
        .unwrap();
    let item = Array::from(&results).get(0);
    assert_eq!(field(&item, "ok").as_bool(), Some(false));
    assert_eq!(
        field(&field(&item, "error"), "serverCode")
            .as_string()
            .as_deref(),
        Some("invalid_pop")
    );
    let error = rejection(beta.claim(
        orphan.0.to_string().into(),
        Uint8Array::from(&orphan.1[..]).into(),
        None,
    ))
    .await;
    assert_eq!(error_code(&error), "http_error");
    assert_eq!(field(&error, "status").as_f64(), Some(404.0));
}

#[wasm_bindgen_test]
async fn js_class_rejects_bad_arguments_with_typed_errors() {
    let storage = JsHttpStorage::new(alpha_js_config()).unwrap();
    let (key, bytes) = leaf(&unique(), 0, 10);
    let bytes_js: JsValue = Uint8Array::from(&bytes[..]).into();
    let bad_item = js_config(&[("key", "nope".into()), ("bytes", bytes_js.clone())]);
    let no_bytes = js_config(&[("key", key.to_string().into())]);
    let cases: Vec<(Promise, &str)> = vec![
        (storage.put_many("x".into(), None), "invalid_argument"),
        (
            storage.put_many(JsValue::UNDEFINED, None),
            "invalid_argument",
        ),
        (
            storage.put_many(Array::of1(&42.into()).into(), None),
            "invalid_argument",
        ),
        (
            storage.put_many(Array::of1(&bad_item).into(), None),
            "invalid_key",
        ),
        (
            storage.put_many(Array::of1(&no_bytes).into(), None),
            "invalid_argument",
        ),
        (
            storage.claim_many(Object::new().into(), None),
            "invalid_argument",
        ),
        (
            storage.check_many(Array::of1(&1.into()).into(), None),
            "invalid_argument",
        ),
        (
            storage.check_many(Array::of1(&"short".into()).into(), None),
            "invalid_key",
        ),
        (storage.check_many(JsValue::NULL, None), "invalid_argument"),
        (storage.get_many("key".into(), None), "invalid_argument"),
        (
            storage.get_many(Array::of1(&"short".into()).into(), None),
            "invalid_key",
        ),
        (
            storage.claim(42.into(), bytes_js.clone(), None),
            "invalid_argument",
        ),
        (
            storage.claim(key.to_string().into(), "text".into(), None),
            "invalid_argument",
        ),
        (storage.get(JsValue::UNDEFINED, None), "invalid_argument"),
        (
            storage.put(key.to_string().into(), JsValue::NULL, None),
            "invalid_argument",
        ),
    ];
    for (i, (promise, code)) in cases.into_iter().enumerate() {
        assert_eq!(error_code(&rejection(promise).await), code, "case {i}");
    }
    assert_eq!(storage.request_count(), 0.0, "bad arguments send nothing");
    let empty = JsFuture::from(storage.put_many(Array::new().into(), None))
        .await
        .unwrap();
    assert_eq!(Array::from(&empty).length(), 0);
    let none = JsFuture::from(storage.get_many(Array::new().into(), None))
        .await
        .unwrap();
    assert_eq!(Array::from(&none).length(), 0);
    assert_eq!(storage.request_count(), 0.0);
}
