//! The browser's libp2p node: a swarm (Kademlia in client mode, identify, ping, relay client)
//! over WebRTC-direct or WebSocket, driven by one `spawn_local` task. [`P2pNode`] is a cheap
//! handle: each call sends a command over a channel and awaits its answer on a oneshot, sent
//! when the matching query reaches its last step (or stops early, e.g. at a lookup's limit).
//!
//! A browser cannot be dialled directly, so `connect` takes a relay reservation on the bootstrap
//! node and returns only once the relayed (`/p2p-circuit`) address is confirmed: provider records
//! announced afterwards carry an address other peers can dial.
//!
//! - `command`: what a handle asks; `transport`: building the swarm; `driver`: the task.

mod command;
mod driver;
mod transport;

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use gloo_timers::future::TimeoutFuture;
use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};

use self::command::Command;
use self::driver::Driver;
use self::transport::{build_swarm, webrtc_available};
use super::config::{pick_addresses, LookupOptions, TransportKind, DEFAULT_CONNECT_TIMEOUT_MS};
use super::identity::Identity;
use super::serving::Serving;
use crate::dht::Provider;
use crate::error::{Error, Result};
use crate::exchange::{BlockResponse, ServeLimits};
use crate::key::Key;
use crate::storage::StorageProvider;

/// Longest a Kademlia query (announcement, lookup, bootstrap) runs.
const QUERY_TIMEOUT_MS: u32 = 30_000;

/// How [`P2pNode::connect`] joins the DHT.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Multiaddrs of the node to bootstrap from (each ending in `/p2p/<peer id>`).
    pub bootstrap: Vec<String>,
    /// Transports to use, in order of preference; the first with a bootstrap address is used.
    pub transports: Vec<TransportKind>,
    /// Take a relay reservation on the bootstrap node so that other peers can dial this one
    /// (needed to be found as a provider).
    pub relay: bool,
    /// How long `connect` (dial, reservation) may take.
    pub timeout_ms: u32,
    /// Complete WebSocket flushes at once (see `prompt_flush.rs`); `false` only to measure.
    pub prompt_websocket_flush: bool,
    /// The node's key pair; `None`: a fresh one. The same identity in two nodes connected at
    /// once (two tabs) makes them compete for one relay reservation: give each its own.
    pub identity: Option<Identity>,
}

impl ConnectOptions {
    /// Options to join through `bootstrap` with the defaults: both transports (WebRTC-direct
    /// first), a relay reservation, 15 s to connect, prompt WebSocket flushes, a fresh identity.
    pub fn new(bootstrap: Vec<String>) -> ConnectOptions {
        ConnectOptions {
            bootstrap,
            transports: TransportKind::ALL.to_vec(),
            relay: true,
            timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            prompt_websocket_flush: true,
            identity: None,
        }
    }
}

/// Something that happened to the node, reported to the `on_event` callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    PeerConnected {
        peer_id: String,
    },
    PeerDisconnected {
        peer_id: String,
    },
    /// This node became reachable at an address (e.g. its relayed address).
    AddressConfirmed {
        addr: String,
    },
    /// An address stopped being reachable (e.g. the relay reservation was lost).
    AddressExpired {
        addr: String,
    },
}

/// Receives [`NodeEvent`]s, on the page's event loop.
pub type EventCallback = Rc<dyn Fn(NodeEvent)>;

/// Handle on a running node; clones share it. The node stops when [`P2pNode::close`] is called
/// or the last handle is dropped (without the drain of recent announcements `close` gives).
#[derive(Clone)]
pub struct P2pNode {
    commands: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
    transport: TransportKind,
    closed: Rc<RefCell<bool>>,
}

/// Parses a multiaddr given as text.
pub fn parse_multiaddr(text: &str) -> Result<Multiaddr> {
    text.parse::<Multiaddr>()
        .map_err(|e| Error::InvalidMultiaddr(format!("{text:?}: {e}")))
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// True if this page (or worker) was loaded over https: it may not open plain `ws://`
/// connections to other hosts.
fn https_page() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"location".into())
        .and_then(|location| js_sys::Reflect::get(&location, &"protocol".into()))
        .ok()
        .and_then(|protocol| protocol.as_string())
        .is_some_and(|protocol| protocol == "https:")
}

