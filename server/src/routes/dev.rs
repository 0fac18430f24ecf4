//! `GET /api/dev`, a development-only extension registered only with `--dev`: a fresh
//! short-lived write access token of the demo realm at each call, so a page on localhost (the
//! demo, the Vite example) syncs, and renews its token, the way a production page gets one from
//! its app's backend, without any secret copied by hand.

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::Scope;

/// Realm created (or reused) by `--dev`.
pub const DEV_REALM: &str = "demo";

/// Default lifetime of the tokens `GET /api/dev` mints (`--dev-token-ttl`).
pub const DEFAULT_DEV_TOKEN_TTL: u64 = 15 * 60;

/// The route, with `--dev`; otherwise no route at all, so the path answers the usual 404
/// `unknown_route`.
pub fn routes(dev: bool) -> Router<AppState> {
    if !dev {
        return Router::new();
    }
    Router::new().route("/api/dev", get(dev_token))
}

/// `{realm, token, scope, expires, ttl}`: a write access token of realm `demo`.
async fn dev_token(State(state): State<AppState>) -> Result<Response, ApiError> {
    let ttl = state.dev_token_ttl.unwrap_or(DEFAULT_DEV_TOKEN_TTL);
    let now = state.clock.now();
    let minted = state
        .tokens
        .mint(DEV_REALM, Scope::Write, ttl, now)
        .await
        .map_err(|e| ApiError::internal(format!("cannot mint a token: {e}")))?;
    let body = json!({
        "realm": DEV_REALM,
        "token": minted.token.text(),
        "scope": "write",
        "expires": minted.token.expires(),
        "ttl": ttl,
    });
    Ok(([(CACHE_CONTROL, "no-store")], Json(body)).into_response())
}
