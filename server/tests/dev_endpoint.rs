//! The development-only `GET /api/dev`: with `--dev` it mints a short-lived write access token
//! of the demo realm at each call (to localhost pages too, through CORS); without `--dev` the
//! route does not exist.

mod common;

use common::{leaf, Server};
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ORIGIN};
use reqwest::StatusCode;

async fn dev_token(server: &Server) -> serde_json::Value {
    let response = reqwest::Client::new()
        .get(format!("{}/api/dev", server.url))
        .header(ORIGIN, "http://127.0.0.1:5173")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    assert_eq!(
        headers[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://127.0.0.1:5173"
    );
    response.json().await.expect("json")
}

#[tokio::test]
async fn dev_mode_mints_short_lived_write_tokens_of_the_demo_realm() {
    let server = Server::start(&["--dev", "--dev-token-ttl", "120"]);
    let before = casweb_server::clock::unix_now();
    let body = dev_token(&server).await;
    assert_eq!(body["realm"], "demo");
    assert_eq!(body["scope"], "write");
    assert_eq!(body["ttl"], 120);
    let token = body["token"].as_str().expect("token is a string");
    assert!(token.starts_with("cwa1.demo.write."), "{token}");
    let realm_token = server
        .dev_token
        .as_deref()
        .expect("--dev prints the realm token");
    assert_ne!(token, realm_token, "the page never gets the realm token");
    let expires = body["expires"].as_u64().expect("expires");
    assert!(
        (before + 120..=before + 122).contains(&expires),
        "{expires}"
    );

    // The token works for the realm it names, and a second call mints another one.
    let demo = server.client("demo", token);
    let (key, bytes) = leaf(7);
    assert!(demo.put_ok(&key, &bytes).await);
    let again = dev_token(&server).await;
    assert_ne!(again["token"], body["token"]);
    // It cannot mint tokens itself.
    let (status, refused) = server.admin(token).mint("demo", "write", 60).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    assert_eq!(refused["error"], "insufficient_scope");
}

#[tokio::test]
async fn without_dev_mode_the_route_does_not_exist() {
    let server = Server::start(&[]);
    let response = reqwest::get(format!("{}/api/dev", server.url))
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "unknown_route");
}