impl P2pNode {
    /// Creates a node with `options.identity` (or a fresh one), dials the bootstrap node with the
    /// first usable transport, takes a relay reservation (unless `relay` is off), and starts a
    /// DHT bootstrap.
    pub async fn connect(options: ConnectOptions, on_event: EventCallback) -> Result<P2pNode> {
        if options.bootstrap.is_empty() {
            return Err(Error::InvalidArgument("no bootstrap address".into()));
        }
        for addr in &options.bootstrap {
            let parsed = parse_multiaddr(addr)?;
            if peer_of(&parsed).is_none() {
                return Err(Error::InvalidMultiaddr(format!(
                    "{addr:?} does not end in /p2p/<peer id>"
                )));
            }
        }
        let mut transports = options.transports.clone();
        if transports.is_empty() {
            transports = TransportKind::ALL.to_vec();
        }
        let webrtc_wanted = transports.contains(&TransportKind::WebRtcDirect);
        if webrtc_wanted && !webrtc_available() {
            transports.retain(|t| *t != TransportKind::WebRtcDirect);
            if transports.is_empty() {
                return Err(Error::UnsupportedTransport(
                    "WebRTC-direct needs RTCPeerConnection, which this context (e.g. a Web \
                     Worker) does not have; use \"websocket\""
                        .into(),
                ));
            }
        }
        let picked = pick_addresses(&options.bootstrap, &transports, https_page());
        let Some(&(transport, _)) = picked.first() else {
            return Err(Error::UnsupportedTransport(format!(
                "no bootstrap address uses {}",
                transports
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        };
        let addrs: Vec<Multiaddr> = picked
            .iter()
            .map(|(_, a)| parse_multiaddr(a))
            .collect::<Result<_>>()?;

        let identity = options.identity.unwrap_or_else(Identity::generate);
        let swarm = build_swarm(&identity, transport, options.prompt_websocket_flush)?;
        let peer_id = *swarm.local_peer_id();
        let (commands, receiver) = mpsc::unbounded();
        let (ready, ready_answer) = oneshot::channel();
        Driver::start(
            swarm,
            on_event,
            transport,
            options.relay,
            ready,
            receiver,
            addrs,
        );
        let node = P2pNode {
            commands,
            peer_id,
            transport,
            closed: Rc::new(RefCell::new(false)),
        };
        match with_timeout(ready_answer, options.timeout_ms).await {
            Ok(Ok(Ok(()))) => Ok(node),
            Ok(Ok(Err(error))) => {
                node.close().await;
                Err(error)
            }
            Ok(Err(_)) => Err(Error::Closed),
            Err(timeout) => {
                node.close().await;
                Err(timeout)
            }
        }
    }

    /// This node's peer id.
    pub fn peer_id(&self) -> String {
        self.peer_id.to_string()
    }

    /// The transport used to reach the DHT.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// Announces that this node holds `key`; resolves once the closest peers are found and the
    /// records handed to the connections to them (`close` lets them leave).
    pub async fn start_provide(&self, key: &Key) -> Result<()> {
        self.ask(|reply| Command::StartProvide { key: *key, reply })
            .await?
    }

    /// Stops announcing `key`. Local: records already stored by peers expire by themselves.
    pub async fn stop_provide(&self, key: &Key) -> Result<()> {
        self.send(Command::StopProvide { key: *key })
    }

    /// Finds up to `options.limit` providers of `key`. Resolves with what was found when the
    /// query ends or the limit is met; with `timeout` if the time runs out with none found.
    pub async fn get_providers(&self, key: &Key, options: LookupOptions) -> Result<Vec<Provider>> {
        self.ask(|reply| Command::GetProviders {
            key: *key,
            options,
            reply,
        })
        .await?
    }

    /// Refreshes the routing table (a Kademlia bootstrap); resolves when it has finished.
    pub async fn bootstrap(&self) -> Result<()> {
        self.ask(|reply| Command::Bootstrap { reply }).await?
    }

    /// Dials a multiaddr (e.g. a provider's relayed address); resolves with the peer id reached.
    pub async fn dial(&self, addr: &str, timeout_ms: u32) -> Result<String> {
        let addr = parse_multiaddr(addr)?;
        let answer = self.ask(|reply| Command::Dial { addr, reply });
        with_timeout(answer, timeout_ms).await??
    }

    /// Asks `provider` for the nodes of `keys` over the block exchange (dialling it at its
    /// addresses, through the relay for a browser); waits at most `timeout_ms` for the answer.
    /// The nodes are not verified: `exchange::Fetcher` (behind `PeerStorage`) does that.
    pub async fn request_blocks(
        &self,
        provider: &Provider,
        keys: &[Key],
        timeout_ms: u32,
    ) -> Result<BlockResponse> {
        let answer = self.ask(|reply| Command::RequestBlocks {
            provider: provider.clone(),
            keys: keys.to_vec(),
            reply,
        });
        with_timeout(answer, timeout_ms).await??
    }

    /// Answers peers' block requests from `storage` within `limits` (replacing what was served
    /// before). Anyone who knows a key of `storage` can read its node: see docs/p2p.md.
    pub fn serve<S: StorageProvider + 'static>(
        &self,
        storage: S,
        limits: ServeLimits,
    ) -> Result<()> {
        self.send(Command::Serve {
            serving: Some(Serving::new(storage, limits)),
        })
    }

    /// Stops serving: block requests are refused as `not_serving` from now on.
    pub fn stop_serving(&self) -> Result<()> {
        self.send(Command::Serve { serving: None })
    }

    /// Peers with an open connection.
    pub async fn connected_peers(&self) -> Result<Vec<String>> {
        self.ask(|reply| Command::ConnectedPeers { reply }).await
    }

    /// Addresses at which other peers can reach this node (its relayed addresses).
    pub async fn external_addresses(&self) -> Result<Vec<String>> {
        self.ask(|reply| Command::ExternalAddresses { reply }).await
    }

    /// Stops the node and closes its connections (within `ANNOUNCEMENT_DRAIN_MS` of an
    /// announcement, after letting its messages leave). Later calls fail with `closed`.
    pub async fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        let (reply, answer) = oneshot::channel();
        if self
            .commands
            .unbounded_send(Command::Close { reply })
            .is_ok()
        {
            let _ = answer.await;
        }
    }

    fn send(&self, command: Command) -> Result<()> {
        if *self.closed.borrow() {
            return Err(Error::Closed);
        }
        self.commands
            .unbounded_send(command)
            .map_err(|_| Error::Closed)
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.send(command(reply))?;
        answer.await.map_err(|_| Error::Closed)
    }
}

/// Awaits `future`, or fails with `timeout` after `ms`.
async fn with_timeout<F: std::future::Future>(future: F, ms: u32) -> Result<F::Output> {
    let future = std::pin::pin!(future);
    match select(future, TimeoutFuture::new(ms)).await {
        Either::Left((output, _)) => Ok(output),
        Either::Right(_) => Err(Error::Timeout { ms }),
    }
}
