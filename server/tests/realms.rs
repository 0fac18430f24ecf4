//! Cross-realm deduplication end to end: nodes are stored once, ownership is per realm, and a
//! realm becomes an owner only by uploading the bytes or proving it holds them.

mod common;

use common::{file_nodes, keys_of, Server};
use reqwest::StatusCode;

#[tokio::test]
async fn dedup_story() {
    let server = Server::start(&[]);
    let a = server.new_realm("alice");
    let b = server.new_realm("bob");
    let c = server.new_realm("carol");
    let nodes = file_nodes(42, 6000, 1024);
    let keys: Vec<_> = nodes.iter().map(|(k, _)| *k).collect();
    let (root, root_bytes) = nodes.last().cloned().expect("root");

    // A uploads the whole DAG, children first.
    for (key, bytes) in &nodes {
        assert!(a.put_ok(key, bytes).await);
    }

    // B sees every node as unowned and cannot read any of them.
    let check = b.check(&keys).await;
    assert_eq!(keys_of(&check, "unowned").len(), keys.len());
    assert!(keys_of(&check, "owned").is_empty() && keys_of(&check, "missing").is_empty());
    let (status, _) = b.get_raw(&root.to_string()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // B's bad proof is refused and changes nothing.
    let (leaf, leaf_bytes) = nodes[0].clone();
    let (status, body) = b.claim(&leaf, "pop:0000000000000000000000000W").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_pop"))
    );
    // A's proof is bound to A's token: useless to B.
    let (status, body) = b.claim(&leaf, &a.pop(&leaf_bytes)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_pop"))
    );
    assert_eq!(
        keys_of(&b.check(&[leaf]).await, "unowned"),
        vec![leaf.to_string()]
    );

    // B claims the root before its children: refused, the children are listed.
    let (status, body) = b.claim(&root, &b.pop(&root_bytes)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "missing_nodes");
    assert!(!body["missing"].as_array().expect("missing").is_empty());

    // B claims everything with valid proofs, children first, and can then read it all.
    for (key, bytes) in &nodes {
        let (status, body) = b.claim(key, &b.pop(bytes)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["alreadyOwned"], false);
    }
    assert_eq!(keys_of(&b.check(&keys).await, "owned").len(), keys.len());
    let (status, got) = b.get_raw(&root.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got.as_ref(), root_bytes.as_slice());

    // C instead re-uploads identical bytes: each put makes C an owner.
    for (key, bytes) in &nodes {
        assert!(c.put_ok(key, bytes).await, "C becomes an owner");
    }
    assert_eq!(keys_of(&c.check(&keys).await, "owned").len(), keys.len());
    // And A is unaffected.
    assert_eq!(keys_of(&a.check(&keys).await, "owned").len(), keys.len());
}

#[tokio::test]
async fn batch_upload_makes_another_realm_an_owner() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let b = server.new_realm("b");
    let nodes = file_nodes(3, 3000, 512);
    let frames: Vec<&[u8]> = nodes.iter().map(|(_, b)| b.as_slice()).collect();
    let (status, _) = a.batch(&frames).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = b.batch(&frames).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["ok"] == true && r["stored"] == true));
    let keys: Vec<_> = nodes.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys_of(&b.check(&keys).await, "owned").len(), keys.len());
}
