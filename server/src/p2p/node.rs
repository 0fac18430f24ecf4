//! The server's libp2p node: a swarm (Kademlia in server mode, identify, ping, relay, the block
//! exchange) driven by one task, and [`P2pHandle`], the cheap clonable way for HTTP handlers and tests to ask it to
//! announce a key, stop, or look up providers. Commands go in over a channel; each answer comes
//! back on a oneshot when the matching Kademlia query reaches its last step.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use casweb::dht::{
    identify_behaviour, kad_config, ping_behaviour, record_key, LookupReply, Lookups, Provider,
    ProviderStore, StoreLimits, KAD_PROTOCOL, SETTLE_MS,
};
use casweb::exchange::{self, BlockCodec, BlockResponse, PeerGate, Refusal, ServeLimits};
use casweb::Key;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::ListenerId;
use libp2p::core::upgrade;
use libp2p::core::Transport as _;
use libp2p::futures::future::BoxFuture;
use libp2p::futures::stream::FuturesUnordered;
use libp2p::futures::{FutureExt as _, StreamExt as _};
use libp2p::kad::{self, QueryId, QueryResult, RecordKey};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, ping, relay, yamux, Multiaddr, PeerId, Swarm};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::blocks::ServedNodes;
use super::identity;
use crate::metrics::DhtGauges;

/// How a node is set up; see `casweb-server serve --help` for the flags behind each field.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// IP address every transport listens on.
    pub listen_ip: IpAddr,
    /// TCP port for native peers (0 picks one).
    pub tcp_port: u16,
    /// TCP port of the WebSocket listener (0 picks one).
    pub ws_port: u16,
    /// UDP port of the WebRTC-direct listener (0 picks one).
    pub webrtc_port: u16,
    /// Nodes to join, each with its `/p2p/<peer id>`.
    pub bootstrap: Vec<Multiaddr>,
    /// How long a provider record received from a peer is kept.
    pub provider_ttl: Duration,
    /// Addresses to announce besides the listen addresses (e.g. behind a port mapping).
    pub external_addresses: Vec<Multiaddr>,
    /// The node store block requests are answered from (`--serve-blocks`); `None`: refused.
    pub served_nodes: Option<ServedNodes>,
}

impl Default for P2pConfig {
    fn default() -> P2pConfig {
        P2pConfig {
            listen_ip: IpAddr::from([127, 0, 0, 1]),
            tcp_port: 0,
            ws_port: 0,
            webrtc_port: 0,
            bootstrap: Vec::new(),
            provider_ttl: Duration::from_secs(48 * 3600),
            external_addresses: Vec::new(),
            served_nodes: None,
        }
    }
}

/// Errors of the node's operations, with the codes the HTTP API reports.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    #[error("the p2p node has stopped")]
    Stopped,
    #[error("the DHT query timed out")]
    Timeout,
    #[error("cannot store the provider record: {0}")]
    Store(String),
    #[error("cannot start the p2p node: {0}")]
    Start(String),
}

impl P2pError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            P2pError::Stopped => "p2p_stopped",
            P2pError::Timeout => "timeout",
            P2pError::Store(_) => "provider_store_full",
            P2pError::Start(_) => "p2p_start_failed",
        }
    }
}

/// The node's own peer id and dialable addresses (each ending in `/p2p/<peer id>`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct P2pInfo {
    pub peer_id: String,
    pub addrs: Vec<String>,
    pub protocol: &'static str,
}

