//! Building a browser node's swarm: its transports (WebRTC-direct or WebSocket, plus the relay
//! client), security and multiplexing, and its behaviours.

use std::time::Duration;

use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{OptionalTransport, Transport as _};
use libp2p::core::upgrade;
use libp2p::kad;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{identify, noise, ping, relay, request_response, yamux, Swarm};

use super::QUERY_TIMEOUT_MS;
use crate::dht::{identify_behaviour, kad_config, ping_behaviour, ProviderStore, StoreLimits};
use crate::error::{Error, Result};
use crate::exchange::{self, BlockCodec};
use crate::p2p::config::TransportKind;
use crate::p2p::identity::Identity;
use crate::p2p::prompt_flush::PromptFlush;

/// Most keys this node provides at once (its own records only: browsers are DHT clients).
const MAX_PROVIDED_KEYS: usize = 1_000_000;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) kad: kad::Behaviour<ProviderStore>,
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
    pub(super) relay: relay::client::Behaviour,
    pub(super) blocks: request_response::Behaviour<BlockCodec>,
}

/// Whether this global scope can use WebRTC (pages can; Web Workers cannot).
pub(super) fn webrtc_available() -> bool {
    let global = js_sys::global();
    let has = |name: &str| js_sys::Reflect::has(&global, &name.into()).unwrap_or(false);
    has("RTCPeerConnection") && has("document")
}

/// The swarm of a browser node: the transport chosen for the bootstrap node (with the relay
/// client), Kademlia in client mode over the bounded provider store, identify, ping and the
/// block exchange.
pub(super) fn build_swarm(
    identity: &Identity,
    transport: TransportKind,
    prompt_websocket_flush: bool,
) -> Result<Swarm<Behaviour>> {
    let failed = |what: &str, e: &dyn std::fmt::Display| {
        Error::UnsupportedTransport(format!("cannot set up {what}: {e}"))
    };
    let builder = libp2p::SwarmBuilder::with_existing_identity(identity.keypair())
        .with_wasm_bindgen()
        .with_other_transport(|key| {
            let webrtc = if transport == TransportKind::WebRtcDirect {
                OptionalTransport::some(libp2p::webrtc_websys::Transport::new(
                    libp2p::webrtc_websys::Config::new(key),
                ))
            } else {
                OptionalTransport::none()
            };
            webrtc.map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)))
        })
        .map_err(|e| failed("WebRTC-direct", &e))?
        .with_other_transport(|key| {
            let websocket = if transport == TransportKind::WebSocket {
                let noise = noise::Config::new(key)
                    .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
                let base = libp2p::websocket_websys::Transport::default();
                let connections = if prompt_websocket_flush {
                    base.map(|c, _| futures::future::Either::Left(PromptFlush(c)))
                        .boxed()
                } else {
                    base.map(|c, _| futures::future::Either::Right(c)).boxed()
                };
                OptionalTransport::some(
                    connections
                        .upgrade(upgrade::Version::V1)
                        .authenticate(noise)
                        .multiplex(yamux::Config::default())
                        .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer))),
                )
            } else {
                OptionalTransport::none()
            };
            Ok(websocket)
        })
        .map_err(|e| failed("WebSocket", &e))?
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| failed("the relay client", &e))?;
    let swarm = builder
        .with_behaviour(|key, relay| {
            let peer_id = key.public().to_peer_id();
            // Re-announcing is the caller's (or the Advertiser's) job; own records never expire
            // locally.
            let kad_config = kad_config(None, Duration::from_millis(QUERY_TIMEOUT_MS.into()));
            let store = ProviderStore::new(
                peer_id,
                StoreLimits {
                    own_records: MAX_PROVIDED_KEYS,
                    ..StoreLimits::default()
                },
            );
            let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
            kad.set_mode(Some(kad::Mode::Client));
            Behaviour {
                kad,
                identify: identify_behaviour(key.public()),
                ping: ping_behaviour(),
                relay,
                blocks: exchange::behaviour(),
            }
        })
        .map_err(|e| failed("the behaviour", &e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}
