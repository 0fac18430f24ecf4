//! The libp2p node over HTTP: `GET /api/p2p` (peer id and addresses a browser bootstraps from),
//! `GET /api/p2p/providers/{key}` (a DHT lookup for HTTP-only clients), and
//! `POST`/`DELETE /api/realm/{realm}/nodes/{key}/provide` (the server announces, or stops
//! announcing, that it holds a node the realm owns).

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::WriteAccess;
use crate::error::ApiError;
use crate::extract::KeyParam;
use crate::nodes::rules;
use crate::p2p::{P2pError, P2pHandle};
use crate::state::AppState;

/// Most providers one lookup may ask for.
pub const MAX_PROVIDER_LIMIT: usize = 100;
/// Longest lookup one request may ask for.
pub const MAX_LOOKUP_MS: u64 = 60_000;
const DEFAULT_LOOKUP_MS: u64 = 10_000;
const DEFAULT_PROVIDER_LIMIT: usize = 20;

/// `{peerId, addrs, protocol}`; 404 `p2p_disabled` when the server runs with `--no-p2p`.
pub async fn info(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let p2p = node(&state)?;
    Ok(Json(json!(p2p.info())))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LookupQuery {
    limit: Option<String>,
    timeout_ms: Option<String>,
}

/// `?limit=N&timeoutMs=T` -> `{key, providers: [{peerId, addrs}]}` (possibly empty).
pub async fn providers(
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
    Query(query): Query<LookupQuery>,
) -> Result<Json<Value>, ApiError> {
    let p2p = node(&state)?;
    let limit = bounded(
        query.limit.as_deref(),
        "limit",
        DEFAULT_PROVIDER_LIMIT as u64,
        1,
        MAX_PROVIDER_LIMIT as u64,
    )?;
    let timeout = bounded(
        query.timeout_ms.as_deref(),
        "timeoutMs",
        DEFAULT_LOOKUP_MS,
        1,
        MAX_LOOKUP_MS,
    )?;
    let providers = p2p
        .get_providers(&key, limit as usize, Duration::from_millis(timeout))
        .await
        .map_err(p2p_error)?;
    Ok(Json(
        json!({"key": key.to_string(), "providers": providers}),
    ))
}

/// The server announces a node the realm owns: `{key, providing: true}` once the record reached
/// the closest peers; 404 `not_found` / 403 `not_owned` as for reads.
pub async fn provide(
    WriteAccess(access): WriteAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let p2p = node(&state)?.clone();
    rules::require_owned(state.store.as_ref(), &access.realm, key).await??;
    p2p.provide(&key).await.map_err(p2p_error)?;
    Ok(Json(json!({"key": key.to_string(), "providing": true})))
}

/// Stops announcing: `{key, providing: false}` (records already stored elsewhere expire).
pub async fn stop_providing(
    _access: WriteAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    node(&state)?
        .stop_providing(&key)
        .await
        .map_err(p2p_error)?;
    Ok(Json(json!({"key": key.to_string(), "providing": false})))
}

fn node(state: &AppState) -> Result<&P2pHandle, ApiError> {
    state.p2p.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "p2p_disabled",
            "this server runs without its libp2p node (--no-p2p)",
        )
    })
}

fn p2p_error(error: P2pError) -> ApiError {
    let status = match error {
        P2pError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        P2pError::Store(_) => StatusCode::INSUFFICIENT_STORAGE,
        P2pError::Stopped | P2pError::Start(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    ApiError::new(status, error.code(), error.to_string())
}

/// Parses an optional whole-number query parameter within `min..=max`.
fn bounded(
    text: Option<&str>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<u64, ApiError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match text.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(ApiError::bad_request(
            "invalid_parameter",
            format!("{name} must be a whole number from {min} to {max}, not {text:?}"),
        )
        .with("parameter", name)),
    }
}
