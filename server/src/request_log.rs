//! One log line per HTTP request, at info, and its count and latency in the metrics: method,
//! route (the matched template, such as `/api/realm/{realm}/nodes/check`, so realms and keys
//! end up neither in logs nor as metric labels), status and duration. `remember_route` runs inside the router, where the matched route is known, and
//! hands it to `log_request`, which runs outside (around CORS, errors and static files too).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::metrics::Metrics;

/// Copies the matched route into the response, for [`log_request`].
pub async fn remember_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Logs and counts the request once its response is ready.
pub async fn log_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("(unmatched)", MatchedPath::as_str);
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    metrics.observe_request(method.as_str(), route, status, seconds);
    tracing::info!(
        method = %method,
        route,
        status,
        duration_ms = seconds * 1000.0,
        "request"
    );
    response
}
