//! The state every handler shares: the node store, tokens, limits, the fault injector, the
//! libp2p node and the metrics.

use std::sync::Arc;

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
    pub limits: Limits,
    pub fault: Arc<FaultInjector>,
    /// With `--dev`: the token of realm `demo`, served at `GET /api/dev`.
    pub dev_token: Option<String>,
    /// The libp2p node, unless `--no-p2p`.
    pub p2p: Option<P2pHandle>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}
