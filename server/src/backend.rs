//! The backend `--store` selects, opened for `serve` and the `token` commands: the node store
//! and the token log, either both in the data directory (redb and the token file) or both shared
//! by every replica (PostgreSQL, with node bytes in an S3-compatible object store).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{StoreArgs, StoreKind};
use crate::nodes::embedded::{EmbeddedStore, DB_FILE};
use crate::nodes::postgres_s3::PostgresS3Store;
use crate::nodes::s3::{NodeObjects, S3Config};
use crate::nodes::NodeStore;
use crate::tokens::{FileLog, PostgresLog, TokenLog, TokenStore};

/// What a process serves from.
pub struct Backend {
    pub nodes: Arc<dyn NodeStore>,
    pub tokens: TokenStore,
}

/// Opens the token log only (the `token` commands).
pub async fn open_tokens(args: &StoreArgs, data_dir: &Path) -> Result<TokenStore, String> {
    let log: Box<dyn TokenLog> = match args.store {
        StoreKind::Redb => file_log(data_dir)?,
        StoreKind::PostgresS3 => Box::new(postgres_log(args, connect(args).await?)),
    };
    read_tokens(log).await
}

/// Opens the node store and the token log (`serve`).
pub async fn open(args: &StoreArgs, data_dir: &Path) -> Result<Backend, String> {
    match args.store {
        StoreKind::Redb => {
            let tokens = read_tokens(file_log(data_dir)?).await?;
            let nodes = EmbeddedStore::open(&data_dir.join(DB_FILE)).map_err(|e| e.to_string())?;
            Ok(Backend {
                nodes: Arc::new(nodes),
                tokens,
            })
        }
        StoreKind::PostgresS3 => {
            let pool = connect(args).await?;
            let objects = NodeObjects::new(&S3Config {
                endpoint: args.s3_endpoint.clone(),
                bucket: args.s3_bucket.clone().ok_or("--s3-bucket is required")?,
                prefix: args.s3_prefix.clone(),
                region: args.s3_region.clone(),
            })?;
            let tokens = read_tokens(Box::new(postgres_log(args, pool.clone()))).await?;
            Ok(Backend {
                nodes: Arc::new(PostgresS3Store::new(pool, objects)),
                tokens,
            })
        }
    }
}

fn file_log(data_dir: &Path) -> Result<Box<dyn TokenLog>, String> {
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", data_dir.display()))?;
    Ok(Box::new(FileLog::new(data_dir)))
}

fn postgres_log(args: &StoreArgs, pool: deadpool_postgres::Pool) -> PostgresLog {
    PostgresLog::new(pool, Duration::from_millis(args.token_refresh_ms))
}

async fn connect(args: &StoreArgs) -> Result<deadpool_postgres::Pool, String> {
    let url = args
        .postgres_url
        .as_deref()
        .ok_or("--postgres-url (or CASWEB_POSTGRES_URL) is required")?;
    crate::postgres::connect(url, &args.postgres_schema, args.postgres_pool.into()).await
}

async fn read_tokens(log: Box<dyn TokenLog>) -> Result<TokenStore, String> {
    TokenStore::open(log)
        .await
        .map_err(|e| format!("cannot read the token log: {e}"))
}
