//! The reference server's libp2p node: the casweb DHT (Kademlia, server mode, private protocol
//! name) with identify, ping, a circuit relay and the block exchange (answered from the node
//! store only with `--serve-blocks`: `blocks`), reachable over TCP (native peers), WebSocket
//! and WebRTC-direct (browsers). See docs/p2p.md.

mod blocks;
mod identity;
mod node;

pub use blocks::ServedNodes;
pub use casweb::dht::{record_key, Provider, KAD_PROTOCOL};
pub use identity::P2P_DIR;
pub use node::{start, P2pConfig, P2pError, P2pHandle, P2pInfo};
