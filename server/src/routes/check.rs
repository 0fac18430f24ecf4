//! `POST /api/realm/{realm}/nodes/check`: sort keys into missing, unowned and owned.

use axum::extract::State;
use axum::Json;
use casweb::Key;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::RealmAccess;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::store::Status;

#[derive(Debug, Deserialize)]
pub struct CheckRequest {
    keys: Vec<String>,
}

/// `{keys}` -> `{missing, unowned, owned}`; each key once, in request order. 400 `too_many_keys`
/// over `maxCheckKeys`, 400 `invalid_key` for the first malformed key.
pub async fn check(
    access: RealmAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Result<Json<Value>, ApiError> {
    let max = state.limits.max_check_keys;
    if request.keys.len() > max {
        return Err(ApiError::bad_request(
            "too_many_keys",
            format!("{} keys, at most {max} per check", request.keys.len()),
        )
        .with("limit", max));
    }
    let mut keys: Vec<Key> = Vec::with_capacity(request.keys.len());
    let mut seen = std::collections::HashSet::with_capacity(request.keys.len());
    for text in &request.keys {
        let key = Key::parse(text).map_err(|e| ApiError::invalid_key(text, e))?;
        if seen.insert(key) {
            keys.push(key);
        }
    }
    let realm = access.realm;
    let lookup = keys.clone();
    let status = state
        .read(move |store| store.status(&realm, &lookup))
        .await?;
    let (mut missing, mut unowned, mut owned) = (Vec::new(), Vec::new(), Vec::new());
    for (key, status) in keys.iter().zip(status) {
        let list = match status {
            Status::Missing => &mut missing,
            Status::Unowned => &mut unowned,
            Status::Owned => &mut owned,
        };
        list.push(key.to_string());
    }
    Ok(Json(
        json!({"missing": missing, "unowned": unowned, "owned": owned}),
    ))
}
