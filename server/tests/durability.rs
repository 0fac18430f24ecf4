//! Durability: a 200 means committed. Put nodes, SIGKILL the server, restart it on the same
//! data directory: every acknowledged node is there, bytes and ownership.

mod common;

use common::{file_nodes, keys_of, leaf, Server};
use reqwest::StatusCode;

#[tokio::test]
async fn acknowledged_puts_survive_kill_9() {
    let mut server = Server::start(&[]);
    let a = server.new_realm("a");
    let mut nodes = Vec::new();
    // Single puts...
    for seed in 0..150 {
        let (key, bytes) = leaf(seed);
        a.put_ok(&key, &bytes).await;
        nodes.push((key, bytes));
    }
    // ...and a batch.
    let dag = file_nodes(1000, 30_000, 1024);
    let frames: Vec<&[u8]> = dag.iter().map(|(_, b)| b.as_slice()).collect();
    let (status, body) = a.batch(&frames).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    nodes.extend(dag);

    server.kill_and_restart();
    let a = server.client("a", &a.token);
    let keys: Vec<_> = nodes.iter().map(|(k, _)| *k).collect();
    for chunk in keys.chunks(1000) {
        let check = a.check(chunk).await;
        assert_eq!(keys_of(&check, "owned").len(), chunk.len(), "{check}");
    }
    for (key, bytes) in &nodes {
        let (status, got) = a.get_raw(&key.to_string()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(got.as_ref(), bytes.as_slice());
    }
    // The token file survived too, and the restarted server keeps accepting writes.
    let (key, bytes) = leaf(10_000);
    assert!(a.put_ok(&key, &bytes).await);
}
