//! Command line and configuration: the `serve` and `token create` subcommands and the limits
//! the server advertises at `GET /api/info`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./casweb-data";
/// Default largest node: 4 MiB.
pub const DEFAULT_MAX_NODE_SIZE: u64 = 4 * 1024 * 1024;
/// Default largest batch body: 16 MiB.
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;
/// Largest node size the server can be configured for (the node format's size field is 32 bits,
/// and a whole node is held in memory).
pub const MAX_MAX_NODE_SIZE: u64 = 1 << 30;

/// The casweb reference server.
#[derive(Debug, Parser)]
#[command(name = "casweb-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (and optionally static files).
    Serve(ServeArgs),
    /// Manage realm tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a new token for a realm and print it (base64 of 32 random bytes).
    Create {
        /// The realm the token gives access to: 1 to 64 of A-Z a-z 0-9 _ -.
        #[arg(long)]
        realm: String,
        /// Directory holding the database and the token file.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
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
    /// Allowed CORS origin (repeatable; `*` allows any). Default: any http://localhost:* and
    /// http://127.0.0.1:* origin.
    #[arg(long = "cors-origin")]
    pub cors_origins: Vec<String>,
    /// Development mode: create (or reuse) realm `demo` and print its token.
    #[arg(long)]
    pub dev: bool,
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
}

/// What the server accepts; advertised at `GET /api/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest node, in bytes.
    pub max_node_size: u64,
    /// Most keys in one `check` request.
    pub max_check_keys: usize,
    /// Largest `batch` body, in bytes (framing included).
    pub max_batch_bytes: u64,
    /// Most nodes in one `batch` request.
    pub max_batch_nodes: usize,
    /// Most claims in one claim-many request.
    pub max_claim_batch: usize,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_node_size: DEFAULT_MAX_NODE_SIZE,
            max_check_keys: 1000,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_batch_nodes: 1000,
            max_claim_batch: 1000,
            max_json_bytes: 1024 * 1024,
        }
    }
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
        assert_eq!(args.limits().max_node_size, 100);
        assert_eq!(args.limits().max_batch_bytes, DEFAULT_MAX_BATCH_BYTES);
        assert!(Cli::try_parse_from(["casweb-server", "serve", "--max-node-size", "8"]).is_err());
        assert!(
            Cli::try_parse_from(["casweb-server", "serve", "--fault-503-percent", "101"]).is_err()
        );
    }
}
