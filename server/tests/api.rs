//! The success path of every endpoint, static files, CORS and fault injection, over real HTTP.

mod common;

use common::{dict, file_nodes, keys_of, leaf, Server};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn info_reports_version_and_limits() {
    let server = Server::start(&["--max-node-size", "65536"]);
    let body: serde_json::Value = reqwest::get(format!("{}/api/info", server.url))
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["protocol"], 1);
    let limits = &body["limits"];
    assert_eq!(limits["maxNodeSize"], 65536);
    assert_eq!(limits["maxCheckKeys"], 1000);
    assert_eq!(limits["maxBatchBytes"], 16 * 1024 * 1024);
    assert_eq!(limits["maxBatchNodes"], 1000);
    assert_eq!(limits["maxClaimBatch"], 1000);
    assert_eq!(limits["maxGetKeys"], 1000);
    assert_eq!(limits["maxGetBytes"], 16 * 1024 * 1024);
}

#[tokio::test]
async fn put_get_check_round_trip() {
    let server = Server::start(&[]);
    let a = server.new_realm("alpha");
    let nodes = file_nodes(1, 5000, 1024);
    assert!(nodes.len() > 3);
    let keys: Vec<_> = nodes.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys_of(&a.check(&keys).await, "missing").len(), keys.len());
    for (key, bytes) in &nodes {
        assert!(a.put_ok(key, bytes).await, "first put stores");
    }
    // Re-putting is a no-op.
    let (root, root_bytes) = nodes.last().expect("root");
    assert!(!a.put_ok(root, root_bytes).await);
    for (key, bytes) in &nodes {
        let (status, got) = a.get_raw(&key.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got.as_ref(), bytes.as_slice());
    }
    let check = a.check(&keys).await;
    assert_eq!(keys_of(&check, "owned").len(), keys.len());
    assert!(keys_of(&check, "missing").is_empty());
    assert!(keys_of(&check, "unowned").is_empty());
    // Duplicates are reported once.
    let check = a.check(&[*root, *root]).await;
    assert_eq!(keys_of(&check, "owned"), vec![root.to_string()]);
}

#[tokio::test]
async fn get_many_answers_each_key_in_order() {
    use casweb::protocol::get_answer::{parse, GetItem};
    let server = Server::start(&[]);
    let a = server.new_realm("alpha");
    let b = server.new_realm("beta");
    let (mine, mine_bytes) = leaf(1);
    let (theirs, theirs_bytes) = leaf(2);
    let (absent, _) = leaf(3);
    a.put_ok(&mine, &mine_bytes).await;
    b.put_ok(&theirs, &theirs_bytes).await;
    let keys = [mine, theirs, absent, mine];
    let (status, body) = a.get_many(&keys).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        parse(&body, &keys).expect("parses"),
        vec![
            GetItem::Node(mine_bytes.clone().into()),
            GetItem::NotOwned,
            GetItem::NotFound,
            GetItem::Node(mine_bytes.into()),
        ]
    );
    let (status, body) = a.get_many(&[]).await;
    assert_eq!((status, body.len()), (StatusCode::OK, 0));
}

#[tokio::test]
async fn get_many_stops_before_max_get_bytes() {
    use casweb::protocol::get_answer::{parse, GetItem};
    use casweb::protocol::DEFAULT_MAX_BATCH_BYTES;
    let server = Server::start(&[]);
    let a = server.new_realm("alpha");
    // Nodes just under 4 MiB: their size flags bound them at 4 MiB each, so a 16 MiB answer
    // holds four of them.
    let nodes: Vec<_> = (0..5)
        .map(|seed| {
            let bytes =
                casweb::node::encode_successor(&[], &common::data(seed, 4 * 1024 * 1024 - 100), 0)
                    .expect("encode");
            (casweb::Key::for_bytes(&bytes), bytes)
        })
        .collect();
    for (key, bytes) in &nodes {
        a.put_ok(key, bytes).await;
    }
    let keys: Vec<_> = nodes.iter().map(|(key, _)| *key).collect();
    let (status, body) = a.get_many(&keys).await;
    assert_eq!(status, StatusCode::OK);
    let items = parse(&body, &keys).expect("parses");
    assert_eq!(
        items.len() as u64,
        DEFAULT_MAX_BATCH_BYTES / (4 * 1024 * 1024)
    );
    for (item, (_, bytes)) in items.iter().zip(&nodes) {
        assert_eq!(item, &GetItem::Node(bytes.clone().into()));
    }
    // The rest comes with the next request.
    let rest = &keys[items.len()..];
    let (_, body) = a.get_many(rest).await;
    assert_eq!(parse(&body, rest).expect("parses").len(), rest.len());
}

