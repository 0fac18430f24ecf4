//! The browser's libp2p node: a swarm (Kademlia in client mode, identify, ping, relay client)
//! over WebRTC-direct or WebSocket, driven by one `spawn_local` task. [`P2pNode`] is a cheap
//! handle: each call sends a command over a channel and awaits its answer on a oneshot, sent
//! when the matching query reaches its last step (or stops early, e.g. at a lookup's limit).
//!
//! A browser cannot be dialled directly, so `connect` takes a relay reservation on the bootstrap
//! node and returns only once the relayed (`/p2p-circuit`) address is confirmed: provider records
//! announced afterwards carry an address other peers can dial.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either};
use futures::StreamExt as _;
use gloo_timers::future::TimeoutFuture;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::{OptionalTransport, Transport as _};
use libp2p::core::upgrade;
use libp2p::kad::{self, QueryId, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, ping, relay, yamux, Multiaddr, PeerId, Swarm};
use wasm_bindgen_futures::spawn_local;

use super::config::{pick_addresses, LookupOptions, TransportKind, DEFAULT_CONNECT_TIMEOUT_MS};
use super::identity::Identity;
use super::prompt_flush::PromptFlush;
use crate::dht::{
    kad_config, record_key, Provider, ProviderLookup, ProviderStore, StoreLimits,
    IDENTIFY_PROTOCOL, KAD_PROTOCOL,
};
use crate::error::{Error, Result};
use crate::key::Key;

/// Longest a Kademlia query (announcement, lookup, bootstrap) runs.
const QUERY_TIMEOUT_MS: u32 = 30_000;
/// How long `close` keeps the node running after the last announcement was handed to the
/// connections (see `Driver::drain_announcements`).
const ANNOUNCEMENT_DRAIN_MS: f64 = 500.0;
/// Most keys this node provides at once (its own records only: browsers are DHT clients).
const MAX_PROVIDED_KEYS: usize = 1_000_000;

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

type Reply<T> = oneshot::Sender<Result<T>>;

