//! The time tokens are minted and checked against, behind a trait so tests can set it: the
//! system clock, or (testing only, the hidden `serve --test-clock-file PATH`) the Unix time
//! written in a file, read at every call, so a test moves the server's time to either side of
//! a token's expiry without waiting.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in seconds.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        unix_now()
    }
}

/// The current Unix time in seconds (0 if the system clock is before 1970).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// Testing only: the time is the decimal number in a file, reread at every call; the system
/// clock while the file is missing or does not hold a number.
#[derive(Debug, Clone)]
pub struct FileClock {
    pub path: PathBuf,
}

impl Clock for FileClock {
    fn now(&self) -> u64 {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or_else(unix_now)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (UTC), for people reading `token list`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Days to a civil date (H. Hinnant's algorithm, proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn a_file_clock_reads_its_file_each_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = FileClock {
            path: dir.path().join("now"),
        };
        assert!(clock.now() > 1_700_000_000, "system time without the file");
        std::fs::write(&clock.path, "1000\n").expect("write");
        assert_eq!(clock.now(), 1000);
        std::fs::write(&clock.path, "1001").expect("write");
        assert_eq!(clock.now(), 1001);
    }
}
