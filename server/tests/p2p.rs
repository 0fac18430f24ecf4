//! The server's libp2p node: several nodes on loopback form a DHT and find each other's provider
//! records (with addresses), records expire after a stop, identities survive restarts, and the
//! HTTP routes (`/api/p2p`, provider lookups, provide/stop) answer with the documented codes.

mod common;

use std::time::Duration;

use casweb_server::p2p;
use common::dht::local_dht;
use common::{answer, leaf, Server};
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_find_each_others_provider_records() {
    let nodes = local_dht(5, Duration::from_secs(3600)).await;
    let keys: Vec<_> = (0..5).map(|i| leaf(100 + i).0).collect();
    for (node, key) in nodes.iter().zip(&keys) {
        node.provide(key).await.expect("provide");
    }
    for (provider_index, key) in keys.iter().enumerate() {
        let provider = nodes[provider_index].peer_id().to_string();
        for (asker_index, asker) in nodes.iter().enumerate() {
            let found = asker
                .get_providers(key, 5, Duration::from_secs(10))
                .await
                .expect("lookup");
            let entry = found
                .iter()
                .find(|p| p.peer_id == provider)
                .unwrap_or_else(|| {
                    panic!("node {asker_index} did not find node {provider_index}: {found:?}")
                });
            assert!(
                entry.addrs.iter().any(|a| a.starts_with("/ip4/127.0.0.1/")),
                "provider found without a dialable address: {entry:?}"
            );
            assert!(entry
                .addrs
                .iter()
                .all(|a| a.ends_with(&format!("/p2p/{provider}"))));
        }
    }
    // A key nobody provides: an empty answer, not an error.
    let nobody = nodes[3]
        .get_providers(&leaf(999).0, 5, Duration::from_secs(10))
        .await
        .expect("lookup");
    assert!(nobody.is_empty(), "{nobody:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_expire_after_stop_providing() {
    let ttl = Duration::from_secs(2);
    let nodes = local_dht(5, ttl).await;
    let key = leaf(7).0;
    nodes[0].provide(&key).await.expect("provide");
    let provider = nodes[0].peer_id().to_string();
    let found = nodes[4]
        .get_providers(&key, 1, Duration::from_secs(10))
        .await
        .expect("lookup");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].peer_id, provider);

    nodes[0].stop_providing(&key).await.expect("stop");
    tokio::time::sleep(ttl + Duration::from_millis(500)).await;
    for asker in &nodes[1..] {
        let found = asker
            .get_providers(&key, 1, Duration::from_secs(10))
            .await
            .expect("lookup");
        assert!(
            found.is_empty(),
            "record still found after its TTL: {found:?}"
        );
    }
}

#[tokio::test]
async fn the_peer_id_and_certificate_survive_a_restart() {
    let mut server = Server::start(&[]);
    let http = reqwest::Client::new();
    let (status, first) = answer(
        http.get(format!("{}/api/p2p", server.url))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["protocol"], p2p::KAD_PROTOCOL);
    let addrs: Vec<String> = first["addrs"]
        .as_array()
        .expect("addrs")
        .iter()
        .map(|a| a.as_str().expect("text").to_string())
        .collect();
    for transport in ["/webrtc-direct/certhash/", "/ws/", "/tcp/"] {
        assert!(
            addrs.iter().any(|a| a.contains(transport)),
            "{transport} missing: {addrs:?}"
        );
    }
    let certhash = |addrs: &serde_json::Value| -> String {
        let text = addrs["addrs"]
            .as_array()
            .expect("addrs")
            .iter()
            .filter_map(|a| a.as_str())
            .find(|a| a.contains("/certhash/"))
            .expect("webrtc address")
            .to_string();
        text.split("/certhash/")
            .nth(1)
            .expect("hash")
            .split('/')
            .next()
            .expect("hash")
            .to_string()
    };
    server.kill_and_restart();
    let (_, second) = answer(
        http.get(format!("{}/api/p2p", server.url))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(first["peerId"], second["peerId"]);
    assert_eq!(certhash(&first), certhash(&second));
}

#[tokio::test]
async fn http_routes_provide_look_up_and_refuse_bad_input() {
    let server = Server::start(&[]);
    let alpha = server.new_realm("alpha");
    let beta = server.new_realm("beta");
    let http = reqwest::Client::new();
    let (key, bytes) = leaf(42);
    alpha.put_ok(&key, &bytes).await;

    // Only a realm owning the node can make the server announce it.
    let provide = |client: &common::Client, key: String| {
        let request = client.auth(client.http.post(client.url(&format!("{key}/provide"))));
        async move { answer(request.send().await.expect("send")).await }
    };
    let (status, body) = provide(&beta, key.to_string()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "not_owned");
    let (status, body) = provide(&alpha, leaf(43).0.to_string()).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    let (status, body) = provide(&alpha, "not-a-key".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_key");
    let (status, body) = provide(&alpha, key.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["providing"], true);

    // The server finds itself as provider, with its addresses.
    let lookup = |query: String| {
        let request = http.get(format!("{}/api/p2p/providers/{query}", server.url));
        async move { answer(request.send().await.expect("send")).await }
    };
    let (status, body) = lookup(format!("{key}?limit=1&timeoutMs=5000")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let providers = body["providers"].as_array().expect("providers");
    assert_eq!(providers.len(), 1, "{body}");
    assert!(!providers[0]["addrs"].as_array().expect("addrs").is_empty());

    for bad in [
        "limit=0",
        "limit=101",
        "limit=x",
        "timeoutMs=0",
        "timeoutMs=60001",
    ] {
        let (status, body) = lookup(format!("{key}?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_parameter", "{bad}");
    }
    let (status, body) = lookup("0000".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_key");

    // Stop: the server no longer lists itself.
    let request = alpha.auth(alpha.http.delete(alpha.url(&format!("{key}/provide"))));
    let (status, body) = answer(request.send().await.expect("send")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["providing"], false);
    let (_, body) = lookup(format!("{key}?timeoutMs=2000")).await;
    assert_eq!(
        body["providers"].as_array().expect("providers").len(),
        0,
        "{body}"
    );

    // Without a token: 401 as for every realm route.
    let (status, _) = answer(
        http.post(alpha.url(&format!("{key}/provide")))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_p2p_the_routes_say_so() {
    let server = Server::start(&["--no-p2p"]);
    let http = reqwest::Client::new();
    for path in ["/api/p2p", "/api/p2p/providers/0000000000000000000000000G"] {
        let (status, body) = answer(
            http.get(format!("{}{path}", server.url))
                .send()
                .await
                .expect("send"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], "p2p_disabled", "{path}");
    }
}