enum Command {
    StartProvide {
        key: Key,
        reply: Reply<()>,
    },
    StopProvide {
        key: Key,
    },
    GetProviders {
        key: Key,
        options: LookupOptions,
        reply: Reply<Vec<Provider>>,
    },
    ExpireLookup {
        id: QueryId,
        timeout_ms: u32,
    },
    Bootstrap {
        reply: Reply<()>,
    },
    Dial {
        addr: Multiaddr,
        reply: Reply<String>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<String>>,
    },
    ExternalAddresses {
        reply: oneshot::Sender<Vec<String>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Handle on a running node; clones share it. Dropping every handle does not stop the node:
/// call [`P2pNode::close`].
#[derive(Clone)]
pub struct P2pNode {
    commands: mpsc::UnboundedSender<Command>,
    peer_id: PeerId,
    transport: TransportKind,
    closed: Rc<RefCell<bool>>,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    kad: kad::Behaviour<ProviderStore>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    relay: relay::client::Behaviour,
}

/// Whether this global scope can use WebRTC (pages can; Web Workers cannot).
fn webrtc_available() -> bool {
    let global = js_sys::global();
    let has = |name: &str| js_sys::Reflect::has(&global, &name.into()).unwrap_or(false);
    has("RTCPeerConnection") && has("document")
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
        let picked = pick_addresses(&options.bootstrap, &transports);
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
        let driver = Driver {
            swarm,
            commands: commands.clone(),
            on_event,
            transport,
            setup: Some(Setup {
                pending_dials: HashSet::new(),
                relay: options.relay,
                reply: ready,
                last_error: None,
            }),
            provides: HashMap::new(),
            lookups: HashMap::new(),
            bootstraps: HashMap::new(),
            dials: HashMap::new(),
            last_announcement: None,
        };
        spawn_local(driver.run(receiver, addrs));
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

fn build_swarm(
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
                identify: identify::Behaviour::new(identify::Config::new(
                    IDENTIFY_PROTOCOL.into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
                relay,
            }
        })
        .map_err(|e| failed("the behaviour", &e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    Ok(swarm)
}

/// `connect` in progress: dials to the bootstrap node, then the relay reservation.
struct Setup {
    pending_dials: HashSet<ConnectionId>,
    relay: bool,
    reply: oneshot::Sender<Result<()>>,
    last_error: Option<String>,
}

struct Lookup {
    providers: ProviderLookup,
    reply: Reply<Vec<Provider>>,
}

struct Driver {
    swarm: Swarm<Behaviour>,
    commands: mpsc::UnboundedSender<Command>,
    on_event: EventCallback,
    transport: TransportKind,
    setup: Option<Setup>,
    provides: HashMap<QueryId, Reply<()>>,
    lookups: HashMap<QueryId, Lookup>,
    bootstraps: HashMap<QueryId, Reply<()>>,
    dials: HashMap<ConnectionId, Reply<String>>,
    /// When (`Date.now()`) the last announcement query reported success.
    last_announcement: Option<f64>,
}

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        bootstrap: Vec<Multiaddr>,
    ) {
        for addr in bootstrap {
            let peer = peer_of(&addr).expect("checked by connect");
            self.swarm
                .behaviour_mut()
                .kad
                .add_address(&peer, addr.clone());
            let opts = DialOpts::peer_id(peer).addresses(vec![addr]).build();
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => {
                    if let Some(setup) = &mut self.setup {
                        setup.pending_dials.insert(id);
                    }
                }
                Err(e) => self.setup_failed(dial_error(&e)),
            }
        }
        loop {
            let next = select(commands.next(), self.swarm.next()).await;
            match next {
                Either::Left((Some(Command::Close { reply }), _)) => {
                    self.drain_announcements().await;
                    let _ = reply.send(());
                    return;
                }
                Either::Left((Some(command), _)) => self.on_command(command),
                Either::Left((None, _)) => return,
                Either::Right((Some(event), _)) => self.on_event(event),
                Either::Right((None, _)) => return,
            }
        }
    }

    /// libp2p-kad reports an announcement done once its ADD_PROVIDER messages are handed to the
    /// connection handlers, before they are written (they have no response). Dropping the swarm
    /// at once would lose them, so a close within `ANNOUNCEMENT_DRAIN_MS` of the last
    /// announcement keeps driving the swarm until that time has passed.
    async fn drain_announcements(&mut self) {
        let Some(handed_over) = self.last_announcement else {
            return;
        };
        let remaining = ANNOUNCEMENT_DRAIN_MS - (js_sys::Date::now() - handed_over);
        if remaining <= 0.0 {
            return;
        }
        let mut deadline = TimeoutFuture::new(remaining.ceil() as u32);
        loop {
            match select(self.swarm.next(), &mut deadline).await {
                Either::Left((Some(event), _)) => self.on_event(event),
                Either::Left((None, _)) | Either::Right(_) => return,
            }
        }
    }

    fn setup_failed(&mut self, error: Error) {
        if let Some(setup) = self.setup.take() {
            let _ = setup.reply.send(Err(error));
        }
    }

    fn setup_done(&mut self) {
        if let Some(setup) = self.setup.take() {
            let _ = setup.reply.send(Ok(()));
        }
        // Fill the routing table beyond the bootstrap node (answers nobody).
        let _ = self.swarm.behaviour_mut().kad.bootstrap();
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::StartProvide { key, reply } => {
                if self.swarm.connected_peers().next().is_none() {
                    let _ = reply.send(Err(Error::NotConnected(
                        "no connection to the DHT; reconnect first".into(),
                    )));
                    return;
                }
                match self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .start_providing(record_key(&key))
                {
                    Ok(id) => {
                        self.provides.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::InvalidArgument(format!(
                            "cannot record the provided key: {e}"
                        ))));
                    }
                }
            }
            Command::StopProvide { key } => {
                self.swarm
                    .behaviour_mut()
                    .kad
                    .stop_providing(&record_key(&key));
            }
            Command::GetProviders {
                key,
                options,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_providers(record_key(&key));
                self.lookups.insert(
                    id,
                    Lookup {
                        providers: ProviderLookup::new(options.limit),
                        reply,
                    },
                );
                let commands = self.commands.clone();
                let timeout_ms = options.timeout_ms;
                spawn_local(async move {
                    TimeoutFuture::new(timeout_ms).await;
                    let _ = commands.unbounded_send(Command::ExpireLookup { id, timeout_ms });
                });
            }
            Command::ExpireLookup { id, timeout_ms } => {
                if let Some(lookup) = self.lookups.remove(&id) {
                    if let Some(mut query) = self.swarm.behaviour_mut().kad.query_mut(&id) {
                        query.finish();
                    }
                    let outcome = if lookup.providers.found().is_empty() {
                        Err(Error::Timeout { ms: timeout_ms })
                    } else {
                        Ok(lookup.providers.finish())
                    };
                    let _ = lookup.reply.send(outcome);
                }
            }
            Command::Bootstrap { reply } => match self.swarm.behaviour_mut().kad.bootstrap() {
                Ok(id) => {
                    self.bootstraps.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.send(Err(Error::NotConnected(
                        "no known DHT peer to bootstrap from".into(),
                    )));
                }
            },
            Command::Dial { addr, reply } => {
                let opts = match peer_of(&addr) {
                    Some(peer) => DialOpts::peer_id(peer).addresses(vec![addr]).build(),
                    None => DialOpts::unknown_peer_id().address(addr).build(),
                };
                let id = opts.connection_id();
                let target = opts.get_peer_id();
                match self.swarm.dial(opts) {
                    Ok(()) => {
                        self.dials.insert(id, reply);
                    }
                    Err(DialError::DialPeerConditionFalse(_)) => {
                        // Already connected (or being dialled): that is the peer.
                        let peer = target.map(|p| p.to_string()).unwrap_or_default();
                        let _ = reply.send(Ok(peer));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(dial_error(&e)));
                    }
                }
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(
                    self.swarm
                        .connected_peers()
                        .map(|p| p.to_string())
                        .collect(),
                );
            }
            Command::ExternalAddresses { reply } => {
                let _ = reply.send(self.own_addresses());
            }
            Command::Close { .. } => unreachable!("handled by the loop"),
        }
    }

    fn own_addresses(&self) -> Vec<String> {
        let me = *self.swarm.local_peer_id();
        self.swarm
            .external_addresses()
            .map(|a| a.clone().with_p2p(me).unwrap_or_else(|a| a).to_string())
            .collect()
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Ok(peer_id.to_string()));
                }
                if num_established.get() == 1 {
                    (self.on_event)(NodeEvent::PeerConnected {
                        peer_id: peer_id.to_string(),
                    });
                }
                let is_setup_dial = self
                    .setup
                    .as_mut()
                    .is_some_and(|s| s.pending_dials.remove(&connection_id));
                if is_setup_dial {
                    let relay = self.setup.as_ref().is_some_and(|s| s.relay);
                    if relay {
                        // Listen through the bootstrap node: a reservation, then a relayed address.
                        let circuit = endpoint
                            .get_remote_address()
                            .clone()
                            .with_p2p(peer_id)
                            .unwrap_or_else(|a| a)
                            .with(Protocol::P2pCircuit);
                        if let Err(e) = self.swarm.listen_on(circuit) {
                            self.setup_failed(Error::NoRoute(format!(
                                "cannot ask the bootstrap node for a relay reservation: {e}"
                            )));
                        }
                    } else {
                        self.setup_done();
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                let error = dial_error(&error);
                if let Some(reply) = self.dials.remove(&connection_id) {
                    let _ = reply.send(Err(error.clone()));
                }
                if let Some(setup) = &mut self.setup {
                    if setup.pending_dials.remove(&connection_id) {
                        setup.last_error = Some(error.to_string());
                        if setup.pending_dials.is_empty() {
                            self.setup_failed(error);
                        }
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => (self.on_event)(NodeEvent::PeerDisconnected {
                peer_id: peer_id.to_string(),
            }),
            SwarmEvent::ExternalAddrConfirmed { address } => {
                let addr = address
                    .with_p2p(*self.swarm.local_peer_id())
                    .unwrap_or_else(|a| a)
                    .to_string();
                (self.on_event)(NodeEvent::AddressConfirmed { addr });
                if self.setup.is_some() {
                    self.setup_done();
                }
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                (self.on_event)(NodeEvent::AddressExpired {
                    addr: address.to_string(),
                });
            }
            SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                let reason = self
                    .setup
                    .as_ref()
                    .and_then(|s| s.last_error.clone())
                    .unwrap_or_else(|| error.to_string());
                self.setup_failed(Error::NoRoute(format!(
                    "the bootstrap node refused a relay reservation: {reason}"
                )));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
            // DHT servers learnt from identify go into the routing table, with the addresses this
            // node's transport can dial.
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL) => {
                for addr in info.listen_addrs {
                    let usable =
                        TransportKind::of_address(&addr.to_string()) == Some(self.transport);
                    if usable && !addr.iter().any(|p| p == Protocol::P2pCircuit) {
                        self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        } = event
        else {
            return;
        };
        match result {
            QueryResult::StartProviding(result) => {
                if result.is_ok() {
                    self.last_announcement = Some(js_sys::Date::now());
                }
                if let Some(reply) = self.provides.remove(&id) {
                    let _ = reply.send(match result {
                        Ok(_) => Ok(()),
                        Err(kad::AddProviderError::Timeout { .. }) => Err(Error::Timeout {
                            ms: QUERY_TIMEOUT_MS,
                        }),
                    });
                }
            }
            QueryResult::Bootstrap(result) if step.last => {
                if let Some(reply) = self.bootstraps.remove(&id) {
                    // The only bootstrap error is a timeout.
                    let _ = reply.send(result.map(|_| ()).map_err(|_| Error::Timeout {
                        ms: QUERY_TIMEOUT_MS,
                    }));
                }
            }
            QueryResult::GetProviders(result) => {
                let Some(lookup) = self.lookups.get_mut(&id) else {
                    return;
                };
                let local = *self.swarm.local_peer_id();
                let external: Vec<Multiaddr> = self.swarm.external_addresses().cloned().collect();
                let kad = &mut self.swarm.behaviour_mut().kad;
                if lookup
                    .providers
                    .step(kad, id, local, &external, &result, step.last)
                {
                    if let Some(lookup) = self.lookups.remove(&id) {
                        let _ = lookup.reply.send(Ok(lookup.providers.finish()));
                    }
                }
            }
            _ => {}
        }
    }
}

fn dial_error(error: &DialError) -> Error {
    match error {
        DialError::Transport(attempts)
            if !attempts.is_empty()
                && attempts.iter().all(|(_, e)| {
                    matches!(e, libp2p::TransportError::MultiaddrNotSupported(_))
                }) =>
        {
            Error::UnsupportedTransport(format!(
                "this node's transport cannot dial {}",
                attempts
                    .iter()
                    .map(|(a, _)| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        other => Error::NoRoute(other.to_string()),
    }
}
