//! `ApiError`: every refusal the API gives, rendered as `{error: "<code>", message, ...details}`.
//!
//! Handlers return `Result<_, ApiError>`; the code is the stable, machine-readable part that
//! clients match on, the message is for people and may be reworded.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use crate::nodes::{HashCheck, Rejection};

/// An error answer: status, stable code, message and optional extra JSON fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Map<String, Value>,
}

impl ApiError {
    /// An error with the given status, code and message and no details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Map::new(),
        }
    }

    /// Adds a field next to `error` and `message` in the JSON body.
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> ApiError {
        self.details.insert(field.to_owned(), value.into());
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The extra fields (e.g. `missing` for `missing_nodes`).
    pub fn details(&self) -> &Map<String, Value> {
        &self.details
    }

    // --- The codes, one constructor each, so a code is spelled in one place. ---

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid_key(text: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::bad_request("invalid_key", format!("invalid key {text:?}: {why}"))
            .with("key", text)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn token_expired(expires: u64) -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            format!("the token expired at {expires} (Unix time): get a new one"),
        )
        .with("expires", expires)
    }

    pub fn token_revoked(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "token_revoked", message)
    }

    pub fn wrong_realm(realm: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_realm",
            format!("this token does not belong to realm {realm:?}"),
        )
    }

    /// A valid token that may not do this (a read token writing, an access token managing
    /// tokens, an admin token reading nodes).
    pub fn insufficient_scope(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "insufficient_scope", message)
    }

    pub fn invalid_realm(realm: &str) -> ApiError {
        ApiError::bad_request(
            "invalid_realm",
            format!("invalid realm name {realm:?}: 1 to 64 of A-Z a-z 0-9 _ -"),
        )
    }

    pub fn token_not_found(id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "token_not_found",
            format!("no token {id:?} in this realm"),
        )
        .with("id", id)
    }

    pub fn not_found(key: &casweb::Key) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("node {key} does not exist"),
        )
        .with("key", key.to_string())
    }

    pub fn not_owned(key: &casweb::Key) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "not_owned",
            format!("node {key} exists but this realm does not own it (put or claim it first)"),
        )
        .with("key", key.to_string())
    }

    pub fn invalid_pop(key: &casweb::Key) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_pop",
            format!("the proof of possession for node {key} is not valid"),
        )
        .with("key", key.to_string())
    }

    pub fn missing_nodes(missing: &[casweb::Key]) -> ApiError {
        let list: Vec<Value> = missing.iter().map(|k| Value::from(k.to_string())).collect();
        ApiError::new(
            StatusCode::CONFLICT,
            "missing_nodes",
            format!(
                "{} child node(s) are missing or not owned by this realm: put or claim them first",
                list.len()
            ),
        )
        .with("missing", list)
    }

    pub fn too_large(what: &str, limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("{what} is larger than the limit of {limit} bytes"),
        )
        .with("limit", limit)
    }

    pub fn unsupported_media_type(expected: &str, got: Option<&str>) -> ApiError {
        let got = got.unwrap_or("none");
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("expected Content-Type {expected}, got {got}"),
        )
    }

    pub fn unknown_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_route",
            format!("no API route for {method} {path}"),
        )
    }

    pub fn internal(what: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %what, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }

    /// The JSON body this error renders to.
    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), Value::from(self.code));
        body.insert("message".into(), Value::from(self.message.clone()));
        for (field, value) in &self.details {
            body.insert(field.clone(), value.clone());
        }
        Value::Object(body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

impl From<crate::nodes::StoreError> for ApiError {
    fn from(error: crate::nodes::StoreError) -> ApiError {
        ApiError::internal(format!("node store: {error}"))
    }
}

/// The HTTP edge of the store's rules: each refusal's status and code.
impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        match rejection {
            Rejection::TooLarge { limit } => ApiError::too_large("the node", limit),
            Rejection::HashMismatch {
                key,
                check,
                message,
            } => ApiError::bad_request("hash_mismatch", message)
                .with(
                    "reason",
                    match check {
                        HashCheck::SizeFlag => "size_flag",
                        HashCheck::Hash => "hash",
                    },
                )
                .with("key", key.to_string()),
            Rejection::InvalidNode(message) => ApiError::bad_request("invalid_node", message),
            Rejection::MissingChildren(missing) => ApiError::missing_nodes(&missing),
            Rejection::NotFound(key) => ApiError::not_found(&key),
            Rejection::NotOwned(key) => ApiError::not_owned(&key),
            Rejection::InvalidProof(key) => ApiError::invalid_pop(&key),
            Rejection::InvalidKey { text, reason } => ApiError::invalid_key(&text, reason),
        }
    }
}
