//! `POST /api/realm/{realm}/nodes/get`: read many nodes in one request. Body `{keys}` (at most
//! `maxGetKeys`); answer `application/octet-stream` in the framing of
//! [`casweb::protocol::get_answer`]: per key in order, the node, or a status frame for
//! `not_found` / `not_owned`. The answer stops before `maxGetBytes` (at least one key is
//! answered); the client asks again for the keys after the last answered one.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use casweb::protocol::get_answer::{self, GetItem};
use casweb::protocol::GetRequest;
use casweb::Key;

use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::nodes::{rules, Rejection};
use crate::state::AppState;

/// 400 `too_many_keys` over `maxGetKeys`, 400 `invalid_key` for the first malformed key.
pub async fn get_many(
    ReadAccess(access): ReadAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<GetRequest>,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    if request.keys.len() > limits.max_get_keys {
        return Err(ApiError::bad_request(
            "too_many_keys",
            format!(
                "{} keys, at most {} per get",
                request.keys.len(),
                limits.max_get_keys
            ),
        )
        .with("limit", limits.max_get_keys));
    }
    let keys = request
        .keys
        .iter()
        .map(|text| Key::parse(text).map_err(|e| ApiError::invalid_key(text, e)))
        .collect::<Result<Vec<Key>, ApiError>>()?;
    let read = rules::read_nodes(
        state.store.as_ref(),
        &access.realm,
        &keys,
        limits.max_get_bytes,
    )
    .await?;
    let items: Vec<GetItem> = read
        .into_iter()
        .map(|outcome| match outcome {
            Ok(bytes) => Ok(GetItem::Node(bytes)),
            Err(Rejection::NotFound(_)) => Ok(GetItem::NotFound),
            Err(Rejection::NotOwned(_)) => Ok(GetItem::NotOwned),
            Err(other) => Err(ApiError::from(other)),
        })
        .collect::<Result<_, _>>()?;
    state.metrics.served(
        items
            .iter()
            .filter(|i| matches!(i, GetItem::Node(_)))
            .count() as u64,
    );
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream"),
            (CACHE_CONTROL, "no-store"),
        ],
        get_answer::encode(&items),
    )
        .into_response())
}
