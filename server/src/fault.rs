//! Test-only fault injection: answer 503 `{"error":"injected_fault"}` to a fixed share of
//! `/api/realm/...` requests, so clients can test their retries against a real server.
//!
//! The choice is deterministic: request number n (counted from server start) fails when
//! `splitmix64(n) % 100 < percent`, so a test run sees the same sequence every time.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::error::ApiError;

/// Decides which requests fail.
#[derive(Debug, Default)]
pub struct FaultInjector {
    percent: u8,
    counter: AtomicU64,
}

impl FaultInjector {
    /// Fails `percent` (0 to 100) of the requests.
    pub fn new(percent: u8) -> FaultInjector {
        FaultInjector {
            percent: percent.min(100),
            counter: AtomicU64::new(0),
        }
    }

    /// Whether the next request should fail.
    pub fn next_fails(&self) -> bool {
        if self.percent == 0 {
            return false;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix64(n) % 100 < u64::from(self.percent)
    }
}

fn splitmix64(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Middleware: answers 503 instead of running the handler when the injector says so.
pub async fn inject(
    State(fault): State<Arc<FaultInjector>>,
    request: Request,
    next: Next,
) -> Response {
    if fault.next_fails() {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected_fault",
            "fault injected by --fault-503-percent",
        )
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_and_determinism() {
        let count = |percent| {
            let fault = FaultInjector::new(percent);
            (0..10_000).filter(|_| fault.next_fails()).count()
        };
        assert_eq!(count(0), 0);
        assert_eq!(count(100), 10_000);
        let thirty = count(30);
        assert!((2_700..3_300).contains(&thirty), "{thirty}");
        assert_eq!(count(30), thirty);
    }
}
