//! The embedded backend: redb in one file, node bytes stored once per key, ownership rows per
//! (realm, key). The default: a first user needs no database server.
//!
//! Tables:
//! - `nodes`:  16-byte key -> node bytes (deduplicated across realms);
//! - `owners`: (realm, 16-byte key) -> () (a realm owns a node once it put or claimed it).
//!
//! Reads run in read transactions on tokio's blocking threads. Writes go through the
//! [`GroupCommit`] thread: every write transaction commits with immediate durability (fsync)
//! before anyone is answered.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use casweb::Key;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::group_commit::GroupCommit;
use super::{NodeStore, Status, StoreError, Write};

const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
const OWNERS: TableDefinition<(&str, &[u8]), ()> = TableDefinition::new("owners");

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(error: $error) -> StoreError {
                StoreError::new(redb::Error::from(error))
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "casweb.redb";

/// Why the database file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0} is in use by another casweb-server process")]
    InUse(String),
    #[error("cannot open {path}: {error}")]
    Database { path: String, error: StoreError },
    #[error("cannot start the writer thread: {0}")]
    Writer(std::io::Error),
}

/// The redb database and its writer thread; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    tables: Tables,
    writer: GroupCommit,
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path`, makes sure the tables exist and starts the
    /// writer thread.
    pub fn open(path: &Path) -> Result<EmbeddedStore, OpenError> {
        let shown = path.display().to_string();
        let tables = Tables::open(path).map_err(|error| match error.inner().downcast_ref() {
            Some(redb::Error::DatabaseAlreadyOpen) => OpenError::InUse(shown.clone()),
            _ => OpenError::Database {
                path: shown.clone(),
                error,
            },
        })?;
        let committer = tables.clone();
        let writer =
            GroupCommit::start(move |writes| committer.apply(writes)).map_err(OpenError::Writer)?;
        Ok(EmbeddedStore { tables, writer })
    }

    /// Runs a blocking read off the async threads.
    async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Tables) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let tables = self.tables.clone();
        tokio::task::spawn_blocking(move || f(&tables))
            .await
            .map_err(StoreError::new)?
    }
}

#[async_trait]
impl NodeStore for EmbeddedStore {
    async fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError> {
        let (realm, keys) = (realm.to_owned(), keys.to_vec());
        self.read(move |tables| tables.status(&realm, &keys)).await
    }

    async fn bytes(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |tables| tables.bytes(&keys)).await
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<Vec<bool>, StoreError> {
        self.writer.write(writes).await
    }

    async fn node_count(&self) -> Result<u64, StoreError> {
        self.read(Tables::node_count).await
    }
}

/// The tables, with blocking access; cheap to clone.
#[derive(Clone)]
struct Tables {
    db: Arc<Database>,
}

impl Tables {
    fn open(path: &Path) -> Result<Tables, StoreError> {
        let db = Database::create(path)?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        txn.open_table(NODES)?;
        txn.open_table(OWNERS)?;
        txn.commit()?;
        Ok(Tables { db: Arc::new(db) })
    }

    fn node_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(NODES)?.len()?)
    }

    fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let owners = txn.open_table(OWNERS)?;
        keys.iter()
            .map(|key| {
                let raw = key.as_bytes().as_slice();
                if owners.get((realm, raw))?.is_some() {
                    Ok(Status::Owned)
                } else if nodes.get(raw)?.is_some() {
                    Ok(Status::Unowned)
                } else {
                    Ok(Status::Missing)
                }
            })
            .collect()
    }

    fn bytes(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NODES)?;
        keys.iter()
            .map(|key| {
                let bytes = table.get(key.as_bytes().as_slice())?;
                Ok(bytes.map(|b| Bytes::copy_from_slice(b.value())))
            })
            .collect()
    }

    /// Applies `writes` in one write transaction committed with immediate durability.
    fn apply(&self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let mut newly_owned = Vec::with_capacity(writes.len());
        {
            let mut nodes = txn.open_table(NODES)?;
            let mut owners = txn.open_table(OWNERS)?;
            for write in writes {
                let raw = write.key.as_bytes().as_slice();
                if nodes.get(raw)?.is_none() {
                    let Some(bytes) = &write.bytes else {
                        // Claims are only accepted for stored nodes and nodes are never deleted.
                        return Err(StoreError::new(format!(
                            "claimed node {} is not stored",
                            write.key
                        )));
                    };
                    nodes.insert(raw, bytes.as_ref())?;
                }
                let previous = owners.insert((write.realm.as_str(), raw), ())?;
                newly_owned.push(previous.is_none());
            }
        }
        txn.commit()?;
        Ok(newly_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_is_in_use() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(DB_FILE);
        let _first = EmbeddedStore::open(&path).expect("open");
        assert!(matches!(
            EmbeddedStore::open(&path),
            Err(OpenError::InUse(_))
        ));
    }
}
