//! The state every handler shares: the node store, tokens and the clock they are checked
//! against, limits, the fault injector, the libp2p node and the metrics.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Limits;
use crate::fault::FaultInjector;
use crate::metrics::Metrics;
use crate::nodes::NodeStore;
use crate::p2p::P2pHandle;
use crate::tokens::TokenStore;

/// Shared by all requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Node bytes and ownership (the embedded redb store unless configured otherwise).
    pub store: Arc<dyn NodeStore>,
    pub tokens: Arc<TokenStore>,
    /// The time tokens are minted and checked against (the system clock, except in tests).
    pub clock: Arc<dyn Clock>,
    pub limits: Limits,
    pub fault: Arc<FaultInjector>,
    /// With `--dev`: the lifetime of the access tokens `GET /api/dev` mints for realm `demo`.
    pub dev_token_ttl: Option<u64>,
    /// The libp2p node, unless `--no-p2p`.
    pub p2p: Option<P2pHandle>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}
