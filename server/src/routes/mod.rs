//! The HTTP routes: assembles the API router, static files, CORS, fault injection and the
//! safety net that turns any non-JSON error response into the JSON error format.

mod admin;
mod batch;
mod check;
mod claim;
mod dev;
mod get;
mod info;
mod ops;
mod p2p;
mod raw;

pub use dev::{DEFAULT_DEV_TOKEN_TTL, DEV_REALM};

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::Value;
use tower_http::services::ServeDir;

use crate::cors;
use crate::error::ApiError;
use crate::fault;
use crate::keepalive;
use crate::request_log;
use crate::state::AppState;

/// The whole application: API under `/api`, static files from `www` (if any) everywhere else.
pub fn router(state: AppState, www: Option<&Path>, cors_origins: &[String]) -> Router {
    let realm_routes = Router::new()
        .route(
            "/api/realm/{realm}/nodes/raw/{key}",
            get(raw::get).put(raw::put),
        )
        .route("/api/realm/{realm}/nodes/check", post(check::check))
        .route("/api/realm/{realm}/nodes/claim", post(claim::claim_many))
        .route(
            "/api/realm/{realm}/nodes/{key}/claim",
            post(claim::claim_one),
        )
        .route("/api/realm/{realm}/nodes/batch", post(batch::put_batch))
        .route("/api/realm/{realm}/nodes/get", post(get::get_many))
        .route(
            "/api/realm/{realm}/nodes/{key}/provide",
            post(p2p::provide).delete(p2p::stop_providing),
        )
        .route_layer(from_fn_with_state(state.fault.clone(), fault::inject));
    let app = Router::new()
        .route("/api/info", get(info::info))
        .route("/api/p2p", get(p2p::info))
        .route("/api/p2p/providers/{key}", get(p2p::providers))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route(
            "/api/admin/realms/{realm}/tokens",
            post(admin::mint).get(admin::list),
        )
        .route(
            "/api/admin/realms/{realm}/tokens/{id}",
            delete(admin::revoke),
        )
        .merge(realm_routes)
        .merge(dev::routes(state.dev_token_ttl.is_some()))
        .route_layer(from_fn(request_log::remember_route));
    let app = match www {
        Some(dir) => app.fallback_service(
            ServeDir::new(dir)
                .append_index_html_on_directories(true)
                .not_found_service(axum::routing::any(unknown_route).with_state(())),
        ),
        None => app.fallback(unknown_route),
    };
    let metrics = state.metrics.clone();
    app.with_state(state)
        .layer(from_fn(json_errors))
        .layer(cors::layer(cors_origins))
        .layer(from_fn(keepalive::close_if_body_unread))
        .layer(from_fn_with_state(metrics, request_log::log_request))
}

async fn unknown_route(method: Method, uri: Uri) -> ApiError {
    ApiError::unknown_route(method.as_str(), uri.path())
}

/// Replaces any error response that is not JSON (axum's 405, a static file service's errors,
/// ...) with the JSON error format, keeping the status and the `Allow` header.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("unknown_route", "not found"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported Content-Type")
        }
        s if s.is_server_error() => ("internal", "internal server error"),
        _ => ("bad_request", "the request was refused"),
    };
    let allow = response.headers().get(ALLOW).cloned();
    let mut json = ApiError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(ALLOW, allow);
    }
    json
}

/// One entry of a per-item `results` list: `{key, ok: true, ...fields}` on success.
fn item_ok(key: String, fields: &[(&str, Value)]) -> Value {
    let mut item = serde_json::Map::new();
    item.insert("key".into(), Value::from(key));
    item.insert("ok".into(), Value::from(true));
    for (name, value) in fields {
        item.insert((*name).into(), value.clone());
    }
    Value::Object(item)
}

/// One failed entry: `{key, ok: false, error, message, ...details}`.
fn item_error(key: String, error: &ApiError) -> Value {
    let mut item = match error.body() {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    item.insert("key".into(), Value::from(key));
    item.insert("ok".into(), Value::from(false));
    Value::Object(item)
}
