//! `GET /api/dev`, a development-only extension registered only with `--dev`: the demo realm
//! and its token, so a page on localhost (the demo, the Vite example) can sync without the
//! token being copied by hand from the server's output.

use axum::http::header::CACHE_CONTROL;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::state::AppState;

/// Realm created (or reused) by `--dev`.
pub const DEV_REALM: &str = "demo";

/// The route, when `dev_token` (the encoded token of realm `demo`) is set; otherwise no route
/// at all, so the path answers the usual 404 `unknown_route`.
pub fn routes(dev_token: Option<&str>) -> Router<AppState> {
    let Some(token) = dev_token else {
        return Router::new();
    };
    let body = json!({ "realm": DEV_REALM, "token": token });
    Router::new().route(
        "/api/dev",
        get(move || {
            let body = body.clone();
            async move { ([(CACHE_CONTROL, "no-store")], Json(body)).into_response() }
        }),
    )
}
