//! `POST /api/realm/{realm}/nodes/check`: sort keys into missing, unowned and owned.

use axum::extract::State;
use axum::Json;
use casweb::protocol::{CheckRequest, CheckResult};
use casweb::Key;

use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::nodes::Status;
use crate::state::AppState;

/// `{keys}` -> `{missing, unowned, owned}`; each key once, in request order. 400 `too_many_keys`
/// over `maxCheckKeys`, 400 `invalid_key` for the first malformed key.
pub async fn check(
    ReadAccess(access): ReadAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Result<Json<CheckResult>, ApiError> {
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
    let status = state.store.status(&access.realm, &keys).await?;
    let mut result = CheckResult::default();
    for (key, status) in keys.into_iter().zip(status) {
        let list = match status {
            Status::Missing => &mut result.missing,
            Status::Unowned => &mut result.unowned,
            Status::Owned => &mut result.owned,
        };
        list.push(key);
    }
    Ok(Json(result))
}
