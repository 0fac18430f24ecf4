//! Structured logs: a `tracing` subscriber writing to stderr, as text or one JSON object per line
//! (`--log-format`), filtered by `RUST_LOG` (default: `info` for the server and casweb, `warn`
//! for dependencies). HTTP requests are logged at info by `routes`, DHT events at debug and
//! refused or capped provider records at warn (with the peer id) by the p2p node and the store.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// The filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "warn,casweb_server=info,casweb=info";

/// Installs the process-wide subscriber (once; later calls do nothing).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
