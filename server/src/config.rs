//! Command line and configuration: the `serve`, `token` and `p2p` subcommands and the limits
//! the server advertises at `GET /api/info`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use libp2p::Multiaddr;

use crate::logging::LogFormat;
use crate::p2p::P2pConfig;
pub use casweb::protocol::{Limits, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_NODE_SIZE};

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./casweb-data";
/// Largest node size the server can be configured for (the node format's size field is 32 bits,
/// and a whole node is held in memory).
pub const MAX_MAX_NODE_SIZE: u64 = 1 << 30;

/// The casweb reference server.
#[derive(Debug, Parser)]
#[command(name = "casweb-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as `text` or `json` (one object per line), on stderr; `RUST_LOG` filters them
    /// (default: info for the server, warn for its dependencies).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (and optionally static files).
    Serve(ServeArgs),
    /// Manage tokens: realm tokens, access tokens, admin tokens (works while a server runs on the
    /// same data directory: it sees the change at its next request).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run only the libp2p node (DHT and relay), without the HTTP API: extra DHT nodes for tests,
    /// benchmarks or a larger local network.
    P2p(P2pOnlyArgs),
}

/// Flags of the libp2p node, shared by `serve` and `p2p`.
#[derive(Debug, Clone, Args)]
pub struct P2pArgs {
    /// IP address the libp2p transports listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub p2p_ip: IpAddr,
    /// TCP port for native libp2p peers (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub p2p_tcp_port: u16,
    /// TCP port of the libp2p WebSocket listener for browsers (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub p2p_ws_port: u16,
    /// UDP port of the libp2p WebRTC-direct listener for browsers (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub p2p_webrtc_port: u16,
    /// Join the DHT through this node: a multiaddr ending in /p2p/<peer id> (repeatable).
    #[arg(long = "bootstrap")]
    pub bootstrap: Vec<Multiaddr>,
    /// Seconds a provider record received from a peer is kept (peers re-announce before).
    #[arg(long, default_value_t = 48 * 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub provider_ttl_secs: u64,
    /// Address to announce besides the listen addresses, e.g. behind a port mapping (repeatable).
    #[arg(long = "external-address")]
    pub external_addresses: Vec<Multiaddr>,
}

