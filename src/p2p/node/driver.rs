//! The task that owns a browser node's swarm: it sets the node up (dials, relay reservation),
//! turns commands into Kademlia queries, dials and block requests, answers them as the swarm
//! reports progress, expires lookups at their deadline, answers peers' block requests while
//! serving (admitted through a `PeerGate`, read concurrently), and ends when the last handle is
//! dropped or `close` asks.

use std::collections::{HashMap, HashSet};
use std::future::poll_fn;
use std::task::Poll;

use futures::channel::{mpsc, oneshot};
use futures::future::{select, Either, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt as _, StreamExt as _};
use gloo_timers::future::TimeoutFuture;
use libp2p::kad::{self, QueryId, QueryResult};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{ConnectionId, DialError, SwarmEvent};
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use wasm_bindgen_futures::spawn_local;

use super::command::{Command, Reply};
use super::transport::{Behaviour, BehaviourEvent};
use super::{peer_of, EventCallback, NodeEvent, QUERY_TIMEOUT_MS};
use crate::dht::{
    other_casweb_dht, record_key, LookupReply, Lookups, Provider, ProviderStore, KAD_PROTOCOL,
    SETTLE_MS,
};
use crate::error::{Error, Result};
use crate::exchange::{
    BlockRequest, BlockResponse, InboundRequest, PeerGate, Refusal, ServeLimits,
};
use crate::p2p::config::TransportKind;
use crate::p2p::serving::Serving;

/// How long `close` keeps the node running after the last announcement was handed to the
/// connections (see `Driver::drain_announcements`).
const ANNOUNCEMENT_DRAIN_MS: f64 = 500.0;

/// `connect` in progress: dials to the bootstrap node, then the relay reservation.
struct Setup {
    pending_dials: HashSet<ConnectionId>,
    relay: bool,
    reply: oneshot::Sender<Result<()>>,
    last_error: Option<String>,
}

pub(super) struct Driver {
    swarm: Swarm<Behaviour>,
    /// Lookup deadlines: each fires with its query id.
    deadlines: FuturesUnordered<LocalBoxFuture<'static, QueryId>>,
    on_event: EventCallback,
    transport: TransportKind,
    setup: Option<Setup>,
    provides: HashMap<QueryId, Reply<()>>,
    lookups: Lookups<Behaviour, ProviderStore, LookupWaiter>,
    bootstraps: HashMap<QueryId, Reply<()>>,
    dials: HashMap<ConnectionId, Reply<String>>,
    /// When (`Date.now()`) the last announcement query reported success.
    last_announcement: Option<f64>,
    block_requests: HashMap<OutboundRequestId, Reply<BlockResponse>>,
    /// What block requests are answered from; `None`: refused as `not_serving`.
    serving: Option<Serving>,
    gate: PeerGate<PeerId>,
    /// Answers being read, each with the peer and the channel it goes back on.
    answers: FuturesUnordered<LocalBoxFuture<'static, Answered>>,
}

/// A block answer ready to go back.
type Answered = (PeerId, ResponseChannel<BlockResponse>, BlockResponse);

/// What woke the driver.
enum Next {
    Command(Option<Command>),
    Deadline(QueryId),
    Answered(Answered),
    Event(Option<Box<SwarmEvent<BehaviourEvent>>>),
}

impl Driver {
    /// Starts the task that drives `swarm`: it dials `bootstrap`, answers `ready` once the node
    /// is reachable (or failed to be), then serves `commands` until every handle is dropped or
    /// one asks to close.
    pub(super) fn start(
        swarm: Swarm<Behaviour>,
        on_event: EventCallback,
        transport: TransportKind,
        relay: bool,
        ready: oneshot::Sender<Result<()>>,
        commands: mpsc::UnboundedReceiver<Command>,
        bootstrap: Vec<Multiaddr>,
    ) {
        let driver = Driver {
            swarm,
            deadlines: FuturesUnordered::new(),
            on_event,
            transport,
            setup: Some(Setup {
                pending_dials: HashSet::new(),
                relay,
                reply: ready,
                last_error: None,
            }),
            provides: HashMap::new(),
            lookups: Lookups::new(|behaviour| &mut behaviour.kad),
            bootstraps: HashMap::new(),
            dials: HashMap::new(),
            last_announcement: None,
            block_requests: HashMap::new(),
            serving: None,
            gate: PeerGate::new(ServeLimits::default()),
            answers: FuturesUnordered::new(),
        };
        spawn_local(driver.run(commands, bootstrap));
    }

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
            let next = poll_fn(|cx| {
                if let Poll::Ready(command) = commands.poll_next_unpin(cx) {
                    return Poll::Ready(Next::Command(command));
                }
                if let Poll::Ready(Some(id)) = self.deadlines.poll_next_unpin(cx) {
                    return Poll::Ready(Next::Deadline(id));
                }
                if let Poll::Ready(Some(answered)) = self.answers.poll_next_unpin(cx) {
                    return Poll::Ready(Next::Answered(answered));
                }
                self.swarm
                    .poll_next_unpin(cx)
                    .map(|event| Next::Event(event.map(Box::new)))
            })
            .await;
            match next {
                Next::Command(Some(Command::Close { reply })) => {
                    self.drain_announcements().await;
                    let _ = reply.send(());
                    return;
                }
                Next::Command(Some(command)) => self.on_command(command),
                // Every handle was dropped: nobody can ask anything any more.
                Next::Command(None) | Next::Event(None) => return,
                Next::Deadline(id) => self.lookups.expire(&mut self.swarm, id),
                Next::Answered((peer, channel, response)) => {
                    self.gate.leave(&peer);
                    self.respond(channel, response);
                }
                Next::Event(Some(event)) => self.on_event(*event),
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

    /// Expires lookup `id` in `ms` (answering with what it found by then, if still running).
    fn expire_after(&mut self, id: QueryId, ms: u32) {
        self.deadlines.push(
            async move {
                TimeoutFuture::new(ms).await;
                id
            }
            .boxed_local(),
        );
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
                let timeout_ms = options.timeout_ms;
                self.lookups
                    .start(id, options.limit, LookupWaiter { reply, timeout_ms });
                self.expire_after(id, timeout_ms);
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
            Command::RequestBlocks {
                provider,
                keys,
                reply,
            } => {
                let Ok(peer) = provider.peer_id.parse::<PeerId>() else {
                    let _ = reply.send(Err(Error::InvalidArgument(format!(
                        "{:?} is not a peer id",
                        provider.peer_id
                    ))));
                    return;
                };
                let addrs = provider
                    .addrs
                    .iter()
                    .filter_map(|a| a.parse::<Multiaddr>().ok())
                    .collect();
                let id = self
                    .swarm
                    .behaviour_mut()
                    .blocks
                    .send_request_with_addresses(&peer, Ok(BlockRequest { keys }), addrs);
                self.block_requests.insert(id, reply);
            }
            Command::Serve { serving } => {
                if let Some(serving) = &serving {
                    self.gate.set_limits(serving.limits);
                }
                self.serving = serving;
            }
            Command::Close { .. } => unreachable!("handled by the loop"),
        }
    }

