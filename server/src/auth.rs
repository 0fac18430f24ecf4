//! Admission: the extractors that check a request's `Authorization: Bearer` credential before
//! anything else about it (so an unauthorised caller learns nothing, not even whether a key is
//! well-formed or a node exists), in this order:
//!
//! 1. the header and the credential's text (`casweb::protocol::Credential::parse`): 401
//!    `unauthorized`;
//! 2. the token itself ([`crate::tokens`]): unknown or forged 401 `unauthorized`, revoked 401
//!    `token_revoked`, expired 401 `token_expired`;
//! 3. the realm in the path: a token of another realm 403 `wrong_realm`;
//! 4. the scope the route needs: 403 `insufficient_scope`.
//!
//! Realm routes take [`ReadAccess`] (get, get many, check) or [`WriteAccess`] (put, batch,
//! claim, provide); the admin API takes [`TokenAdmin`].

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{is_valid_realm, Credential, Principal, Refusal, Scope};

/// A request admitted to the realm named in its path.
#[derive(Debug, Clone)]
pub struct RealmAccess {
    pub realm: String,
    /// What the token may do (`write` for a realm token).
    pub scope: Scope,
    /// The key the request's proofs of possession are checked with (its own token's).
    pub pop_key: [u8; 32],
}

/// Admitted to read the realm in the path: get, get many, check.
#[derive(Debug, Clone)]
pub struct ReadAccess(pub RealmAccess);

/// Admitted to write the realm in the path: put, batch, claim, provide.
#[derive(Debug, Clone)]
pub struct WriteAccess(pub RealmAccess);

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        admit(parts, state, Scope::Read).await.map(ReadAccess)
    }
}

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        admit(parts, state, Scope::Write).await.map(WriteAccess)
    }
}

async fn admit(
    parts: &mut Parts,
    state: &AppState,
    needed: Scope,
) -> Result<RealmAccess, ApiError> {
    let (credential, principal) = authenticate(parts, state).await?;
    let (realm, scope) =
        match principal {
            Principal::Realm { realm, .. } => (realm, Scope::Write),
            Principal::Access { realm, scope, .. } => (realm, scope),
            Principal::Admin { .. } => return Err(ApiError::insufficient_scope(
                "an admin token manages tokens (the admin API); it does not read or write nodes",
            )),
        };
    let wanted = path_realm(parts, state).await?;
    if wanted != realm {
        return Err(ApiError::wrong_realm(&wanted));
    }
    if !scope.allows(needed) {
        return Err(ApiError::insufficient_scope(format!(
            "this token's scope is {scope}; this route needs {needed}"
        )));
    }
    Ok(RealmAccess {
        realm,
        scope,
        pop_key: credential.pop_key(),
    })
}

/// Who manages the tokens of the realm in the path of an admin API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// An admin token: any realm, every token of it.
    Admin,
    /// A realm token of that realm (an app's backend): its access tokens only.
    RealmToken,
}

/// Admitted to the admin API for the realm in the path (`/api/admin/realms/{realm}/...`): an
/// admin token, or a realm token of that realm. An access token is 403 `insufficient_scope`
/// (a page cannot mint itself more tokens); an invalid realm name 400 `invalid_realm`.
#[derive(Debug, Clone)]
pub struct TokenAdmin {
    pub realm: String,
    pub manager: Manager,
}

impl FromRequestParts<AppState> for TokenAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (_, principal) = authenticate(parts, state).await?;
        let wanted = path_realm(parts, state).await?;
        let manager =
            match principal {
                Principal::Admin { .. } => Manager::Admin,
                Principal::Realm { realm, .. } if realm == wanted => Manager::RealmToken,
                Principal::Realm { .. } => return Err(ApiError::wrong_realm(&wanted)),
                Principal::Access { .. } => return Err(ApiError::insufficient_scope(
                    "an access token cannot manage tokens: use an admin token or the realm's token",
                )),
            };
        if !is_valid_realm(&wanted) {
            return Err(ApiError::invalid_realm(&wanted));
        }
        Ok(TokenAdmin {
            realm: wanted,
            manager,
        })
    }
}

/// The credential of the request and who it is, or the 401 that refuses it.
async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<(Credential, Principal), ApiError> {
    let credential = bearer(parts)?;
    let principal = state
        .tokens
        .authenticate(&credential, state.clock.now())
        .await
        .map_err(|refusal| match refusal {
            Refusal::Unknown(why) => ApiError::unauthorized(why),
            Refusal::Revoked(why) => ApiError::token_revoked(why),
            Refusal::Expired { expires } => ApiError::token_expired(expires),
        })?;
    Ok((credential, principal))
}

/// The `{realm}` path parameter, as given.
async fn path_realm(parts: &mut Parts, state: &AppState) -> Result<String, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
    params
        .iter()
        .find_map(|(name, value)| (name == "realm").then(|| value.to_owned()))
        .ok_or_else(|| ApiError::internal("route without a {realm} parameter"))
}

fn bearer(parts: &Parts) -> Result<Credential, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))?;
    let text = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("Authorization header is not ASCII"))?;
    let (scheme, credentials) = text
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized(
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Credential::parse(credentials.trim()).map_err(|e| ApiError::unauthorized(e.to_string()))
}