impl P2pArgs {
    /// The node configuration these flags ask for.
    pub fn config(&self) -> P2pConfig {
        P2pConfig {
            listen_ip: self.p2p_ip,
            tcp_port: self.p2p_tcp_port,
            ws_port: self.p2p_ws_port,
            webrtc_port: self.p2p_webrtc_port,
            bootstrap: self.bootstrap.clone(),
            provider_ttl: Duration::from_secs(self.provider_ttl_secs),
            external_addresses: self.external_addresses.clone(),
            served_nodes: None,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct P2pOnlyArgs {
    /// Directory keeping the node's identity (peer id and WebRTC certificate); without it the
    /// node gets a new identity at every start.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub p2p: P2pArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it: a realm token (`--realm R`: base64 of 32 random bytes, the
    /// backend's credential and the realm's signing key), an access token (`--realm R --scope
    /// read|write [--ttl 1h]`), or an admin token (`--admin`).
    Create {
        /// The realm the token gives access to: 1 to 64 of A-Z a-z 0-9 _ -.
        #[arg(long, required_unless_present = "admin", conflicts_with = "admin")]
        realm: Option<String>,
        /// Make an access token of this scope (`read` or `write`) instead of a realm token.
        #[arg(long, value_parser = ["read", "write"])]
        scope: Option<String>,
        /// The access token's lifetime: seconds, or a number with s, m, h or d (at most 30d).
        #[arg(long, requires = "scope", default_value = "1h", value_parser = parse_ttl)]
        ttl: u64,
        /// Make an admin token (the admin API's credential, for every realm).
        #[arg(long)]
        admin: bool,
        /// Directory holding the database and the token file.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List tokens (ids, never secrets): realm and admin tokens, and the access tokens minted
    /// here that have not expired.
    List {
        /// Only this realm's tokens.
        #[arg(long)]
        realm: Option<String>,
        /// Directory holding the database and the token file.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by id (as listed); a revoked realm token takes the access tokens it signed
    /// with it. A running server refuses it from its next request on.
    Revoke {
        /// The token's id: 16 hex digits.
        id: String,
        /// Directory holding the database and the token file.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// A lifetime: `90`, `90s`, `15m`, `2h`, `7d`; 1 s to 30 days.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: use seconds, or a number with s, m, h or d"
            ))
        }
    };
    let max = casweb::protocol::MAX_TTL_SECS;
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|secs| (1..=max).contains(secs))
        .ok_or_else(|| format!("{text:?}: the lifetime must be 1 s to {} d", max / 86_400))
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory holding the database and the token file (created if absent).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Serve the static files of this directory at `/` (e.g. the demo page and its `pkg/`).
    #[arg(long)]
    pub www: Option<PathBuf>,
    /// Allowed CORS origin (repeatable; `*` allows any). Default: any http or https origin on
    /// localhost, 127.0.0.1 or [::1], any port.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Development mode: create (or reuse) realm `demo`, print its realm token, and serve
    /// `GET /api/dev`, which mints a short-lived write access token of it for any page.
    #[arg(long)]
    pub dev: bool,
    /// With `--dev`: lifetime in seconds of the tokens `GET /api/dev` mints.
    #[arg(long, default_value_t = crate::routes::DEFAULT_DEV_TOKEN_TTL,
          value_parser = clap::value_parser!(u64).range(1..=casweb::protocol::MAX_TTL_SECS))]
    pub dev_token_ttl: u64,
    /// Testing only (hidden): read the time tokens are minted and checked against from this
    /// file (a Unix time in seconds, reread at every use) instead of the system clock.
    #[arg(long, hide = true)]
    pub test_clock_file: Option<PathBuf>,
    /// Largest node accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_NODE_SIZE,
          value_parser = clap::value_parser!(u64).range(16..=MAX_MAX_NODE_SIZE))]
    pub max_node_size: u64,
    /// Largest batch body accepted, in bytes (raised to fit at least one maximal node).
    #[arg(long, default_value_t = DEFAULT_MAX_BATCH_BYTES)]
    pub max_batch_bytes: u64,
    /// Testing only: answer 503 {"error":"injected_fault"} to this percentage of /api/realm
    /// requests (deterministic pseudo-random sequence).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub fault_503_percent: u8,
    /// Do not run the libp2p node (no DHT, no relay; `/api/p2p` answers 404 p2p_disabled).
    #[arg(long)]
    pub no_p2p: bool,
    /// Answer peers' block requests (/casweb/block/1.0.0) with the nodes stored here. Off by
    /// default: HTTP reads are per realm, but any peer that knows a key could then read its node
    /// whatever realm owns it.
    #[arg(long, conflicts_with = "no_p2p")]
    pub serve_blocks: bool,
    #[command(flatten)]
    pub p2p: P2pArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where nodes, ownership and tokens are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// redb and the token file in the data directory (one process).
    Redb,
    /// PostgreSQL for ownership and tokens, an S3-compatible object store for node bytes (any
    /// number of replicas).
    #[value(name = "postgres+s3")]
    PostgresS3,
}

