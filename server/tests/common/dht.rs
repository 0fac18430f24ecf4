//! In-process DHTs for the P2P tests: casweb-server nodes (the library's `p2p::start`) on
//! loopback, each bootstrapping from the first over TCP.

use std::time::{Duration, Instant};

use casweb_server::p2p::{self, P2pConfig, P2pHandle};

/// Starts `count` in-process nodes, each bootstrapping from the first one over TCP.
pub async fn local_dht(count: usize, provider_ttl: Duration) -> Vec<P2pHandle> {
    let config = P2pConfig {
        provider_ttl,
        ..P2pConfig::default()
    };
    let first = p2p::start(config.clone(), None).await.expect("first node");
    let bootstrap = tcp_address(&first);
    let mut nodes = vec![first];
    for _ in 1..count {
        let config = P2pConfig {
            bootstrap: vec![bootstrap.parse().expect("multiaddr")],
            ..config.clone()
        };
        nodes.push(p2p::start(config, None).await.expect("node"));
    }
    // Every node is connected to the first one before the test starts.
    for node in &nodes[1..] {
        wait_until(Duration::from_secs(10), || async {
            !node.connected_peers().await.expect("peers").is_empty()
        })
        .await;
    }
    nodes
}

pub fn tcp_address(node: &P2pHandle) -> String {
    node.info()
        .addrs
        .into_iter()
        .find(|a| a.contains("/tcp/") && !a.contains("/ws"))
        .expect("a TCP address")
}

pub async fn wait_until<F, Fut>(limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < limit,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
