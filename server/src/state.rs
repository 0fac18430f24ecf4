//! The state every handler shares: database, writer, tokens, limits, the fault injector, the
//! libp2p node and the metrics.

use std::sync::Arc;

use crate::config::Limits;
use crate::fault::FaultInjector;
use crate::metrics::Metrics;
use crate::p2p::P2pHandle;
use crate::store::Store;
use crate::tokens::TokenStore;
use crate::writer::Writer;

/// Shared by all requests; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub writer: Writer,
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

impl AppState {
    /// Runs a blocking database read off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, crate::error::ApiError>
    where
        F: FnOnce(&crate::store::Store) -> Result<T, crate::store::StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
    }
}
