//! The reference server's libp2p node: the casweb DHT (Kademlia, server mode, private protocol
//! name) with identify, ping and a circuit relay, reachable over TCP (native peers), WebSocket
//! and WebRTC-direct (browsers). See docs/p2p.md.

mod identity;
mod node;

pub use identity::P2P_DIR;
pub use node::{
    record_key, start, P2pConfig, P2pError, P2pHandle, P2pInfo, Provider, KAD_PROTOCOL,
    MAX_PROVIDERS_PER_KEY, MAX_PROVIDER_KEYS,
};
