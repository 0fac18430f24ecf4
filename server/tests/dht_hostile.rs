//! A hostile peer on a DHT of casweb nodes: it announces a key a legitimate node provides, with
//! hundreds of addresses per record (the maximum a Kademlia message carries), and floods records
//! for other keys. The legitimate provider must stay findable from every node, with answers that
//! fit the message limit, and the hostile records must be capped.

mod common;

use std::time::{Duration, Instant};

use casweb::dht::{kad_config, record_key, ProviderStore, StoreLimits};
use casweb_server::p2p::P2pConfig;
use common::dht::{local_dht, tcp_address};
use common::leaf;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::kad::{self, QueryResult};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, tcp, yamux, Multiaddr, Swarm};

/// Addresses the hostile peer claims: each record it sends carries all of them.
const CLAIMED_ADDRESSES: usize = 560;
/// Other keys it floods.
const FLOODED_KEYS: usize = 200;

#[derive(NetworkBehaviour)]
struct Hostile {
    kad: kad::Behaviour<ProviderStore>,
    identify: identify::Behaviour,
}

fn hostile_swarm() -> Swarm<Hostile> {
    let keypair = Keypair::generate_ed25519();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let store = ProviderStore::new(peer_id, StoreLimits::default());
            let config = kad_config(None, Duration::from_secs(10));
            Hostile {
                kad: kad::Behaviour::with_config(peer_id, store, config),
                identify: casweb::dht::identify_behaviour(key.public()),
            }
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    for i in 0..CLAIMED_ADDRESSES {
        let fake: Multiaddr = format!(
            "/ip4/10.{}.{}.{}/tcp/{}",
            i / 65536 % 256,
            i / 256 % 256,
            i % 256,
            1000 + i
        )
        .parse()
        .expect("multiaddr");
        swarm.add_external_address(fake);
    }
    swarm
}

/// Drives `swarm` until every query in `pending` finished (or `limit` passes).
async fn run_queries(swarm: &mut Swarm<Hostile>, mut pending: usize, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while pending > 0 {
        let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .expect("the hostile peer's announcements did not finish in time");
        if let SwarmEvent::Behaviour(HostileEvent::Kad(kad::Event::OutboundQueryProgressed {
            result: QueryResult::StartProviding(_),
            step,
            ..
        })) = event
        {
            if step.last {
                pending -= 1;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_cannot_hide_a_legitimate_provider() {
    let nodes = local_dht(3, P2pConfig::default().provider_ttl).await;
    let (key, _) = leaf(4242);
    let legitimate = nodes[2].peer_id().to_string();
    nodes[2].provide(&key).await.expect("provide");

    let mut hostile = hostile_swarm();
    let target: Multiaddr = tcp_address(&nodes[0]).parse().expect("multiaddr");
    let server_peer = nodes[0].peer_id();
    hostile
        .behaviour_mut()
        .kad
        .add_address(&server_peer, target.clone());
    hostile.dial(target).expect("dial");
    let mut announced = 0;
    hostile
        .behaviour_mut()
        .kad
        .start_providing(record_key(&key))
        .expect("provide");
    announced += 1;
    for i in 0..FLOODED_KEYS {
        let (other, _) = leaf(10_000 + i as u64);
        hostile
            .behaviour_mut()
            .kad
            .start_providing(record_key(&other))
            .expect("provide");
        announced += 1;
    }
    run_queries(&mut hostile, announced, Duration::from_secs(60)).await;
    let hostile_id = hostile.local_peer_id().to_string();
    // It keeps answering queries (with its flooded records) while the others look up; later it
    // goes silent, keeping its connections open.
    let (silence, silenced) = tokio::sync::oneshot::channel::<()>();
    let driving = tokio::spawn(async move {
        let mut silenced = silenced;
        loop {
            tokio::select! {
                _ = hostile.select_next_some() => {}
                _ = &mut silenced => break,
            }
        }
        std::future::pending::<()>().await;
        drop(hostile);
    });

    // Every node still finds the legitimate provider, whose addresses are its own; the hostile
    // peer, if listed, carries a handful of addresses, not 560.
    for (index, node) in nodes.iter().enumerate() {
        let found = node
            .get_providers(&key, 20, Duration::from_secs(10))
            .await
            .expect("lookup");
        let entry = found
            .iter()
            .find(|p| p.peer_id == legitimate)
            .unwrap_or_else(|| panic!("node {index} lost the legitimate provider: {found:?}"));
        assert!(entry
            .addrs
            .iter()
            .all(|a| a.ends_with(&format!("/p2p/{legitimate}"))));
        if let Some(flooder) = found.iter().find(|p| p.peer_id == hostile_id) {
            assert!(
                flooder.addrs.len() <= 8,
                "node {index} keeps {} addresses of the flooding peer",
                flooder.addrs.len()
            );
        }
    }
    // The DHT nodes capped what they stored of the flood, and say so in their gauges.
    let gauges = nodes[0].gauges().await.expect("gauges");
    assert!(gauges.records_capped > 0, "{gauges:?}");

    // Silent now: a lookup that waits on it still answers, by its deadline, with the provider
    // it found, not with a timeout.
    silence.send(()).expect("the hostile task runs");
    for (index, node) in nodes.iter().enumerate() {
        let started = Instant::now();
        let found = node
            .get_providers(&key, 20, Duration::from_secs(3))
            .await
            .unwrap_or_else(|e| panic!("node {index}: {e}"));
        assert!(
            found.iter().any(|p| p.peer_id == legitimate),
            "node {index} lost the legitimate provider: {found:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    driving.abort();
}
