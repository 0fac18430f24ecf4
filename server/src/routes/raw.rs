//! `GET` and `PUT /api/realm/{realm}/nodes/raw/{key}`: read an owned node, store one node.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::{ReadAccess, WriteAccess};
use crate::error::ApiError;
use crate::extract::{read_binary, KeyParam};
use crate::nodes::rules::{self, Upload};
use crate::nodes::validate::check_node;
use crate::state::AppState;

/// 200 with the bytes if the realm owns the node; 404 `not_found`; 403 `not_owned`.
pub async fn get(
    ReadAccess(access): ReadAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let read = rules::read_nodes(state.store.as_ref(), &access.realm, &[key], u64::MAX).await?;
    let bytes = read
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("a read of one key gave no answer"))??;
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            // Immutable content, but readable only with the right token: private caches only.
            (CACHE_CONTROL, "private, max-age=31536000, immutable"),
        ],
        bytes,
    )
        .into_response())
}

/// Validates and stores a node, making the realm an owner: `{key, stored}` where `stored` is
/// false if the realm already owned it (nothing was written).
pub async fn put(
    WriteAccess(access): WriteAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let max = state.limits.max_node_size;
    let bytes = read_binary(&headers, body, max, "the node").await?;
    let children = check_node(Some(&key), &bytes, max)?;
    let upload = Upload {
        key,
        bytes,
        children,
    };
    let (outcomes, stored) =
        rules::store_nodes(state.store.as_ref(), &access.realm, vec![Ok(upload)]).await?;
    state.metrics.uploaded(stored.nodes, stored.bytes);
    let newly = outcomes
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("a put of one node gave no answer"))??;
    Ok(Json(json!({"key": key.to_string(), "stored": newly})))
}
