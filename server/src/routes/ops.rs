//! Operations endpoints, without authentication: `GET /healthz` (the process answers),
//! `GET /readyz` (the database answers: 503 `not_ready` otherwise) and `GET /metrics`
//! (Prometheus text format, see `metrics.rs`).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::error::ApiError;
use crate::metrics::Gauges;
use crate::state::AppState;

/// 200 as long as the process serves requests.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 when the database answers a read, else 503 `not_ready`.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.store.node_count().await {
        Ok(_) => Ok(Json(json!({ "status": "ready" }))),
        Err(error) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the database does not answer: {}", error),
        )),
    }
}

/// The metrics, with the gauges read now.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let nodes_stored = state.store.node_count().await.unwrap_or(0);
    let dht = match &state.p2p {
        Some(node) => node.gauges().await.ok(),
        None => None,
    };
    let gauges = Gauges {
        nodes_stored,
        tokens: state.tokens.counts(state.clock.now()).await,
        dht,
    };
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        state.metrics.render(&gauges),
    )
        .into_response()
}
