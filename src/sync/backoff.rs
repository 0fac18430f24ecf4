//! Retry delays: exponential backoff with jitter, so that many clients recovering from the same
//! outage do not retry in lockstep.

/// Backoff settings, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry (before jitter).
    pub base_ms: u32,
    /// Upper bound of any delay.
    pub max_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 500,
            max_ms: 60_000,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 for the first retry). `jitter` in `[0, 1)`
    /// (e.g. `Math.random()`) spreads it over `[d/2, d)` where `d = min(max, base * 2^attempt)`.
    pub fn delay_ms(&self, attempt: u32, jitter: f64) -> u32 {
        let exponential = u64::from(self.base_ms).saturating_mul(1u64 << attempt.min(32));
        let capped = exponential.min(u64::from(self.max_ms)) as f64;
        let jitter = jitter.clamp(0.0, 1.0);
        (capped * (0.5 + jitter / 2.0)).round() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps_with_jitter_in_range() {
        let backoff = Backoff {
            base_ms: 100,
            max_ms: 1000,
        };
        assert_eq!(backoff.delay_ms(0, 0.0), 50);
        assert_eq!(backoff.delay_ms(0, 1.0), 100);
        assert_eq!(backoff.delay_ms(1, 0.0), 100);
        assert_eq!(backoff.delay_ms(3, 1.0), 800);
        assert_eq!(backoff.delay_ms(4, 1.0), 1000);
        assert_eq!(backoff.delay_ms(200, 0.5), 750);
        for attempt in 0..40 {
            let d = backoff.delay_ms(attempt, 0.3);
            assert!((50..=1000).contains(&d), "attempt {attempt}: {d}");
        }
    }
}