#[tokio::test]
async fn get_headers() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let (key, bytes) = leaf(7);
    a.put_ok(&key, &bytes).await;
    let response = a
        .auth(a.http.get(a.url(&format!("raw/{key}"))))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(response.headers()["cache-control"]
        .to_str()
        .expect("ascii")
        .contains("immutable"));
}

#[tokio::test]
async fn put_without_content_type_is_accepted() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let (key, bytes) = leaf(3);
    let response = a
        .auth(a.http.put(a.url(&format!("raw/{key}"))))
        .body(bytes)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn batch_accepts_children_before_parents() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let nodes = file_nodes(2, 20_000, 1024);
    let frames: Vec<&[u8]> = nodes.iter().map(|(_, b)| b.as_slice()).collect();
    let (status, body) = a.batch(&frames).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), nodes.len());
    for ((key, _), result) in nodes.iter().zip(results) {
        assert_eq!(result["key"], key.to_string());
        assert_eq!(result["ok"], true, "{result}");
        assert_eq!(result["stored"], true);
    }
    // Again: everything already owned.
    let (status, body) = a.batch(&frames).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["ok"] == true && r["stored"] == false));
    let (root, _) = nodes.last().expect("root");
    assert_eq!(a.get_raw(&root.to_string()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn batch_reports_per_node_results() {
    let server = Server::start(&["--max-node-size", "1024"]);
    let a = server.new_realm("a");
    let (l1, b1) = leaf(1);
    let (l2, _) = leaf(2); // never sent
    let (p_ok, pb_ok) = dict(&[("one", l1)]);
    let (p_missing, pb_missing) = dict(&[("one", l1), ("two", l2)]);
    let bad = b"not a node".to_vec();
    let big = casweb::node::encode_successor(&[], &[0u8; 2000], 0).expect("encode");
    let (status, body) = a
        .batch(&[&pb_ok, &b1, &b1, &pb_ok, &bad, &pb_missing, &big])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = body["results"].as_array().expect("results");
    assert_eq!(r.len(), 7);
    // The parent came before its child: refused, the child listed as missing.
    assert_eq!(r[0]["ok"], false);
    assert_eq!(r[0]["error"], "missing_nodes");
    assert_eq!(r[0]["missing"], json!([l1.to_string()]));
    assert_eq!(
        (r[1]["ok"].clone(), r[1]["stored"].clone()),
        (json!(true), json!(true))
    );
    // The same node twice: the second is a no-op.
    assert_eq!(
        (r[2]["ok"].clone(), r[2]["stored"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(r[3]["key"], p_ok.to_string());
    assert_eq!(r[3]["ok"], true);
    assert_eq!(r[4]["error"], "invalid_node");
    assert_eq!(r[5]["key"], p_missing.to_string());
    assert_eq!(r[5]["error"], "missing_nodes");
    assert_eq!(r[5]["missing"], json!([l2.to_string()]));
    assert_eq!(r[6]["error"], "too_large");
}

#[tokio::test]
async fn claim_one_and_many() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let b = server.new_realm("b");
    let (l1, b1) = leaf(11);
    let (l2, b2) = leaf(12);
    let (p, pb) = dict(&[("x", l1), ("y", l2)]);
    for (k, bytes) in [(&l1, &b1), (&l2, &b2), (&p, &pb)] {
        a.put_ok(k, bytes).await;
    }
    // Claiming one that is already owned.
    let (status, body) = a.claim(&l1, &a.pop(&b1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"key": l1.to_string(), "alreadyOwned": true}));
    // B claims l1 alone, then l2 and the parent in one request (child first).
    let (status, body) = b.claim(&l1, &b.pop(&b1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alreadyOwned"], false);
    let claims = json!({"claims": [
        {"key": l2.to_string(), "pop": b.pop(&b2)},
        {"key": p.to_string(), "pop": b.pop(&pb)},
        {"key": l1.to_string(), "pop": b.pop(&b1)},
    ]});
    let (status, body) = b.post_json("claim", &claims).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!([
            {"key": l2.to_string(), "ok": true, "alreadyOwned": false},
            {"key": p.to_string(), "ok": true, "alreadyOwned": false},
            {"key": l1.to_string(), "ok": true, "alreadyOwned": true},
        ])
    );
    let (status, got) = b.get_raw(&p.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.as_ref(), pb.as_slice());
}

#[tokio::test]
async fn dev_mode_prints_and_reuses_the_demo_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Server::start_in(dir.path(), &["--dev"]);
    let token = first.dev_token.clone().expect("dev token printed");
    let demo = first.client("demo", &token);
    let (key, bytes) = leaf(1);
    demo.put_ok(&key, &bytes).await;
    drop(first);
    let second = Server::start_in(dir.path(), &["--dev"]);
    assert_eq!(second.dev_token.as_deref(), Some(token.as_str()));
    let demo = second.client("demo", &token);
    assert_eq!(demo.get_raw(&key.to_string()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn tokens_created_while_serving_work() {
    let server = Server::start(&[]);
    let late = server.new_realm("late");
    let (key, bytes) = leaf(5);
    late.put_ok(&key, &bytes).await;
}

#[tokio::test]
async fn static_files_and_wasm_mime_type() {
    let www = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        www.path().join("index.html"),
        "<!doctype html><title>demo</title>",
    )
    .expect("write");
    std::fs::create_dir(www.path().join("pkg")).expect("mkdir");
    std::fs::write(www.path().join("pkg/casweb_bg.wasm"), b"\0asm\x01\0\0\0").expect("write");
    let www_arg = www.path().to_str().expect("utf-8");
    let server = Server::start(&["--www", www_arg]);
    let index = reqwest::get(format!("{}/", server.url)).await.expect("get");
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.expect("text").contains("demo"));
    let wasm = reqwest::get(format!("{}/pkg/casweb_bg.wasm", server.url))
        .await
        .expect("get");
    assert_eq!(wasm.status(), StatusCode::OK);
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    // Missing files and unknown API routes answer JSON 404s; the API still works.
    let (status, body) = common::answer(
        reqwest::get(format!("{}/nope.js", server.url))
            .await
            .expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "unknown_route");
    let info = reqwest::get(format!("{}/api/info", server.url))
        .await
        .expect("get");
    assert_eq!(info.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_default_allows_localhost_only() {
    let server = Server::start(&[]);
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{}/api/realm/a/nodes/check", server.url),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type",
        )
        .send()
    };
    for origin in ["http://localhost:5173", "http://127.0.0.1:8080"] {
        let response = preflight(origin).await.expect("send");
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], origin);
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .expect("ascii");
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        // Every method the API uses, DELETE (stop providing) included.
        let methods = headers["access-control-allow-methods"]
            .to_str()
            .expect("ascii");
        for method in ["GET", "PUT", "POST", "DELETE"] {
            assert!(methods.contains(method), "{method} not in {methods}");
        }
    }
    let response = preflight("http://evil.example").await.expect("send");
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    // Error answers carry CORS headers too, so browsers can read the JSON error.
    let response = http
        .get(format!("{}/api/realm/a/nodes/raw/x", server.url))
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

#[tokio::test]
async fn cors_configured_origins() {
    let server = Server::start(&["--cors-origin", "https://app.example"]);
    let http = reqwest::Client::new();
    for (origin, allowed) in [
        ("https://app.example", true),
        ("http://localhost:5173", false),
    ] {
        let response = http
            .get(format!("{}/api/info", server.url))
            .header("Origin", origin)
            .send()
            .await
            .expect("send");
        assert_eq!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_some(),
            allowed,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn fault_injection_fails_a_deterministic_share() {
    let server = Server::start(&["--fault-503-percent", "50"]);
    let a = server.new_realm("a");
    let (key, _) = leaf(1);
    let mut failures = Vec::new();
    for _ in 0..40 {
        let (status, body) = a
            .post_json("check", &json!({"keys": [key.to_string()]}))
            .await;
        match status {
            StatusCode::OK => failures.push(false),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["error"], "injected_fault");
                failures.push(true);
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let failed = failures.iter().filter(|f| **f).count();
    assert!((8..=32).contains(&failed), "{failed} of 40 failed");
    // /api/info is not subject to faults.
    for _ in 0..10 {
        let info = reqwest::get(format!("{}/api/info", server.url))
            .await
            .expect("get");
        assert_eq!(info.status(), StatusCode::OK);
    }
    // Same sequence on a fresh server.
    let again = Server::start(&["--fault-503-percent", "50"]);
    let a2 = again.new_realm("a");
    let mut second = Vec::new();
    for _ in 0..40 {
        let (status, _) = a2
            .post_json("check", &json!({"keys": [key.to_string()]}))
            .await;
        second.push(status == StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(failures, second);
}

#[tokio::test]
async fn refused_unread_bodies_close_the_connection() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let (key, bytes) = leaf(8);
    // Refused before the body is read (bad token): the connection is not reused.
    let stranger = server.client("a", &casweb_server::tokens::encode_token(&[3u8; 32]));
    let response = stranger
        .auth(stranger.http.put(stranger.url(&format!("raw/{key}"))))
        .body(bytes.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["connection"], "close");
    // A body that was read keeps the connection alive.
    let response = a
        .auth(a.http.put(a.url(&format!("raw/{key}"))))
        .body(bytes)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("connection").is_none());
}
