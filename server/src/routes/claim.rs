//! `POST .../nodes/{key}/claim` and `POST .../nodes/claim`: become an owner of a stored node by
//! proving possession of its bytes (see `casweb::pop`) instead of uploading them.
//!
//! Like a put, a claim keeps the invariant "a realm owns every child of every node it owns":
//! a node whose children the realm does not own (yet) is refused with `missing_nodes`. In a
//! claim-many request, items are taken in order, so a child claimed earlier counts.

use axum::extract::State;
use axum::Json;
use casweb::protocol::{ClaimManyRequest, ClaimRequest};
use casweb::Key;
use serde_json::{json, Value};

use super::{item_error, item_ok};
use crate::auth::{RealmAccess, WriteAccess};
use crate::error::ApiError;
use crate::extract::{JsonBody, KeyParam};
use crate::nodes::rules::{self, Claim, Outcomes};
use crate::nodes::Rejection;
use crate::state::AppState;

/// `{pop}` -> `{key, alreadyOwned}`; 404 `not_found`, 403 `invalid_pop`, 409 `missing_nodes`.
pub async fn claim_one(
    WriteAccess(access): WriteAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClaimRequest>,
) -> Result<Json<Value>, ApiError> {
    let claim = Claim {
        key,
        proof: request.pop,
    };
    let mut outcomes = claim_all(&state, access, vec![Ok(claim)]).await?;
    let already_owned = outcomes
        .pop()
        .ok_or_else(|| ApiError::internal("claim produced no outcome"))??;
    Ok(Json(
        json!({"key": key.to_string(), "alreadyOwned": already_owned}),
    ))
}

/// `{claims: [{key, pop}]}` -> `{results: [{key, ok, alreadyOwned} | {key, ok: false, error,
/// message, ...}]}`, one per claim in order; 400 `too_many_claims` over `maxClaimBatch`.
pub async fn claim_many(
    WriteAccess(access): WriteAccess,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClaimManyRequest>,
) -> Result<Json<Value>, ApiError> {
    let max = state.limits.max_claim_batch;
    if request.claims.len() > max {
        return Err(ApiError::bad_request(
            "too_many_claims",
            format!("{} claims, at most {max} per request", request.claims.len()),
        )
        .with("limit", max));
    }
    let texts: Vec<String> = request.claims.iter().map(|c| c.key.clone()).collect();
    let claims = request
        .claims
        .into_iter()
        .map(|c| match Key::parse(&c.key) {
            Ok(key) => Ok(Claim { key, proof: c.pop }),
            Err(e) => Err(Rejection::InvalidKey {
                text: c.key,
                reason: e.to_string(),
            }),
        })
        .collect();
    let outcomes = claim_all(&state, access, claims).await?;
    let results: Vec<Value> = texts
        .into_iter()
        .zip(outcomes)
        .map(|(key, outcome)| match outcome {
            Ok(already) => item_ok(key, &[("alreadyOwned", Value::from(already))]),
            Err(rejection) => item_error(key, &rejection.into()),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// Checks every claim in order against one realm and commits the accepted ones in one durable
/// write; per claim, whether the realm already owned the node.
async fn claim_all(
    state: &AppState,
    access: RealmAccess,
    claims: Vec<Result<Claim, Rejection>>,
) -> Result<Outcomes<bool>, ApiError> {
    let (outcomes, accepted) =
        rules::claim_nodes(state.store.as_ref(), &access.realm, &access.pop_key, claims).await?;
    state.metrics.claims_accepted(accepted);
    Ok(outcomes)
}
