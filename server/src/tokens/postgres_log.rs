//! The token log in PostgreSQL (`--store postgres+s3`): the `token_lines` table, one line of
//! the token file format per row, shared by every replica and by the `token` commands.
//!
//! Each replica remembers the largest id it read and asks for the rows after it, at most once
//! per refresh interval (admissions in between use the table as read). So a token created or
//! revoked anywhere is seen by every replica at its first request starting more than one
//! interval after the append committed. Appends take an exclusive lock on the table for their
//! transaction, so ids become visible in increasing order and a reader never skips one that
//! commits late.

use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::Pool;

use super::line::Line;
use super::log::{Changes, TokenLog};

/// How often a replica looks for new token lines by default: the bound on how late it sees a
/// revocation made elsewhere.
pub const DEFAULT_REFRESH: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy)]
struct Cursor {
    /// The largest id read.
    last_id: i64,
    /// When the table was last read; `None` before the first read.
    read_at: Option<Instant>,
}

/// The `token_lines` table.
pub struct PostgresLog {
    pool: Pool,
    refresh: Duration,
    cursor: Mutex<Cursor>,
}

fn pg_error(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("PostgreSQL: {error}"))
}

impl PostgresLog {
    /// The log in `pool`'s schema, read at most every `refresh`.
    pub fn new(pool: Pool, refresh: Duration) -> PostgresLog {
        PostgresLog {
            pool,
            refresh,
            cursor: Mutex::new(Cursor {
                last_id: 0,
                read_at: None,
            }),
        }
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl TokenLog for PostgresLog {
    async fn changes(&self, fresh: bool) -> io::Result<Changes> {
        let known = *self.cursor();
        let recent = known.read_at.is_some_and(|at| at.elapsed() < self.refresh);
        if recent && !fresh {
            return Ok(Changes::Unchanged);
        }
        let started = Instant::now();
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT id, line FROM token_lines WHERE id > $1 ORDER BY id",
                &[&known.last_id],
            )
            .await
            .map_err(pg_error)?;
        let mut last_id = known.last_id;
        let mut lines = Vec::with_capacity(rows.len());
        for row in rows {
            last_id = row.get(0);
            let text: &str = row.get(1);
            match Line::parse(text) {
                Some(line) => lines.push(line),
                None => tracing::warn!(
                    id = last_id,
                    "a row of token_lines is not a token, key or revocation: ignored"
                ),
            }
        }
        *self.cursor() = Cursor {
            last_id,
            read_at: Some(started),
        };
        Ok(match known.read_at {
            None => Changes::Replaced(lines),
            Some(_) if lines.is_empty() => Changes::Unchanged,
            Some(_) => Changes::Appended(lines),
        })
    }

    async fn append(&self, lines: &[Line]) -> io::Result<()> {
        let texts: Vec<String> = lines
            .iter()
            .map(|line| line.render().trim_end().to_owned())
            .collect();
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let txn = client.transaction().await.map_err(pg_error)?;
        txn.batch_execute("LOCK TABLE token_lines IN EXCLUSIVE MODE")
            .await
            .map_err(pg_error)?;
        txn.execute(
            "INSERT INTO token_lines (line)
             SELECT line FROM unnest($1::text[]) WITH ORDINALITY AS t(line, n) ORDER BY n",
            &[&texts],
        )
        .await
        .map_err(pg_error)?;
        txn.commit().await.map_err(pg_error)
    }
}
