//! `POST /api/realm/{realm}/nodes/batch`: store many nodes in one request and one durable
//! write. Body: repeated `[u32 LE length][node bytes]`, children before parents (see
//! [`casweb::batch`]). Each node is checked like a single put; a node may rely on children
//! accepted earlier in the same batch. Answer: `{results: [{key, ok, stored} | {key, ok: false,
//! error, message, ...}]}`, one per frame in order.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use casweb::batch::{self, FramingError};
use casweb::Key;
use serde_json::{json, Value};

use super::{item_error, item_ok};
use crate::auth::WriteAccess;
use crate::error::ApiError;
use crate::extract::read_binary;
use crate::nodes::rules::{self, Upload};
use crate::nodes::validate::check_node;
use crate::state::AppState;

pub async fn put_batch(
    WriteAccess(access): WriteAccess,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let limits = state.limits;
    let body = read_binary(&headers, body, limits.max_batch_bytes, "the batch").await?;
    let frames = batch::parse(&body, limits.max_batch_nodes).map_err(framing_error)?;
    let (keys, uploads): (Vec<Key>, Vec<_>) = frames
        .into_iter()
        .map(|frame| {
            let key = Key::for_bytes(frame);
            let upload = check_node(None, frame, limits.max_node_size).map(|children| Upload {
                key,
                bytes: body.slice_ref(frame),
                children,
            });
            (key, upload)
        })
        .unzip();
    let (outcomes, stored) =
        rules::store_nodes(state.store.as_ref(), &access.realm, uploads).await?;
    state.metrics.uploaded(stored.nodes, stored.bytes);
    let results: Vec<Value> = keys
        .into_iter()
        .zip(outcomes)
        .map(|(key, outcome)| match outcome {
            Ok(stored) => item_ok(key.to_string(), &[("stored", Value::from(stored))]),
            Err(rejection) => item_error(key.to_string(), &rejection.into()),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// 400 `too_many_nodes` over `maxBatchNodes`, 400 `invalid_batch` for broken framing.
pub(super) fn framing_error(error: FramingError) -> ApiError {
    match error {
        FramingError::TooManyNodes { max } => {
            ApiError::bad_request("too_many_nodes", error.to_string()).with("limit", max)
        }
        other => ApiError::bad_request("invalid_batch", other.to_string()),
    }
}
