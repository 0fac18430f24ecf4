//! Browser tests of access tokens against the real server: a sync pass during which the page's
//! token expires, renewed through `get_token` (every node owned, claims proved with the new
//! token) or not renewable (a typed `unauthorized`, the nodes kept pending and not retried until
//! a flush with a working token); and the JS `getToken` of `HttpStorage` under a
//! `BufferedHttpStorage`, with a revoked token.
#![cfg(target_arch = "wasm32")]

#[path = "support/server.rs"]
mod server;
#[path = "support/unique_dag.rs"]
mod unique_dag;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use futures::future::join_all;
use gloo_timers::future::TimeoutFuture;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::chunker::FileDag;
use casweb::http::{HttpConfig, HttpStorage, TokenSource};
use casweb::sync::{Backoff, BufferedConfig, BufferedStorage, CheckResult, SyncRemote};
use casweb::{Error, Key, Result, StorageProvider};
use unique_dag::{unique, unique_dag};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = mintToken, catch)]
    async fn mint_token(
        base_url: &str,
        realm: &str,
        credential: &str,
        scope: &str,
        ttl: u32,
    ) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = revokeToken, catch)]
    async fn revoke_token(
        base_url: &str,
        realm: &str,
        credential: &str,
        id: &str,
    ) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = tokenRenewer)]
    fn token_renewer(base_url: &str, realm: &str, credential: &str, ttl: u32) -> js_sys::Function;

    #[wasm_bindgen(variadic)]
    fn call(object: &JsValue, method: &str, args: Box<[JsValue]>) -> JsValue;
}

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap()
}

fn text_field(object: &JsValue, name: &str) -> String {
    field(object, name)
        .as_string()
        .unwrap_or_else(|| panic!("{name} is not a string"))
}

/// An access token of realm alpha, minted the way an app's backend does (with the realm token):
/// its text, id and expiry (Unix seconds).
async fn mint(scope: &str, ttl: u32) -> (String, String, f64) {
    let body = mint_token(
        server::server_url(),
        "alpha",
        server::token_alpha(),
        scope,
        ttl,
    )
    .await
    .unwrap_or_else(|e| panic!("mint: {e:?}"));
    (
        text_field(&body, "token"),
        text_field(&body, "id"),
        field(&body, "expires").as_f64().unwrap(),
    )
}

/// A `get_token` asking the mint endpoint for a fresh write token, counting its calls.
fn renewing(calls: Rc<Cell<u32>>) -> TokenSource {
    TokenSource::new(move || {
        let calls = calls.clone();
        async move {
            calls.set(calls.get() + 1);
            let (token, _, _) = mint("write", 600).await;
            Ok(token)
        }
    })
}

fn realm_http(realm: &str, token: &str) -> HttpStorage {
    HttpStorage::new(HttpConfig::new(server::server_url(), realm, token)).unwrap()
}

/// The engine settings of these tests: own pending store, quick retries, explicit flushes only.
fn config() -> BufferedConfig {
    BufferedConfig {
        debounce_ms: 60_000,
        backoff: Backoff {
            base_ms: 50,
            max_ms: 400,
        },
        pending_store: Some(unique("pending")),
        ..BufferedConfig::default()
    }
}

/// The remote of the engine: `HttpStorage`, with the second `check` of a pass (the DAG's
/// second level) held until the token has expired, so that the token expires mid-pass.
#[derive(Clone)]
struct ExpiresMidPass {
    inner: HttpStorage,
    checks: Rc<Cell<u32>>,
    /// When the token given by [`ExpiresMidPass::expire_soon`] expires (Unix milliseconds).
    expires_ms: Rc<Cell<f64>>,
}

impl ExpiresMidPass {
    /// Switches to a fresh token of 2 s (valid at least 1 s more: expiries are whole seconds),
    /// which the second check of the next pass waits out.
    async fn expire_soon(&self) {
        let (token, _, expires) = mint("write", 2).await;
        self.inner.set_token(&token).unwrap();
        self.expires_ms.set(expires * 1000.0);
    }
}

