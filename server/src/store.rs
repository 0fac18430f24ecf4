//! Persistence in redb: node bytes stored once per key, ownership rows per (realm, key).
//!
//! Tables:
//! - `nodes`:  16-byte key -> node bytes (deduplicated across realms);
//! - `owners`: (realm, 16-byte key) -> () (a realm owns a node once it put or claimed it).
//!
//! Nothing is ever deleted, so a check made in one read transaction stays true afterwards: the
//! handlers validate in read transactions and hand only the inserts to the [`crate::writer`].
//! Every write transaction commits with immediate durability (fsync) before anyone is answered.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use casweb::Key;
use redb::{Database, Durability, ReadableTable, ReadableTableMetadata, TableDefinition};

const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("nodes");
const OWNERS: TableDefinition<(&str, &[u8]), ()> = TableDefinition::new("owners");

/// A database failure (boxed: redb's error type is large and only travels on the error path).
#[derive(Debug)]
pub struct StoreError(Box<redb::Error>);

impl StoreError {
    /// The underlying redb error.
    pub fn inner(&self) -> &redb::Error {
        &self.0
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {}

macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(error: $error) -> StoreError {
                StoreError(Box::new(error.into()))
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

/// Where a node stands for one realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No realm has stored the node.
    Missing,
    /// The node is stored but this realm does not own it.
    Unowned,
    /// This realm owns the node.
    Owned,
}

/// A node as one realm may read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Missing,
    NotOwned,
    Owned(Vec<u8>),
}

/// One insert: make `realm` an owner of `key`, storing `bytes` if the node is new.
/// `bytes` is `None` for a claim (the node is known to exist).
#[derive(Debug, Clone)]
pub struct Write {
    pub realm: String,
    pub key: Key,
    pub bytes: Option<Bytes>,
}

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Opens (or creates) the database at `path` and makes sure the tables exist.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path)?;
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        txn.open_table(NODES)?;
        txn.open_table(OWNERS)?;
        txn.commit()?;
        Ok(Store { db: Arc::new(db) })
    }

    /// How many distinct nodes are stored (also a cheap check that the database answers).
    pub fn node_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(NODES)?.len()?)
    }

    /// The status of each key for `realm`, in order, from one consistent snapshot.
    pub fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError> {
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

    /// The keys among `keys` that `realm` does not own (absent or owned only by others).
    pub fn not_owned(&self, realm: &str, keys: &[Key]) -> Result<Vec<Key>, StoreError> {
        let status = self.status(realm, keys)?;
        Ok(keys
            .iter()
            .zip(status)
            .filter(|(_, s)| *s != Status::Owned)
            .map(|(k, _)| *k)
            .collect())
    }

    /// Reads a node for `realm`: its bytes only if the realm owns it.
    pub fn lookup(&self, realm: &str, key: &Key) -> Result<Lookup, StoreError> {
        let txn = self.db.begin_read()?;
        let raw = key.as_bytes().as_slice();
        let Some(bytes) = txn.open_table(NODES)?.get(raw)? else {
            return Ok(Lookup::Missing);
        };
        if txn.open_table(OWNERS)?.get((realm, raw))?.is_none() {
            return Ok(Lookup::NotOwned);
        }
        Ok(Lookup::Owned(bytes.value().to_vec()))
    }

    /// The bytes of a node whatever its owners (for verifying proofs of possession).
    pub fn bytes(&self, key: &Key) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NODES)?;
        let bytes = table.get(key.as_bytes().as_slice())?;
        Ok(bytes.map(|b| b.value().to_vec()))
    }

    /// Applies `writes` in one write transaction committed with immediate durability. Returns,
    /// per write, whether the realm became an owner (false: it already was).
    pub fn apply(&self, writes: &[Write]) -> Result<Vec<bool>, StoreError> {
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
                        return Err(StoreError::from(redb::Error::Corrupted(format!(
                            "claimed node {} is not stored",
                            write.key
                        ))));
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
    fn dedup_and_ownership() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join(DB_FILE)).expect("open");
        let bytes = casweb::node::encode_dict(&[]).expect("encode");
        let key = Key::for_bytes(&bytes);
        let put = |realm: &str| Write {
            realm: realm.into(),
            key,
            bytes: Some(Bytes::from(bytes.clone())),
        };
        assert_eq!(store.status("a", &[key]).unwrap(), vec![Status::Missing]);
        assert_eq!(store.lookup("a", &key).unwrap(), Lookup::Missing);
        assert_eq!(
            store.apply(&[put("a"), put("a")]).unwrap(),
            vec![true, false]
        );
        assert_eq!(store.status("a", &[key]).unwrap(), vec![Status::Owned]);
        assert_eq!(store.status("b", &[key]).unwrap(), vec![Status::Unowned]);
        assert_eq!(store.lookup("b", &key).unwrap(), Lookup::NotOwned);
        assert_eq!(store.not_owned("b", &[key]).unwrap(), vec![key]);
        let claim = Write {
            realm: "b".into(),
            key,
            bytes: None,
        };
        assert_eq!(store.apply(&[claim]).unwrap(), vec![true]);
        assert_eq!(
            store.lookup("b", &key).unwrap(),
            Lookup::Owned(bytes.clone())
        );
        assert_eq!(store.bytes(&key).unwrap(), Some(bytes));
        let other = Key::for_bytes(b"other");
        let bad_claim = Write {
            realm: "b".into(),
            key: other,
            bytes: None,
        };
        assert!(store.apply(&[bad_claim]).is_err());
        assert_eq!(store.status("b", &[other]).unwrap(), vec![Status::Missing]);
    }
}
