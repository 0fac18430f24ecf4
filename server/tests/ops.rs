//! Operations endpoints over real HTTP: `/healthz`, `/readyz` (also failing, over a node store
//! whose database does not answer), and `/metrics` whose counters move as requests, uploads,
//! claims, mints and revocations are made.

mod common;

use common::{file_nodes, leaf, Server};
use reqwest::StatusCode;

/// The value of the sample `name` (with its labels, exactly as rendered) in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

async fn scrape(server: &Server) -> String {
    let response = reqwest::get(format!("{}/metrics", server.url))
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().await.expect("text")
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let server = Server::start(&["--no-p2p"]);
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = reqwest::get(format!("{}{path}", server.url))
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: serde_json::Value = response.json().await.expect("json");
        assert_eq!(body["status"], status);
    }
}

#[tokio::test]
async fn metrics_move_with_requests_uploads_and_claims() {
    let server = Server::start(&[]);
    let alpha = server.new_realm("alpha");
    let beta = server.new_realm("beta");
    let before = scrape(&server).await;
    assert_eq!(sample(&before, "casweb_nodes_stored"), Some(0.0));
    assert!(sample(&before, "casweb_dht_peers").is_some(), "{before}");

    let nodes = file_nodes(7, 3000, 1024);
    for (key, bytes) in &nodes {
        assert!(alpha.put_ok(key, bytes).await);
    }
    let (key, bytes) = leaf(99);
    assert!(alpha.put_ok(&key, &bytes).await);
    let claimed = beta.claim(&key, &beta.pop(&bytes)).await;
    assert_eq!(claimed.0, StatusCode::OK, "{:?}", claimed.1);
    let _ = alpha.check(&[key]).await;

    let after = scrape(&server).await;
    let uploaded = (nodes.len() + 1) as f64;
    assert_eq!(sample(&after, "casweb_nodes_stored"), Some(uploaded));
    assert_eq!(
        sample(&after, "casweb_uploaded_nodes_total"),
        Some(uploaded)
    );
    let bytes_total: usize = nodes.iter().map(|(_, b)| b.len()).sum::<usize>() + bytes.len();
    assert_eq!(
        sample(&after, "casweb_uploaded_bytes_total"),
        Some(bytes_total as f64)
    );
    assert_eq!(sample(&after, "casweb_claims_total"), Some(1.0));
    // Tokens created while serving are read on first use.
    assert_eq!(sample(&after, "casweb_tokens{kind=\"realm\"}"), Some(2.0));
    assert_eq!(sample(&after, "casweb_tokens{kind=\"access\"}"), Some(0.0));
    let puts = "casweb_http_requests_total{method=\"PUT\",route=\"/api/realm/{realm}/nodes/raw/{key}\",status=\"200\"}";
    assert_eq!(sample(&after, puts), Some(uploaded));
    let checks = "casweb_http_requests_total{method=\"POST\",route=\"/api/realm/{realm}/nodes/check\",status=\"200\"}";
    assert_eq!(sample(&after, checks), Some(1.0));
    let latency =
        "casweb_http_request_duration_seconds_count{route=\"/api/realm/{realm}/nodes/raw/{key}\"}";
    assert!(sample(&after, latency).is_some_and(|count| count >= uploaded));
    assert!(!after.contains("alpha"), "a realm name became a label");
}

#[tokio::test]
async fn live_access_tokens_are_counted() {
    let server = Server::start(&["--no-p2p"]);
    let admin = server.admin(&server.admin_token());
    let (_, first) = admin.mint_ok("alpha", "read", 3600).await;
    admin.mint_ok("alpha", "write", 3600).await;
    admin.mint_ok("beta", "write", 3600).await;
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "casweb_tokens{kind=\"access\"}"), Some(3.0));
    assert_eq!(sample(&text, "casweb_tokens{kind=\"admin\"}"), Some(1.0));
    // Each realm got a signing key (a realm token) with its first access token.
    assert_eq!(sample(&text, "casweb_tokens{kind=\"realm\"}"), Some(2.0));
    let (status, _) = admin.revoke("alpha", &first).await;
    assert_eq!(status, StatusCode::OK);
    let text = scrape(&server).await;
    assert_eq!(sample(&text, "casweb_tokens{kind=\"access\"}"), Some(2.0));
}

/// A node store whose database is gone: every call fails.
struct BrokenStore;

#[async_trait::async_trait]
impl casweb_server::nodes::NodeStore for BrokenStore {
    async fn status(
        &self,
        _: &str,
        _: &[casweb::Key],
    ) -> Result<Vec<casweb_server::nodes::Status>, casweb_server::nodes::StoreError> {
        Err(casweb_server::nodes::StoreError::new(
            "database file unreachable",
        ))
    }
    async fn bytes(
        &self,
        _: &[casweb::Key],
    ) -> Result<Vec<Option<bytes::Bytes>>, casweb_server::nodes::StoreError> {
        Err(casweb_server::nodes::StoreError::new(
            "database file unreachable",
        ))
    }
    async fn apply(
        &self,
        _: Vec<casweb_server::nodes::Write>,
    ) -> Result<Vec<bool>, casweb_server::nodes::StoreError> {
        Err(casweb_server::nodes::StoreError::new(
            "database file unreachable",
        ))
    }
    async fn node_count(&self) -> Result<u64, casweb_server::nodes::StoreError> {
        Err(casweb_server::nodes::StoreError::new(
            "database file unreachable",
        ))
    }
}

#[tokio::test]
async fn readiness_fails_while_the_database_does_not_answer() {
    use std::sync::Arc;

    use casweb_server::state::AppState;

    let dir = tempfile::tempdir().expect("tempdir");
    let state = AppState {
        store: Arc::new(BrokenStore),
        tokens: Arc::new(
            casweb_server::tokens::TokenStore::open(Box::new(casweb_server::tokens::FileLog::new(
                dir.path(),
            )))
            .await
            .expect("tokens"),
        ),
        clock: Arc::new(casweb_server::clock::SystemClock),
        limits: casweb_server::config::Limits::default(),
        fault: Arc::new(casweb_server::fault::FaultInjector::new(0)),
        dev_token_ttl: None,
        p2p: None,
        metrics: Arc::default(),
    };
    let app = casweb_server::routes::router(state, None, &[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let response = reqwest::get(format!("{url}/readyz")).await.expect("readyz");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "not_ready");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("unreachable")),
        "{body}"
    );
    // The process itself is fine.
    let response = reqwest::get(format!("{url}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(response.status(), StatusCode::OK);
}