enum Command {
    Provide {
        key: RecordKey,
        reply: oneshot::Sender<Result<(), P2pError>>,
    },
    StopProviding {
        key: RecordKey,
    },
    GetProviders {
        key: RecordKey,
        limit: usize,
        timeout: Duration,
        reply: oneshot::Sender<Result<Vec<Provider>, P2pError>>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    Gauges {
        reply: oneshot::Sender<DhtGauges>,
    },
}

/// Talks to the running node; cheap to clone. The node stops when the last handle is dropped.
#[derive(Clone)]
pub struct P2pHandle {
    commands: mpsc::Sender<Command>,
    info: Arc<RwLock<P2pInfo>>,
    peer_id: PeerId,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    kad: kad::Behaviour<ProviderStore>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    relay: relay::Behaviour,
    blocks: request_response::Behaviour<BlockCodec>,
}

/// Starts a node: loads (or creates) its identity from `data_dir`, listens on every transport,
/// dials the bootstrap nodes, and returns once every listener has its address.
pub async fn start(config: P2pConfig, data_dir: Option<&Path>) -> Result<P2pHandle, P2pError> {
    let (keypair, certificate) = identity::load_or_create(data_dir).map_err(P2pError::Start)?;
    let peer_id = keypair.public().to_peer_id();
    let mut swarm = build_swarm(keypair, certificate, &config).map_err(P2pError::Start)?;

    let ip = match config.listen_ip {
        IpAddr::V4(ip) => Protocol::Ip4(ip),
        IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    let base = Multiaddr::empty().with(ip);
    let listen = [
        base.clone().with(Protocol::Tcp(config.tcp_port)),
        base.clone()
            .with(Protocol::Tcp(config.ws_port))
            .with(Protocol::Ws("/".into())),
        base.with(Protocol::Udp(config.webrtc_port))
            .with(Protocol::WebRTCDirect),
    ];
    let mut waiting: HashSet<ListenerId> = HashSet::new();
    for addr in listen {
        let id = swarm
            .listen_on(addr.clone())
            .map_err(|e| P2pError::Start(format!("cannot listen on {addr}: {e}")))?;
        waiting.insert(id);
    }
    for addr in &config.external_addresses {
        swarm.add_external_address(addr.clone());
    }
    // Wait for every listener's address, so that the first /api/p2p answer is complete.
    let deadline = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(deadline);
    while !waiting.is_empty() {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { listener_id, address } => {
                    swarm.add_external_address(address);
                    waiting.remove(&listener_id);
                }
                SwarmEvent::ListenerClosed { reason: Err(e), .. }
                | SwarmEvent::ListenerError { error: e, .. } => {
                    return Err(P2pError::Start(format!("a listener failed: {e}")));
                }
                _ => {}
            },
            () = &mut deadline => return Err(P2pError::Start("listeners did not start in 10 s".into())),
        }
    }

    for addr in &config.bootstrap {
        let Some(Protocol::P2p(peer)) = addr.iter().last() else {
            return Err(P2pError::Start(format!(
                "bootstrap address {addr} does not end in /p2p/<peer id>"
            )));
        };
        swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "cannot dial a bootstrap node");
        }
    }
    if !config.bootstrap.is_empty() {
        let _ = swarm.behaviour_mut().kad.bootstrap();
    }

    let info = Arc::new(RwLock::new(info_of(&swarm)));
    let (commands, receiver) = mpsc::channel(256);
    let mut driver = Driver {
        swarm,
        info: info.clone(),
        provides: HashMap::new(),
        lookups: Lookups::new(|behaviour| &mut behaviour.kad),
        deadlines: FuturesUnordered::new(),
        served_nodes: config.served_nodes.clone(),
        gate: PeerGate::new(ServeLimits::default()),
        answers: FuturesUnordered::new(),
    };
    driver.refresh_info();
    tokio::spawn(driver.run(receiver));
    Ok(P2pHandle {
        commands,
        info,
        peer_id,
    })
}

