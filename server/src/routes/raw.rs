//! `GET` and `PUT /api/realm/{realm}/nodes/raw/{key}`: read an owned node, store one node.

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::RealmAccess;
use crate::error::ApiError;
use crate::extract::{read_binary, KeyParam};
use crate::state::AppState;
use crate::store::{Lookup, Status, Write};
use crate::validate::check_node;

/// 200 with the bytes if the realm owns the node; 404 `not_found`; 403 `not_owned`.
pub async fn get(
    access: RealmAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let realm = access.realm;
    match state.read(move |store| store.lookup(&realm, &key)).await? {
        Lookup::Missing => Err(ApiError::not_found(&key)),
        Lookup::NotOwned => Err(ApiError::not_owned(&key)),
        Lookup::Owned(bytes) => Ok((
            [
                (CONTENT_TYPE, "application/octet-stream"),
                // Immutable content, but readable only with the right token: private caches only.
                (CACHE_CONTROL, "private, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response()),
    }
}

/// Validates and stores a node, making the realm an owner: `{key, stored}` where `stored` is
/// false if the realm already owned it (nothing was written).
pub async fn put(
    access: RealmAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let max = state.limits.max_node_size;
    let bytes = read_binary(&headers, body, max, "the node").await?;
    let children = check_node(Some(&key), &bytes, max)?;
    let realm = access.realm.clone();
    let (owned, missing) = state
        .read(move |store| {
            if store.status(&realm, &[key])? == [Status::Owned] {
                return Ok((true, Vec::new()));
            }
            Ok((false, store.not_owned(&realm, &children)?))
        })
        .await?;
    if owned {
        return Ok(Json(json!({"key": key.to_string(), "stored": false})));
    }
    if !missing.is_empty() {
        return Err(ApiError::missing_nodes(&missing));
    }
    let size = bytes.len() as u64;
    let write = Write {
        realm: access.realm,
        key,
        bytes: Some(bytes),
    };
    let newly_owned = state.writer.write(vec![write]).await?;
    let stored = newly_owned.first().copied().unwrap_or(false);
    if stored {
        state.metrics.uploaded(1, size);
    }
    Ok(Json(json!({"key": key.to_string(), "stored": stored})))
}
