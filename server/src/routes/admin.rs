//! The admin API: how an app's backend gets access tokens for its users' sessions, and how
//! tokens are listed and revoked. Credentials: an admin token (any realm, every token) or a
//! realm token of the realm in the path (its access tokens only); never an access token.
//!
//! - `POST /api/admin/realms/{realm}/tokens` `{scope, ttl}` -> `{token, id, realm, scope,
//!   expires, kid}`;
//! - `GET /api/admin/realms/{realm}/tokens` -> `{tokens: [{id, kind, scope, expires, created,
//!   signedBy, revoked}]}` (access tokens that expired are left out);
//! - `DELETE /api/admin/realms/{realm}/tokens/{id}` -> `{id, revoked: true}`, effective at the
//!   next request.

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Manager, TokenAdmin};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::tokens::{Kind, Scope, TokenInfo, MAX_TTL_SECS};

/// The body of a mint: both fields required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintRequest {
    /// `read` or `write`.
    scope: String,
    /// Lifetime in seconds, 1 to 30 days.
    ttl: Value,
}

/// Mints an access token of the realm.
pub async fn mint(
    admin: TokenAdmin,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<MintRequest>,
) -> Result<Json<Value>, ApiError> {
    let scope = Scope::parse(&request.scope).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_scope",
            format!(
                "scope must be \"read\" or \"write\", not {:?}",
                request.scope
            ),
        )
    })?;
    let ttl = request
        .ttl
        .as_u64()
        .filter(|ttl| (1..=MAX_TTL_SECS).contains(ttl))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_ttl",
                format!(
                    "ttl must be a whole number of seconds from 1 to {MAX_TTL_SECS}, not {}",
                    request.ttl
                ),
            )
            .with("limit", MAX_TTL_SECS)
        })?;
    let now = state.clock.now();
    let minted = state
        .tokens
        .mint(&admin.realm, scope, ttl, now)
        .await
        .map_err(|e| ApiError::internal(format!("cannot mint a token: {e}")))?;
    let token = &minted.token;
    Ok(Json(json!({
        "token": token.text(),
        "id": token.id(),
        "realm": token.realm(),
        "scope": token.scope().as_str(),
        "expires": token.expires(),
        "kid": token.kid(),
    })))
}

/// The realm's tokens.
pub async fn list(
    admin: TokenAdmin,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let now = state.clock.now();
    let tokens: Vec<Value> = state
        .tokens
        .list(Some(&admin.realm), now)
        .await
        .iter()
        .map(info_json)
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

/// Revokes a token of the realm: 404 `token_not_found` unless `id` names one of its tokens; a
/// realm token may be revoked with an admin token only (403 `insufficient_scope`).
pub async fn revoke(
    admin: TokenAdmin,
    Path((_, id)): Path<(String, String)>,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let info = state
        .tokens
        .find(&id)
        .await
        .filter(|info| info.realm.as_deref() == Some(admin.realm.as_str()))
        .ok_or_else(|| ApiError::token_not_found(&id))?;
    if info.kind == Kind::Realm && admin.manager != Manager::Admin {
        return Err(ApiError::insufficient_scope(
            "a realm token revokes access tokens only; revoking a realm token needs an admin token",
        ));
    }
    let revoked = state
        .tokens
        .revoke(&id)
        .await
        .map_err(|e| ApiError::internal(format!("cannot revoke: {e}")))?
        .ok_or_else(|| ApiError::internal("a token vanished from the token log"))?;
    Ok(Json(json!({ "id": revoked.id, "revoked": true })))
}

/// A token as the API lists it.
fn info_json(info: &TokenInfo) -> Value {
    json!({
        "id": info.id,
        "kind": info.kind.as_str(),
        "realm": info.realm,
        "scope": info.scope.map(Scope::as_str),
        "expires": info.expires,
        "created": info.created,
        "signedBy": info.signed_by,
        "revoked": info.revoked,
    })
}
