//! Peer discovery with libp2p (Cargo feature `p2p`): announce that this browser holds a key,
//! stop, and find who holds one, on casweb's Kademlia DHT. See docs/p2p.md.
//!
//! - [`advertiser`]: announces stored blocks and keeps them announced (see docs/advertiser.md);
//! - [`config`]: transports, bootstrap answers, lookup options (pure, native-tested);
//! - `identity` (wasm32): a node's key pair, to keep its peer id across reloads;
//! - `node` (wasm32): the [`P2pNode`] handle and its commands, the swarm's transports, and the
//!   driver task (which ends on `close` or when the last handle is dropped);
//! - `prompt_flush` (wasm32): the WebSocket flush fix;
//! - `serving`: what a node answers block requests with;
//! - `peer_storage` (wasm32): [`PeerStorage`], a `StorageProvider` reading nodes from peers
//!   (the block exchange of [`crate::exchange`] over a `P2pNode`).

pub mod advertiser;
pub mod config;
#[cfg(target_arch = "wasm32")]
mod identity;
#[cfg(target_arch = "wasm32")]
mod node;
#[cfg(target_arch = "wasm32")]
mod peer_storage;
#[cfg(target_arch = "wasm32")]
mod prompt_flush;
pub mod serving;

#[cfg(target_arch = "wasm32")]
pub use crate::dht::Provider;
pub use config::{BootstrapInfo, LookupOptions, TransportKind};
#[cfg(target_arch = "wasm32")]
pub use identity::Identity;
#[cfg(target_arch = "wasm32")]
pub use node::{parse_multiaddr, ConnectOptions, EventCallback, NodeEvent, P2pNode};
#[cfg(target_arch = "wasm32")]
pub use peer_storage::PeerStorage;
