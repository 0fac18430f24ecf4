//! The block exchange against the server's libp2p node: with `served_nodes` (what
//! `serve --serve-blocks` sets) it answers from its node store, the nodes it has and "not found"
//! for the others; without it (the default) it refuses as `not_serving`. The asker is a native
//! swarm speaking only `casweb::exchange`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use casweb::exchange::{self, BlockCodec, BlockRequest, BlockResponse, Refusal};
use casweb::protocol::get_answer::GetItem;
use casweb::Key;
use casweb_server::nodes::{EmbeddedStore, NodeStore, Write};
use casweb_server::p2p::{self, P2pConfig, P2pHandle, ServedNodes};
use common::dht::tcp_address;
use common::leaf;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::request_response::{self, Message};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, PeerId, Swarm};

fn asker() -> Swarm<request_response::Behaviour<BlockCodec>> {
    libp2p::SwarmBuilder::with_existing_identity(Keypair::generate_ed25519())
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| exchange::behaviour())
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build()
}

/// Sends one block request to `node` and waits for its answer.
async fn ask(node: &P2pHandle, keys: Vec<Key>) -> BlockResponse {
    let mut swarm = asker();
    let addr: Multiaddr = tcp_address(node).parse().expect("multiaddr");
    let peer: PeerId = node.peer_id();
    let id = swarm.behaviour_mut().send_request_with_addresses(
        &peer,
        Ok(BlockRequest { keys }),
        vec![addr],
    );
    let answer = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message:
                        Message::Response {
                            request_id,
                            response,
                        },
                    ..
                }) if request_id == id => return response,
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => {
                    panic!("the request failed: {error}")
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), answer)
        .await
        .expect("an answer within 20 s")
}

#[tokio::test]
async fn the_server_serves_its_nodes_only_when_told_to() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(&dir.path().join("nodes.redb")).expect("store");
    let (key, bytes) = leaf(19_001);
    store
        .apply(vec![Write {
            realm: "r".into(),
            key,
            bytes: Some(Bytes::from(bytes.clone())),
        }])
        .await
        .expect("stored");
    let store: Arc<dyn NodeStore> = Arc::new(store);
    let absent = leaf(19_002).0;

    let serving = p2p::start(
        P2pConfig {
            served_nodes: Some(ServedNodes(store)),
            ..P2pConfig::default()
        },
        None,
    )
    .await
    .expect("serving node");
    assert_eq!(
        ask(&serving, vec![key, absent]).await,
        BlockResponse::Nodes(vec![GetItem::Node(Bytes::from(bytes)), GetItem::NotFound])
    );

    let default = p2p::start(P2pConfig::default(), None).await.expect("node");
    assert_eq!(
        ask(&default, vec![key]).await,
        BlockResponse::Refused(Refusal::NotServing)
    );
}
