//! Request extractors whose every rejection is an [`ApiError`] (JSON), never axum's plain text:
//! the `{key}` path parameter, JSON bodies and binary bodies with size limits.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use casweb::Key;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// The `{key}` path parameter, parsed: 400 `invalid_key` if it is not a canonical key.
#[derive(Debug, Clone, Copy)]
pub struct KeyParam(pub Key);

impl<S: Send + Sync> FromRequestParts<S> for KeyParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<KeyParam, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid_key("(path)", e.body_text()))?;
        let text = params
            .iter()
            .find_map(|(name, value)| (name == "key").then_some(value))
            .ok_or_else(|| ApiError::internal("route without a {key} parameter"))?;
        Key::parse(text)
            .map(KeyParam)
            .map_err(|e| ApiError::invalid_key(text, e))
    }
}

/// A JSON body deserialized into `T`. Rejections: 415 `unsupported_media_type` (Content-Type
/// is not `application/json`), 413 `too_large`, 400 `missing_body`, 400 `invalid_json`
/// (syntax), 400 `invalid_request` (valid JSON of the wrong shape).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<JsonBody<T>, ApiError> {
        let (parts, body) = request.into_parts();
        let content_type = media_type(&parts.headers);
        if content_type.as_deref() != Some("application/json") {
            return Err(ApiError::unsupported_media_type(
                "application/json",
                content_type.as_deref(),
            ));
        }
        let bytes = read_body(
            &parts.headers,
            body,
            state.limits.max_json_bytes,
            "the JSON body",
        )
        .await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "missing_body",
                "the request needs a JSON body",
            ));
        }
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            let code = match e.classify() {
                serde_json::error::Category::Data => "invalid_request",
                _ => "invalid_json",
            };
            ApiError::bad_request(code, format!("bad JSON body: {e}"))
        })
    }
}

/// Reads a binary body of at most `limit` bytes. The Content-Type must be absent or
/// `application/octet-stream` (415 otherwise); a declared Content-Length over the limit is
/// refused before reading anything, and reading stops as soon as the limit is passed (413).
pub async fn read_binary(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    what: &str,
) -> Result<Bytes, ApiError> {
    let content_type = media_type(headers);
    if let Some(other) = content_type
        .as_deref()
        .filter(|t| *t != "application/octet-stream")
    {
        return Err(ApiError::unsupported_media_type(
            "application/octet-stream",
            Some(other),
        ));
    }
    read_body(headers, body, limit, what).await
}

async fn read_body(
    headers: &HeaderMap,
    mut body: Body,
    limit: u64,
    what: &str,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::too_large(what, limit));
    }
    let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0).min(limit) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "body_read_failed",
                format!("could not read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if (buffer.len() + data.len()) as u64 > limit {
                return Err(ApiError::too_large(what, limit));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// The media type of the Content-Type header, lower-cased, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text.split(';').next().unwrap_or_default().trim();
    Some(essence.to_ascii_lowercase())
}
