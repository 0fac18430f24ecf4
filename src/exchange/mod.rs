//! The block exchange every casweb node shares (Cargo feature `dht`, native and wasm): the
//! `/casweb/block/1.0.0` request-response protocol by which a peer asks another for nodes by
//! key. The wire contract exists once here, for the browser node and the reference server.
//!
//! - [`message`]: requests, answers and refusals, their bytes (pure);
//! - [`codec`]: the libp2p codec, reading every message within [`ExchangeLimits`];
//! - [`serve`]: answering a request from any `StorageProvider`, and the per-peer gate (pure);
//! - [`fetch`]: asking providers, verifying what they send, dropping liars and laggards, over a
//!   [`fetch::BlockNetwork`] seam (pure; native tests drive it with a fake network).
//!
//! See docs/p2p.md ("Fetching blocks from peers") for the protocol and its limits.

pub mod codec;
pub mod fetch;
pub mod message;
pub mod serve;

use std::time::Duration;

use libp2p::request_response::{self, ProtocolSupport};
use libp2p::StreamProtocol;

pub use codec::BlockCodec;
pub use fetch::{BlockNetwork, DroppedProvider, FetchOptions, FetchStats, Fetcher};
pub use message::{BlockRequest, BlockResponse, InboundRequest, Refusal};
pub use serve::{answer, answer_of, answered_prefix, PeerGate, ServeLimits};

/// The protocol name of the block exchange.
pub const BLOCK_PROTOCOL: &str = "/casweb/block/1.0.0";

/// Most keys one request may name (a request is then at most 4 KiB).
pub const MAX_KEYS_PER_REQUEST: usize = 256;
/// Most node bytes one answer carries: the reference server's default `maxNodeSize`, so any
/// node a server accepts fits an answer alone. Nodes larger than this are not exchanged.
pub const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;
/// How long a request may wait for its answer before libp2p gives up on it (the fetching side
/// usually gives up earlier: see [`FetchOptions::request_timeout_ms`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Most block streams open at once on one connection, either way (libp2p refuses more).
pub const MAX_STREAMS_PER_CONNECTION: usize = 16;

/// What every reader of the protocol accepts: the codec refuses longer messages before reading
/// them whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeLimits {
    pub max_keys: usize,
    pub max_answer_bytes: u64,
}

impl Default for ExchangeLimits {
    fn default() -> Self {
        ExchangeLimits {
            max_keys: MAX_KEYS_PER_REQUEST,
            max_answer_bytes: MAX_ANSWER_BYTES,
        }
    }
}

/// The libp2p behaviour of the block exchange, the same for every casweb node: it asks and it
/// answers (a node that does not serve answers with [`Refusal::NotServing`]).
pub fn behaviour() -> request_response::Behaviour<BlockCodec> {
    request_response::Behaviour::with_codec(
        BlockCodec::new(ExchangeLimits::default()),
        [(StreamProtocol::new(BLOCK_PROTOCOL), ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(REQUEST_TIMEOUT)
            .with_max_concurrent_streams(MAX_STREAMS_PER_CONNECTION),
    )
}
