//! `POST /api/realm/{realm}/nodes/batch`: store many nodes in one request and one durable
//! transaction. Body: repeated `[u32 LE length][node bytes]`, children before parents (see
//! [`casweb::batch`]). Each node is checked like a single put; a node may rely on children
//! accepted earlier in the same batch. Answer: `{results: [{key, ok, stored} | {key, ok: false,
//! error, message, ...}]}`, one per frame in order.

use std::collections::HashSet;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use bytes::Bytes;
use casweb::Key;
use serde_json::{json, Value};

use super::{item_error, item_ok};
use crate::auth::RealmAccess;
use crate::error::ApiError;
use crate::extract::read_binary;
use crate::state::AppState;
use crate::store::{Status, Store, Write};
use crate::validate::check_node;
use casweb::batch::{self, FramingError};

/// A frame after the pure checks: its key and either (bytes, children) or why it was refused.
type Checked = (Key, Result<(Bytes, Vec<Key>), ApiError>);

/// What became of a frame: `Ok(stored)` or the refusal.
type Outcome = Result<bool, ApiError>;

pub async fn put_batch(
    access: RealmAccess,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let limits = state.limits;
    let body = read_binary(&headers, body, limits.max_batch_bytes, "the batch").await?;
    let frames = batch::parse(&body, limits.max_batch_nodes).map_err(|e| match e {
        FramingError::TooManyNodes { max } => {
            ApiError::bad_request("too_many_nodes", e.to_string()).with("limit", max)
        }
        other => ApiError::bad_request("invalid_batch", other.to_string()),
    })?;
    let checked: Vec<Checked> = frames
        .into_iter()
        .map(|frame| {
            let key = Key::for_bytes(frame);
            let result = check_node(None, frame, limits.max_node_size)
                .map(|children| (body.slice_ref(frame), children));
            (key, result)
        })
        .collect();
    let keys: Vec<Key> = checked.iter().map(|(key, _)| *key).collect();
    let realm = access.realm.clone();
    let (mut outcomes, writes) = state
        .read(move |store| Ok(plan(store, &realm, checked)))
        .await?;
    let (indices, writes): (Vec<usize>, Vec<Write>) = writes
        .into_iter()
        .map(|(index, key, bytes)| {
            let write = Write {
                realm: access.realm.clone(),
                key,
                bytes: Some(bytes),
            };
            (index, write)
        })
        .unzip();
    let sizes: Vec<u64> = writes
        .iter()
        .map(|w| w.bytes.as_ref().map_or(0, |b| b.len() as u64))
        .collect();
    let newly_owned = state.writer.write(writes).await?;
    let (nodes, bytes) = newly_owned
        .iter()
        .zip(&sizes)
        .filter(|(newly, _)| **newly)
        .fold((0, 0), |(n, b), (_, size)| (n + 1, b + size));
    state.metrics.uploaded(nodes, bytes);
    for (index, newly) in indices.into_iter().zip(newly_owned) {
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Ok(newly);
        }
    }
    let results: Vec<Value> = keys
        .into_iter()
        .zip(outcomes)
        .map(|(key, outcome)| match outcome {
            Ok(stored) => item_ok(key.to_string(), &[("stored", Value::from(stored))]),
            Err(error) => item_error(key.to_string(), &error),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// Decides, in order, which frames are accepted: a frame is refused if one of its children is
/// neither owned by the realm nor accepted earlier in this batch. Returns each frame's outcome
/// (accepted frames provisionally `Ok(false)`) and the writes for the accepted, not yet owned ones.
fn plan(
    store: &Store,
    realm: &str,
    checked: Vec<Checked>,
) -> (Vec<Outcome>, Vec<(usize, Key, Bytes)>) {
    let mut available: HashSet<Key> = HashSet::new();
    let mut writes = Vec::new();
    let outcomes = checked
        .into_iter()
        .enumerate()
        .map(|(index, (key, result))| {
            let (bytes, mut children) = result?;
            if available.contains(&key) || store.status(realm, &[key])? == [Status::Owned] {
                available.insert(key);
                return Ok(false);
            }
            children.retain(|child| !available.contains(child));
            let missing = store.not_owned(realm, &children)?;
            if !missing.is_empty() {
                return Err(ApiError::missing_nodes(&missing));
            }
            available.insert(key);
            writes.push((index, key, bytes));
            Ok(false)
        })
        .collect();
    (outcomes, writes)
}
