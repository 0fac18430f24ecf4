//! casweb-server: the native reference server for casweb's HTTP storage protocol
//! (docs/protocol.md), as a library so that its tests and benchmark can reuse its pieces.
//!
//! - [`config`]: command line and limits; [`server`]: startup and the serve loop;
//! - [`routes`]: the HTTP handlers; [`extract`]: request extractors with JSON rejections;
//!   [`error`]: the JSON error format;
//! - [`backend`]: the backend `--store` selects; [`postgres`]: the PostgreSQL pool and schema
//!   migrations of `postgres+s3`;
//! - [`tokens`]: the token log (file or PostgreSQL) and what the server knows of credentials; [`auth`]: admission
//!   (the extractors: realm scope, admin API); [`clock`]: the time tokens are checked against;
//!   batch framing is [`casweb::batch`];
//! - [`nodes`]: the node store seam (`NodeStore`), the ownership rules over it, node checks and
//!   refusals, the embedded redb backend with its group-committing writer, and the
//!   PostgreSQL + S3 backend;
//! - [`p2p`]: the libp2p node (DHT, relay) and the handle the routes use;
//! - [`cors`] and [`fault`]: CORS policy and test-only fault injection; [`keepalive`]: closing
//!   connections whose request body was refused unread;
//! - [`logging`]: the log subscriber (`RUST_LOG`, `--log-format`); [`request_log`]: a line per
//!   HTTP request; [`metrics`]: what `/metrics` reports.

pub mod auth;
pub mod backend;
pub mod clock;
pub mod config;
pub mod cors;
pub mod error;
pub mod extract;
pub mod fault;
pub mod keepalive;
pub mod logging;
pub mod metrics;
pub mod nodes;
pub mod p2p;
pub mod postgres;
pub mod request_log;
pub mod routes;
pub mod server;
pub mod state;
pub mod tokens;