fn build_swarm(
    keypair: libp2p::identity::Keypair,
    certificate: libp2p_webrtc::tokio::Certificate,
    config: &P2pConfig,
) -> Result<Swarm<Behaviour>, String> {
    let provider_ttl = config.provider_ttl;
    let builder = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| format!("tcp transport: {e}"))?
        .with_other_transport(|key| {
            libp2p_webrtc::tokio::Transport::new(key.clone(), certificate)
                .map(|(peer, connection), _| (peer, StreamMuxerBox::new(connection)))
        })
        .map_err(|e| format!("webrtc transport: {e}"))?
        .with_other_transport(|key| {
            // WebSocket over its own TCP listener, with the same security and multiplexing.
            let tcp =
                libp2p::tcp::tokio::Transport::new(libp2p::tcp::Config::default().nodelay(true));
            let noise = noise::Config::new(key)
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)?;
            Ok(libp2p::websocket::Config::new(tcp)
                .upgrade(upgrade::Version::V1)
                .authenticate(noise)
                .multiplex(yamux::Config::default())
                .map(|(peer, muxer), _| (peer, StreamMuxerBox::new(muxer))))
        })
        .map_err(|e| format!("websocket transport: {e}"))?;
    let swarm = builder
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let mut kad_config = kad_config(Some(provider_ttl), Duration::from_secs(30));
            kad_config.set_parallelism(NonZeroUsize::new(3).expect("3 > 0"));
            let store = ProviderStore::new(peer_id, StoreLimits::default());
            let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
            kad.set_mode(Some(kad::Mode::Server));
            // Every peer shares 127.0.0.1 in tests and demos: no per-IP or per-peer rate limits,
            // generous reservation and circuit counts. Circuits carry the block exchange between
            // browsers (they cannot dial each other directly), so libp2p's defaults (2 min,
            // 128 KiB per circuit) would cut a single 5 MiB file: a circuit lasts up to an hour
            // and carries up to 64 MiB (a dozen 5 MiB files), and a page whose circuit closes
            // under a request dials a new one (exchange::fetch asks that provider once more).
            let relay = relay::Behaviour::new(
                peer_id,
                relay::Config {
                    max_reservations: 4096,
                    max_reservations_per_peer: 16,
                    reservation_duration: Duration::from_secs(3600),
                    reservation_rate_limiters: Vec::new(),
                    max_circuits: 4096,
                    max_circuits_per_peer: 64,
                    max_circuit_duration: Duration::from_secs(3600),
                    max_circuit_bytes: 64 * 1024 * 1024,
                    circuit_src_rate_limiters: Vec::new(),
                },
            );
            Behaviour {
                kad,
                identify: identify_behaviour(key.public()),
                ping: ping_behaviour(),
                relay,
                blocks: exchange::behaviour(),
            }
        })
        .map_err(|e| format!("behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    Ok(swarm)
}

fn info_of(swarm: &Swarm<Behaviour>) -> P2pInfo {
    let peer_id = *swarm.local_peer_id();
    let addrs = swarm
        .external_addresses()
        .map(|a| {
            a.clone()
                .with_p2p(peer_id)
                .unwrap_or_else(|a| a)
                .to_string()
        })
        .collect();
    P2pInfo {
        peer_id: peer_id.to_string(),
        addrs,
        protocol: KAD_PROTOCOL,
    }
}

/// Who waits for a provider lookup.
struct ProvidersReply(oneshot::Sender<Result<Vec<Provider>, P2pError>>);

// The caller may have stopped waiting; nothing to do then.
impl LookupReply for ProvidersReply {
    fn send_providers(self, providers: Vec<Provider>) {
        let _ = self.0.send(Ok(providers));
    }

    fn send_timeout(self) {
        let _ = self.0.send(Err(P2pError::Timeout));
    }
}

struct Driver {
    swarm: Swarm<Behaviour>,
    info: Arc<RwLock<P2pInfo>>,
    provides: HashMap<QueryId, oneshot::Sender<Result<(), P2pError>>>,
    lookups: Lookups<Behaviour, ProviderStore, ProvidersReply>,
    /// Lookup deadlines: each fires with its query id.
    deadlines: FuturesUnordered<BoxFuture<'static, QueryId>>,
    served_nodes: Option<ServedNodes>,
    /// Block requests being answered, in all and per peer.
    gate: PeerGate<PeerId>,
    answers: FuturesUnordered<BoxFuture<'static, Answered>>,
}

/// A block answer ready to go back to its peer.
type Answered = (PeerId, ResponseChannel<BlockResponse>, BlockResponse);

impl Driver {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return,
                },
                event = self.swarm.select_next_some() => self.on_event(event),
                Some(id) = self.deadlines.next(), if !self.deadlines.is_empty() => {
                    self.lookups.expire(&mut self.swarm, id);
                }
                Some((peer, channel, response)) = self.answers.next(), if !self.answers.is_empty() => {
                    self.gate.leave(&peer);
                    self.respond(channel, response);
                }
            }
        }
    }

    /// Expires lookup `id` after `timeout` (answering with what it found by then, if still
    /// running).
    fn expire_after(&mut self, id: QueryId, timeout: Duration) {
        self.deadlines.push(
            async move {
                tokio::time::sleep(timeout).await;
                id
            }
            .boxed(),
        );
    }

    fn on_command(&mut self, command: Command) {
        let kad = &mut self.swarm.behaviour_mut().kad;
        match command {
            Command::Provide { key, reply } => match kad.start_providing(key) {
                Ok(id) => {
                    self.provides.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(P2pError::Store(e.to_string())));
                }
            },
            Command::StopProviding { key } => kad.stop_providing(&key),
            Command::GetProviders {
                key,
                limit,
                timeout,
                reply,
            } => {
                let id = kad.get_providers(key);
                self.lookups.start(id, limit, ProvidersReply(reply));
                self.expire_after(id, timeout);
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Gauges { reply } => {
                let peers = self.swarm.connected_peers().count() as u64;
                let store = self.swarm.behaviour_mut().kad.store_mut();
                let (records, bytes) = store.usage();
                let _ = reply.send(DhtGauges {
                    peers,
                    records: records as u64,
                    record_bytes: bytes as u64,
                    records_capped: store.capped,
                });
            }
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Blocks(request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            })) => {
                let admitted = match (&self.served_nodes, request) {
                    (None, _) => Err(Refusal::NotServing),
                    (Some(_), Err(refusal)) => Err(refusal),
                    (Some(served), Ok(request)) => {
                        self.gate.enter(&peer).map(|()| (served.clone(), request))
                    }
                };
                match admitted {
                    Ok((served, request)) => self.answers.push(
                        async move { (peer, channel, served.answer(request.keys).await) }.boxed(),
                    ),
                    Err(refusal) => self.respond(channel, BlockResponse::Refused(refusal)),
                }
            }
            // Only casweb DHT servers go into the routing table; browsers (client mode) do not
            // offer the Kademlia protocol.
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL) => {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                self.swarm.add_external_address(address);
                self.refresh_info();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.swarm.remove_external_address(&address);
                self.refresh_info();
            }
            _ => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<BlockResponse>, response: BlockResponse) {
        // The asker may be gone (its request timed out, the connection closed): nothing to do.
        let _ = self
            .swarm
            .behaviour_mut()
            .blocks
            .send_response(channel, response);
    }

    /// Publishes the node's addresses: to `/api/p2p`, and to its own provider records.
    fn refresh_info(&mut self) {
        let external: Vec<Multiaddr> = self.swarm.external_addresses().cloned().collect();
        self.swarm
            .behaviour_mut()
            .kad
            .store_mut()
            .set_local_addresses(external);
        let info = info_of(&self.swarm);
        if let Ok(mut shared) = self.info.write() {
            *shared = info;
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        tracing::debug!(?event, "dht");
        let kad::Event::OutboundQueryProgressed {
            id, result, step, ..
        } = event
        else {
            return;
        };
        match result {
            QueryResult::StartProviding(result) => {
                if let Some(reply) = self.provides.remove(&id) {
                    let outcome = match result {
                        Ok(_) => Ok(()),
                        Err(kad::AddProviderError::Timeout { .. }) => Err(P2pError::Timeout),
                    };
                    let _ = reply.send(outcome);
                }
            }
            QueryResult::GetProviders(result) => {
                let settling = self
                    .lookups
                    .on_step(&mut self.swarm, id, &result, step.last);
                if settling {
                    self.expire_after(id, Duration::from_millis(u64::from(SETTLE_MS)));
                }
            }
            _ => {}
        }
    }
}