    /// A peer's block request: refused at once, or admitted and answered when its nodes are read.
    fn on_block_request(
        &mut self,
        peer: PeerId,
        request: InboundRequest,
        channel: ResponseChannel<BlockResponse>,
    ) {
        let admitted = match (&self.serving, request) {
            (None, _) => Err(Refusal::NotServing),
            (Some(_), Err(refusal)) => Err(refusal),
            (Some(serving), Ok(request)) => self.gate.enter(&peer).map(|()| (serving, request)),
        };
        match admitted {
            Ok((serving, request)) => {
                let answer = serving.answer(request.keys);
                self.answers
                    .push(async move { (peer, channel, answer.await) }.boxed_local());
            }
            Err(refusal) => self.respond(channel, BlockResponse::Refused(refusal)),
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

    fn on_blocks_event(&mut self, event: request_response::Event<InboundRequest, BlockResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_block_request(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.block_requests.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.block_requests.remove(&request_id) {
                    let _ = reply.send(Err(block_failure(&peer, error)));
                }
            }
            request_response::Event::InboundFailure { .. }
            | request_response::Event::ResponseSent { .. } => {}
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
            SwarmEvent::Behaviour(BehaviourEvent::Blocks(event)) => self.on_blocks_event(event),
            // A bootstrap node of another casweb DHT version would answer no query: say so
            // instead of connecting to silence.
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                info,
                ..
            })) if self.setup.is_some() && other_casweb_dht(&info.protocols).is_some() => {
                let theirs = other_casweb_dht(&info.protocols).unwrap_or_default();
                self.setup_failed(Error::VersionMismatch(format!(
                    "the bootstrap node speaks {theirs}, this casweb speaks {KAD_PROTOCOL}"
                )));
            }
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
                let settling = self
                    .lookups
                    .on_step(&mut self.swarm, id, &result, step.last);
                if settling {
                    self.expire_after(id, SETTLE_MS);
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

/// The error of a block request that got no answer.
fn block_failure(peer: &PeerId, failure: OutboundFailure) -> Error {
    match failure {
        OutboundFailure::DialFailure => Error::NoRoute(format!("cannot dial {peer}")),
        OutboundFailure::Timeout => Error::Timeout {
            ms: crate::exchange::REQUEST_TIMEOUT.as_millis() as u32,
        },
        OutboundFailure::UnsupportedProtocols => Error::PeerRefused {
            reason: Refusal::NotServing.code().into(),
            message: format!("{peer} does not speak {}", crate::exchange::BLOCK_PROTOCOL),
        },
        // The codec's verdict on an oversized or malformed answer: a bad peer, not a bad
        // connection (which is worth one more try).
        OutboundFailure::Io(error) if error.kind() == std::io::ErrorKind::InvalidData => {
            Error::PeerRefused {
                reason: Refusal::Malformed.code().into(),
                message: format!("{peer} sent an answer that cannot be read: {error}"),
            }
        }
        other => Error::Network(format!("block request to {peer}: {other}")),
    }
}

/// Who waits for a provider lookup, and how long the lookup may take (for its timeout error).
pub(super) struct LookupWaiter {
    reply: Reply<Vec<Provider>>,
    timeout_ms: u32,
}

// The caller may have stopped waiting; nothing to do then.
impl LookupReply for LookupWaiter {
    fn send_providers(self, providers: Vec<Provider>) {
        let _ = self.reply.send(Ok(providers));
    }

    fn send_timeout(self) {
        let ms = self.timeout_ms;
        let _ = self.reply.send(Err(Error::Timeout { ms }));
    }
}
