//! `GET /api/info`: server version, protocol version and limits (no authentication).

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use casweb::protocol::PROTOCOL_VERSION;

use crate::state::AppState;

pub async fn info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "protocol": PROTOCOL_VERSION,
        "limits": state.limits,
    }))
}