impl P2pHandle {
    /// The node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Peer id and dialable addresses.
    pub fn info(&self) -> P2pInfo {
        self.info
            .read()
            .map(|info| info.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Announces that this node holds `key`; resolves when the record reached the closest peers.
    pub async fn provide(&self, key: &Key) -> Result<(), P2pError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Provide {
            key: record_key(key),
            reply,
        })
        .await?;
        answer.await.map_err(|_| P2pError::Stopped)?
    }

    /// Stops announcing `key` (records already stored elsewhere expire by themselves).
    pub async fn stop_providing(&self, key: &Key) -> Result<(), P2pError> {
        self.send(Command::StopProviding {
            key: record_key(key),
        })
        .await
    }

    /// Finds up to `limit` providers of `key`, giving up after `timeout` (with what was found).
    pub async fn get_providers(
        &self,
        key: &Key,
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<Provider>, P2pError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::GetProviders {
            key: record_key(key),
            limit,
            timeout,
            reply,
        })
        .await?;
        // The driver answers by the deadline: with what it found, or a timeout.
        answer.await.map_err(|_| P2pError::Stopped)?
    }

    /// Peers with an open connection.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, P2pError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::ConnectedPeers { reply }).await?;
        answer.await.map_err(|_| P2pError::Stopped)
    }

    /// Peers, provider records and their bytes, for `/metrics`.
    pub async fn gauges(&self) -> Result<DhtGauges, P2pError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Gauges { reply }).await?;
        answer.await.map_err(|_| P2pError::Stopped)
    }

    async fn send(&self, command: Command) -> Result<(), P2pError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| P2pError::Stopped)
    }
}
