//! Admission to a realm: the extractor that checks a request's `Authorization: Bearer` token
//! against the token store and the realm named in its path.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tokens::{decode_token, Token};

/// A request admitted to the realm named in its path: the bearer token is valid and belongs to
/// that realm. Checked before anything else about the request, so an unauthorised caller learns
/// nothing about nodes.
#[derive(Debug, Clone)]
pub struct RealmAccess {
    pub realm: String,
    pub token: Token,
}

impl FromRequestParts<AppState> for RealmAccess {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<RealmAccess, ApiError> {
        let token = bearer_token(parts)?;
        let realm = state
            .tokens
            .realm_of(&token)
            .ok_or_else(|| ApiError::unauthorized("unknown token"))?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
        let wanted = params
            .iter()
            .find_map(|(name, value)| (name == "realm").then_some(value))
            .ok_or_else(|| ApiError::internal("route without a {realm} parameter"))?;
        if wanted != realm {
            return Err(ApiError::wrong_realm(wanted));
        }
        Ok(RealmAccess { realm, token })
    }
}

fn bearer_token(parts: &Parts) -> Result<Token, ApiError> {
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
    decode_token(credentials.trim())
        .ok_or_else(|| ApiError::unauthorized("the token is not base64 of 32 bytes"))
}
