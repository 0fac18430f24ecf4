//! CORS: which browser origins may call the API.
//!
//! Default: any `http://localhost[:port]`, `http://127.0.0.1[:port]` or `http://[::1][:port]`
//! origin (and the same with https), so a dev server on any port works. `--cors-origin` replaces
//! that with an exact list (`*` allows every origin). Requests may use every method the API
//! routes use ([`ALLOWED_METHODS`]) and send `Authorization` and `Content-Type`; preflights are
//! cached for 10 minutes.

use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Every method a route of the API answers (`DELETE` stops a server announcement), so a page can
/// call each of them (`server/tests/api.rs` preflights every one).
pub const ALLOWED_METHODS: [Method; 4] = [Method::GET, Method::PUT, Method::POST, Method::DELETE];

/// The CORS layer for the configured origins (empty: the localhost default).
pub fn layer(origins: &[String]) -> CorsLayer {
    let allow = if origins.is_empty() {
        AllowOrigin::predicate(|origin: &HeaderValue, _| origin.to_str().is_ok_and(is_local_origin))
    } else if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        let list: Vec<HeaderValue> = origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
            .collect();
        AllowOrigin::list(list)
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods(ALLOWED_METHODS)
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

/// True for a loopback origin: scheme http or https, host localhost / 127.0.0.1 / [::1],
/// optional numeric port, nothing else.
pub fn is_local_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let Some(port) = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .find_map(|host| rest.strip_prefix(host))
    else {
        return false;
    };
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_origins() {
        for ok in [
            "http://localhost",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "https://localhost:1",
            "http://[::1]:5173",
        ] {
            assert!(is_local_origin(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com",
            "http://localhost:80/path",
            "http://127.0.0.1:",
            "http://127.0.0.10:80",
            "http://example.com",
            "ftp://localhost",
            "http://localhost:123456",
            "null",
        ] {
            assert!(!is_local_origin(bad), "{bad}");
        }
    }
}
