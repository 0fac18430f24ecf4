//! The development-only `GET /api/dev`: with `--dev` it hands out the demo realm's working token
//! (to localhost pages too, through CORS); without `--dev` the route does not exist.

mod common;

use common::{leaf, Server};
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, ORIGIN};
use reqwest::StatusCode;

#[tokio::test]
async fn dev_mode_serves_the_demo_realm_and_its_token() {
    let server = Server::start(&["--dev"]);
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
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["realm"], "demo");
    let token = body["token"].as_str().expect("token is a string");
    assert_eq!(Some(token), server.dev_token.as_deref());

    // The token works for the realm it names.
    let demo = server.client("demo", token);
    let (key, bytes) = leaf(7);
    assert!(demo.put_ok(&key, &bytes).await);
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