impl SyncRemote for ExpiresMidPass {
    async fn check_many(&self, keys: &[Key]) -> Result<CheckResult> {
        self.checks.set(self.checks.get() + 1);
        if self.checks.get() == 2 {
            let wait = self.expires_ms.get() + 300.0 - js_sys::Date::now();
            if wait > 0.0 {
                TimeoutFuture::new(wait as u32).await;
            }
        }
        self.inner.check_many(keys).await
    }
    async fn claim_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.inner.claim_many(nodes).await
    }
    async fn put_many(&self, nodes: &[(Key, Bytes)]) -> Result<Vec<Result<()>>> {
        self.inner.put_many(nodes).await
    }
    fn max_node_size(&self) -> Option<usize> {
        self.inner.max_node_size()
    }
}

impl StorageProvider for ExpiresMidPass {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        self.inner.get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.inner.put(key, bytes).await
    }
}

/// A DAG of at least three levels whose nodes but the root realm beta already stored: alpha
/// claims them (proofs of possession made with the token in use) and uploads the root.
async fn dag_mostly_in_beta() -> FileDag {
    let dag = unique_dag(20_000);
    assert!(dag.levels().count() >= 3, "{} levels", dag.levels().count());
    let beta = realm_http("beta", server::token_beta());
    let all_but_root = &dag.nodes[..dag.nodes.len() - 1];
    let outcomes = beta.put_many(all_but_root).await.unwrap();
    assert!(outcomes.iter().all(Result::is_ok));
    dag
}

async fn put_all<S: StorageProvider>(storage: &S, nodes: &[(Key, Bytes)]) {
    for result in join_all(nodes.iter().map(|(k, b)| storage.put(*k, b.clone()))).await {
        result.unwrap();
    }
}

async fn assert_all_owned_by_alpha(dag: &FileDag) {
    let keys: Vec<Key> = dag.nodes.iter().map(|(k, _)| *k).collect();
    let check = realm_http("alpha", server::token_alpha())
        .check_many(&keys)
        .await
        .unwrap();
    assert!(check.missing.is_empty() && check.unowned.is_empty());
    assert_eq!(check.owned.len(), keys.len());
}

/// An engine over an access token of alpha, through [`ExpiresMidPass`].
async fn engine(
    get_token: Option<TokenSource>,
) -> (BufferedStorage<ExpiresMidPass>, ExpiresMidPass) {
    let (token, _, _) = mint("write", 600).await;
    let mut http = HttpConfig::new(server::server_url(), "alpha", token);
    http.get_token = get_token;
    let remote = ExpiresMidPass {
        inner: HttpStorage::new(http).unwrap(),
        checks: Rc::default(),
        expires_ms: Rc::default(),
    };
    let engine = BufferedStorage::open(remote.clone(), config())
        .await
        .unwrap();
    (engine, remote)
}

#[wasm_bindgen_test]
async fn a_token_expiring_mid_sync_is_renewed_and_every_node_is_owned() {
    let dag = dag_mostly_in_beta().await;
    let calls = Rc::new(Cell::new(0));
    let (engine, remote) = engine(Some(renewing(calls.clone()))).await;
    put_all(&engine, &dag.nodes).await;
    remote.expire_soon().await;
    let result = engine.flush().await.unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_eq!(result.synced.len(), dag.nodes.len());
    assert!(
        remote.checks.get() >= 3,
        "the pass went on after the expiry"
    );
    assert_eq!(calls.get(), 1, "one renewal serves the rest of the pass");
    let stats = engine.stats();
    assert_eq!((stats.pending, stats.failed), (0, 0), "{stats:?}");
    assert!(engine.pending_keys().is_empty());
    assert_all_owned_by_alpha(&dag).await;
    engine.dispose();
}