/// The backend flags, shared by `serve` and the `token` commands (each also read from the
/// environment variable named, so secrets need not be on the command line).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// The backend: `redb` (embedded, the default) or `postgres+s3`.
    #[arg(long, value_enum, env = "CASWEB_STORE", default_value_t = StoreKind::Redb)]
    pub store: StoreKind,
    /// postgres+s3: the PostgreSQL connection URL, e.g. postgres://user:password@host/db.
    #[arg(
        long,
        env = "CASWEB_POSTGRES_URL",
        hide_env_values = true,
        required_if_eq("store", "postgres+s3")
    )]
    pub postgres_url: Option<String>,
    /// postgres+s3: the schema holding casweb's tables (created and migrated at start).
    #[arg(long, env = "CASWEB_POSTGRES_SCHEMA", default_value = "casweb")]
    pub postgres_schema: String,
    /// postgres+s3: most PostgreSQL connections one process opens.
    #[arg(long, env = "CASWEB_POSTGRES_POOL", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub postgres_pool: u16,
    /// postgres+s3: the S3-compatible endpoint, e.g. http://127.0.0.1:9000 (default: AWS S3).
    /// Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "CASWEB_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// postgres+s3: the bucket node bytes are put in (it must exist).
    #[arg(long, env = "CASWEB_S3_BUCKET", required_if_eq("store", "postgres+s3"))]
    pub s3_bucket: Option<String>,
    /// postgres+s3: prefix of every object name, e.g. `casweb/`.
    #[arg(long, env = "CASWEB_S3_PREFIX", default_value = "")]
    pub s3_prefix: String,
    /// postgres+s3: the region requests are signed for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// postgres+s3: milliseconds between two reads of the token log by one process, the bound
    /// on how late a replica sees a token created or revoked elsewhere.
    #[arg(long, env = "CASWEB_TOKEN_REFRESH_MS", default_value_t = 250,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub token_refresh_ms: u64,
}

impl ServeArgs {
    /// The limits these arguments ask for.
    pub fn limits(&self) -> Limits {
        Limits {
            max_node_size: self.max_node_size,
            // A batch must be able to carry at least one node of the largest size.
            max_batch_bytes: self.max_batch_bytes.max(self.max_node_size + 4),
            ..Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_and_limits() {
        let cli = Cli::try_parse_from(["casweb-server", "serve", "--max-node-size", "100"])
            .expect("parses");
        let Command::Serve(args) = cli.command else {
            panic!("serve expected")
        };
        assert_eq!(args.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(args.store.store, StoreKind::Redb);
        assert_eq!(args.limits().max_node_size, 100);
        assert_eq!(args.limits().max_batch_bytes, DEFAULT_MAX_BATCH_BYTES);
        assert!(Cli::try_parse_from(["casweb-server", "serve", "--max-node-size", "8"]).is_err());
        assert!(
            Cli::try_parse_from(["casweb-server", "serve", "--fault-503-percent", "101"]).is_err()
        );
    }

    #[test]
    fn token_commands() {
        let parse = |args: &[&str]| {
            let mut all = vec!["casweb-server", "token"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all)
        };
        assert!(parse(&["create", "--realm", "a"]).is_ok());
        assert!(parse(&["create", "--realm", "a", "--scope", "read", "--ttl", "15m"]).is_ok());
        assert!(parse(&["create", "--admin"]).is_ok());
        assert!(parse(&["create"]).is_err(), "a realm or --admin");
        assert!(parse(&["create", "--admin", "--realm", "a"]).is_err());
        assert!(parse(&["create", "--realm", "a", "--scope", "all"]).is_err());
        assert!(
            parse(&["create", "--realm", "a", "--ttl", "1h"]).is_err(),
            "ttl needs scope"
        );
        assert!(parse(&["list", "--realm", "a"]).is_ok());
        let postgres = [
            "list",
            "--store",
            "postgres+s3",
            "--postgres-url",
            "postgres://h/db",
        ];
        assert!(parse(&postgres).is_err(), "a bucket is required");
        assert!(parse(&[&postgres[..], &["--s3-bucket", "b"]].concat()).is_ok());
        assert!(parse(&["revoke", "0011223344556677"]).is_ok());
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("15m"), Ok(900));
        assert_eq!(parse_ttl("2h"), Ok(7_200));
        assert_eq!(parse_ttl("30d"), Ok(2_592_000));
        for bad in ["", "0", "31d", "1w", "h", "-5", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
