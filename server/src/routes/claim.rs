//! `POST .../nodes/{key}/claim` and `POST .../nodes/claim`: become an owner of a stored node by
//! proving possession of its bytes (see `casweb::pop`) instead of uploading them.
//!
//! Like a put, a claim keeps the invariant "a realm owns every child of every node it owns":
//! a node whose children the realm does not own (yet) is refused with `missing_nodes`. In a
//! claim-many request, items are taken in order, so a child claimed earlier counts.

use std::collections::HashSet;

use axum::extract::State;
use axum::Json;
use casweb::protocol::{ClaimManyRequest, ClaimRequest};
use casweb::{node, pop, Key};
use serde_json::{json, Value};

use super::{item_error, item_ok};
use crate::auth::RealmAccess;
use crate::error::ApiError;
use crate::extract::{JsonBody, KeyParam};
use crate::state::AppState;
use crate::store::{Status, Store, Write};
use crate::tokens::Token;

/// `{pop}` -> `{key, alreadyOwned}`; 404 `not_found`, 403 `invalid_pop`, 409 `missing_nodes`.
pub async fn claim_one(
    access: RealmAccess,
    KeyParam(key): KeyParam,
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ClaimRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut outcomes = claim_all(&state, access, vec![Ok((key, request.pop))]).await?;
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
    access: RealmAccess,
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
    let items = request
        .claims
        .into_iter()
        .map(|c| match Key::parse(&c.key) {
            Ok(key) => Ok((key, c.pop)),
            Err(e) => Err(ApiError::invalid_key(&c.key, e)),
        })
        .collect();
    let outcomes = claim_all(&state, access, items).await?;
    let results: Vec<Value> = texts
        .into_iter()
        .zip(outcomes)
        .map(|(key, outcome)| match outcome {
            Ok(already) => item_ok(key, &[("alreadyOwned", Value::from(already))]),
            Err(error) => item_error(key, &error),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// What one claim turned into after the checks: accepted (with whether it was owned already)
/// or refused.
type Outcome = Result<bool, ApiError>;

/// Checks every claim in order against one realm, commits the accepted ones in one durable
/// write, and returns per claim whether the realm already owned the node.
async fn claim_all(
    state: &AppState,
    access: RealmAccess,
    items: Vec<Result<(Key, String), ApiError>>,
) -> Result<Vec<Outcome>, ApiError> {
    let realm = access.realm.clone();
    let token = access.token;
    let (mut outcomes, writes) = state
        .read(move |store| Ok(check_claims(store, &realm, &token, items)))
        .await?;
    // `writes` holds the index of each accepted, not yet owned claim.
    let batch: Vec<Write> = writes
        .iter()
        .map(|&(_, key)| Write {
            realm: access.realm.clone(),
            key,
            bytes: None,
        })
        .collect();
    let newly_owned = state.writer.write(batch).await?;
    state
        .metrics
        .claims_accepted(newly_owned.iter().filter(|newly| **newly).count() as u64);
    for (&(index, _), newly) in writes.iter().zip(newly_owned) {
        if let Some(slot) = outcomes.get_mut(index) {
            *slot = Ok(!newly);
        }
    }
    Ok(outcomes)
}

fn check_claims(
    store: &Store,
    realm: &str,
    token: &Token,
    items: Vec<Result<(Key, String), ApiError>>,
) -> (Vec<Outcome>, Vec<(usize, Key)>) {
    let mut owned_here: HashSet<Key> = HashSet::new();
    let mut writes = Vec::new();
    let outcomes = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let (key, proof) = item?;
            let accepted = check_claim(store, realm, token, &key, &proof, &owned_here)?;
            owned_here.insert(key);
            if !accepted {
                writes.push((index, key));
            }
            Ok(accepted)
        })
        .collect();
    (outcomes, writes)
}

/// One claim: Ok(true) if already owned, Ok(false) if it must be written, Err if refused.
fn check_claim(
    store: &Store,
    realm: &str,
    token: &Token,
    key: &Key,
    proof: &str,
    owned_here: &HashSet<Key>,
) -> Result<bool, ApiError> {
    let bytes = store.bytes(key)?.ok_or_else(|| ApiError::not_found(key))?;
    if !pop::verify(token, &bytes, proof) {
        return Err(ApiError::invalid_pop(key));
    }
    if owned_here.contains(key) || store.status(realm, &[*key])? == [Status::Owned] {
        return Ok(true);
    }
    let mut children = node::child_keys(&bytes)
        .map_err(|e| ApiError::internal(format!("stored node {key} does not decode: {e}")))?;
    children.retain(|child| !owned_here.contains(child));
    children.sort_unstable();
    children.dedup();
    let missing = store.not_owned(realm, &children)?;
    if !missing.is_empty() {
        return Err(ApiError::missing_nodes(&missing));
    }
    Ok(false)
}
