//! PostgreSQL for the scaled-out backend (`--store postgres+s3`): the connection pool, every
//! connection working in one schema, and the schema migrations, run at every start.
//!
//! Migrations are the SQL files of `server/migrations/`, embedded in the binary and applied in
//! order inside one transaction holding an advisory lock, so replicas starting together apply
//! each exactly once; `casweb_migrations` records the versions applied. A schema newer than
//! this binary knows is refused (an older replica must not write to it).

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// The migrations, in order: (version, SQL).
const MIGRATIONS: &[(i32, &str)] = &[(
    1,
    include_str!("../migrations/0001_nodes_owners_tokens.sql"),
)];

/// The advisory lock migrations hold (any constant shared by every replica).
const MIGRATION_LOCK: i64 = 0x6361_7377_6562; // "casweb"

/// Largest schema name: PostgreSQL's identifier length.
const MAX_SCHEMA_LEN: usize = 63;

/// A schema name this server accepts: lower-case ASCII letters, digits and `_`, not starting
/// with a digit (so it never needs quoting beyond the plain double quotes used).
pub fn is_valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCHEMA_LEN
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Connects a pool of at most `max_connections` to `url`, every connection with `schema` as
/// its search path, and brings the schema up to date.
pub async fn connect(url: &str, schema: &str, max_connections: usize) -> Result<Pool, String> {
    if !is_valid_schema(schema) {
        return Err(format!(
            "invalid PostgreSQL schema {schema:?}: use a-z, 0-9 and _ (not first), at most {MAX_SCHEMA_LEN}"
        ));
    }
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
    config.options(format!("-c search_path={schema}"));
    if config.get_application_name().is_none() {
        config.application_name("casweb-server");
    }
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(max_connections)
        .build()
        .map_err(|e| format!("cannot make the PostgreSQL pool: {e}"))?;
    let mut client = pool
        .get()
        .await
        .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
    migrate(&mut client, schema)
        .await
        .map_err(|e| format!("cannot migrate the PostgreSQL schema {schema}: {e}"))?;
    Ok(pool)
}

/// Applies the migrations this schema lacks, in one transaction.
async fn migrate(client: &mut tokio_postgres::Client, schema: &str) -> Result<(), String> {
    let fail = |e: tokio_postgres::Error| e.to_string();
    let txn = client.transaction().await.map_err(fail)?;
    txn.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(fail)?;
    txn.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
         SET LOCAL search_path TO \"{schema}\";
         CREATE TABLE IF NOT EXISTS casweb_migrations (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(fail)?;
    let applied: Vec<i32> = txn
        .query(
            "SELECT version FROM casweb_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(fail)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let known = MIGRATIONS.last().map_or(0, |&(version, _)| version);
    if let Some(newer) = applied.iter().find(|&&version| version > known) {
        return Err(format!(
            "the schema is at version {newer}, newer than this server knows ({known}): upgrade the server"
        ));
    }
    for &(version, sql) in MIGRATIONS {
        if applied.contains(&version) {
            continue;
        }
        txn.batch_execute(sql).await.map_err(fail)?;
        txn.execute(
            "INSERT INTO casweb_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(fail)?;
        tracing::info!(schema, version, "applied a PostgreSQL migration");
    }
    txn.commit().await.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["casweb", "t_0123abcd", "_x"] {
            assert!(is_valid_schema(good), "{good}");
        }
        for bad in ["", "1x", "Casweb", "a-b", "a\"b", &"x".repeat(64)] {
            assert!(!is_valid_schema(bad), "{bad}");
        }
    }

    #[test]
    fn migrations_are_numbered_in_order() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|&(version, _)| version).collect();
        let expected: Vec<i32> = (1..=versions.len() as i32).collect();
        assert_eq!(versions, expected);
    }
}