#[wasm_bindgen_test]
async fn without_renewal_an_expired_token_is_unauthorized_and_nothing_is_lost() {
    let dag = dag_mostly_in_beta().await;
    let (engine, remote) = engine(None).await;
    put_all(&engine, &dag.nodes).await;
    remote.expire_soon().await;
    let result = engine.flush().await.unwrap();
    let leaves = dag.levels().next().unwrap().len();
    assert_eq!(
        result.synced.len(),
        leaves,
        "the first level went before the expiry"
    );
    assert!(!result.failed.is_empty());
    for (key, error) in &result.failed {
        assert!(!error.is_transient(), "{key}: {error}");
        assert!(
            matches!(error.code(), "unauthorized" | "child_not_synced"),
            "{key}: {error}"
        );
    }
    let refused = result
        .failed
        .iter()
        .find_map(|(_, e)| match e {
            Error::Unauthorized { code, .. } => Some(code.clone()),
            _ => None,
        })
        .expect("a typed unauthorized");
    assert_eq!(refused, "token_expired");
    let pending = dag.nodes.len() - leaves;
    let stats = engine.stats();
    assert_eq!(stats.pending, pending, "nothing lost: {stats:?}");
    assert!(stats.parked > 0, "{stats:?}");
    assert_eq!(engine.pending_keys().len(), pending);
    // Not retried like a transient failure.
    let passes = stats.passes;
    TimeoutFuture::new(1_500).await;
    assert_eq!(engine.stats().passes, passes, "retried without a new token");
    // The app gets a new token itself; the next flush syncs the rest.
    let (fresh, _, _) = mint("write", 600).await;
    remote.inner.set_token(&fresh).unwrap();
    let result = engine.flush().await.unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_eq!(result.synced.len(), pending);
    assert_eq!(engine.stats().pending, 0);
    assert_all_owned_by_alpha(&dag).await;
    engine.dispose();
}

fn js_config(token: &str, get_token: Option<&JsValue>) -> JsValue {
    let config = js_sys::Object::new();
    let set = |name: &str, value: &JsValue| {
        js_sys::Reflect::set(&config, &name.into(), value).unwrap();
    };
    set("baseUrl", &server::server_url().into());
    set("realm", &"alpha".into());
    set("token", &token.into());
    if let Some(get_token) = get_token {
        set("getToken", get_token);
    }
    config.into()
}

fn keys_js(dag: &FileDag) -> JsValue {
    dag.nodes
        .iter()
        .map(|(key, _)| JsValue::from(key.to_string()))
        .collect::<js_sys::Array>()
        .into()
}

#[wasm_bindgen_test]
async fn js_get_token_renews_a_revoked_token_and_without_it_the_error_is_typed() {
    let dag = unique_dag(6_000);
    let (token, id, _) = mint("write", 600).await;
    revoke_token(server::server_url(), "alpha", server::token_alpha(), &id)
        .await
        .unwrap();

    // Without getToken: the typed error, with the server's code and the status.
    let plain = casweb::js::JsHttpStorage::new(js_config(&token, None)).unwrap();
    let error = JsFuture::from(plain.check_many(keys_js(&dag), None))
        .await
        .expect_err("a revoked token");
    assert_eq!(text_field(&error, "code"), "unauthorized");
    assert_eq!(text_field(&error, "serverCode"), "token_revoked");
    assert_eq!(field(&error, "status").as_f64(), Some(401.0));

    // With getToken: a BufferedHttpStorage over it syncs everything after one renewal.
    let renewer: JsValue =
        token_renewer(server::server_url(), "alpha", server::token_alpha(), 600).into();
    let http = casweb::js::JsHttpStorage::new(js_config(&token, Some(&renewer))).unwrap();
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"debounceMs".into(), &60_000.into()).unwrap();
    js_sys::Reflect::set(&options, &"pendingStore".into(), &JsValue::NULL).unwrap();
    let engine = JsFuture::from(casweb::js::JsBufferedHttpStorage::open(
        &http,
        Some(options.unchecked_into()),
    ))
    .await
    .unwrap();
    let puts = dag.nodes.iter().map(|(key, bytes)| {
        let args: Box<[JsValue]> = Box::new([
            key.to_string().into(),
            js_sys::Uint8Array::from(&bytes[..]).into(),
        ]);
        JsFuture::from(js_sys::Promise::from(call(&engine, "put", args)))
    });
    for put in join_all(puts).await {
        put.unwrap();
    }
    let result = JsFuture::from(js_sys::Promise::from(call(&engine, "flush", Box::new([]))))
        .await
        .unwrap();
    let synced = js_sys::Array::from(&field(&result, "synced"));
    let failed = js_sys::Array::from(&field(&result, "failed"));
    assert_eq!(failed.length(), 0, "{:?}", failed.get(0));
    assert_eq!(synced.length() as usize, dag.nodes.len());
    assert_eq!(field(&renewer, "calls").as_f64(), Some(1.0));
    let _ = call(&engine, "dispose", Box::new([]));

    // A getToken that is not a function is refused at construction.
    let config = js_config(&token, Some(&JsValue::from(42)));
    let error = casweb::js::JsHttpStorage::new(config)
        .err()
        .expect("getToken: 42");
    assert_eq!(text_field(&error, "code"), "invalid_argument");
}
