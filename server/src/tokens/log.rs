//! The token log seam: where the token lines (`line`) are kept, append-only, for every process
//! that admits requests or manages tokens. [`TokenStore`](super::TokenStore) rebuilds its table
//! from the lines and asks the log for what changed.
//!
//! - [`super::file_log`]: `<data-dir>/tokens`, the embedded default (one machine);
//! - [`super::postgres_log`]: the `token_lines` table, shared by every replica.

use std::io;

use async_trait::async_trait;

use super::line::Line;

/// What changed in the log since the previous call to [`TokenLog::changes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    Unchanged,
    /// These lines were appended, in order.
    Appended(Vec<Line>),
    /// The log was replaced: these are all its lines (the table is rebuilt from them).
    Replaced(Vec<Line>),
}

/// An append-only log of token lines. Calls to `changes` are serialized by the caller.
#[async_trait]
pub trait TokenLog: Send + Sync + 'static {
    /// What was appended since the previous call (everything at the first). With `fresh` the
    /// log looks now; without, a log over the network may answer `Unchanged` if it looked less
    /// than its refresh interval ago (the bound on how late a revocation is seen).
    async fn changes(&self, fresh: bool) -> io::Result<Changes>;

    /// Appends `lines` durably, in order, all or none: when this returns, every process reading
    /// the log will see them.
    async fn append(&self, lines: &[Line]) -> io::Result<()>;
}
