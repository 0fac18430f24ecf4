//! The scaled-out backend (`--store postgres+s3`): node bytes in an S3-compatible object store
//! ([`NodeObjects`]), which nodes are stored and which realms own them in PostgreSQL (tables
//! `nodes` and `owners`, see `server/migrations/`). Any number of replicas share both; none
//! keeps state of its own.
//!
//! Write order: the bytes of new nodes are put in the object store first, all of them, and only
//! then is the batch's single SQL statement run, inserting the `nodes` rows and the `owners`
//! rows together (one statement is one transaction: all or nothing). So a crash (or a failed
//! put) between the two leaves at worst objects without rows, which nothing reads and the next
//! upload of the same node overwrites with the same bytes; it never leaves a row, and so an
//! owner, without its bytes. A 200 is sent after the commit, so it means durable in both.
//!
//! Statements are prepared once per connection. Round trips per batch: `status` one query; `bytes` one query then the gets; `apply` one
//! query to find which nodes are new (nodes already stored are not uploaded again), the puts,
//! then the one write statement. Whether a realm became an owner comes from
//! `INSERT ... ON CONFLICT DO NOTHING RETURNING`, so concurrent replicas agree on who inserted
//! each row. A claim of a node that is not stored fails the statement on the `owners.key`
//! foreign key, and with it the whole batch.

use std::collections::HashSet;

use async_trait::async_trait;
use bytes::Bytes;
use casweb::Key;
use deadpool_postgres::Pool;

use super::s3::NodeObjects;
use super::{NodeStore, Status, StoreError, Write};

/// The PostgreSQL rows and the object store together.
pub struct PostgresS3Store {
    pool: Pool,
    objects: NodeObjects,
}

fn raw_keys<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Vec<Vec<u8>> {
    keys.into_iter()
        .map(|key| key.as_bytes().to_vec())
        .collect()
}

impl PostgresS3Store {
    /// The store over a migrated pool and a bucket.
    pub fn new(pool: Pool, objects: NodeObjects) -> PostgresS3Store {
        PostgresS3Store { pool, objects }
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(StoreError::new)
    }

    /// Which of `keys` have a `nodes` row (stored: their bytes are in the object store).
    async fn stored_among(&self, keys: &[Key]) -> Result<HashSet<Key>, StoreError> {
        if keys.is_empty() {
            return Ok(HashSet::new());
        }
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT key FROM nodes WHERE key = ANY($1)")
            .await
            .map_err(StoreError::new)?;
        let rows = client
            .query(&statement, &[&raw_keys(keys)])
            .await
            .map_err(StoreError::new)?;
        rows.iter()
            .map(|row| Key::from_slice(row.get::<_, &[u8]>(0)).map_err(StoreError::new))
            .collect()
    }
}

#[async_trait]
impl NodeStore for PostgresS3Store {
    async fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // Two index lookups by `= ANY` (a join with the unnested keys may be planned as scans
        // of whole tables), in one round trip.
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT key, true FROM owners WHERE realm = $1 AND key = ANY($2)
                 UNION ALL
                 SELECT key, false FROM nodes WHERE key = ANY($2)",
            )
            .await
            .map_err(StoreError::new)?;
        let rows = client
            .query(&statement, &[&realm, &raw_keys(keys)])
            .await
            .map_err(StoreError::new)?;
        let (mut owned, mut stored) = (HashSet::new(), HashSet::new());
        for row in &rows {
            let key = Key::from_slice(row.get::<_, &[u8]>(0)).map_err(StoreError::new)?;
            if row.get(1) {
                owned.insert(key);
            } else {
                stored.insert(key);
            }
        }
        Ok(keys
            .iter()
            .map(|key| {
                if owned.contains(key) {
                    Status::Owned
                } else if stored.contains(key) {
                    Status::Unowned
                } else {
                    Status::Missing
                }
            })
            .collect())
    }

    async fn bytes(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>, StoreError> {
        let stored = self.stored_among(keys).await?;
        let wanted: Vec<Key> = keys
            .iter()
            .filter(|key| stored.contains(key))
            .copied()
            .collect();
        let mut fetched = self.objects.get_all(&wanted).await?.into_iter();
        Ok(keys
            .iter()
            .map(|key| stored.contains(key).then(|| fetched.next()).flatten())
            .collect())
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<Vec<bool>, StoreError> {
        if writes.is_empty() {
            return Ok(Vec::new());
        }
        // 1. Bytes first: every new node's object is durable before any row names it.
        let uploaded: Vec<Key> = writes
            .iter()
            .filter(|write| write.bytes.is_some())
            .map(|write| write.key)
            .collect();
        let already = self.stored_among(&uploaded).await?;
        let mut seen = HashSet::new();
        let puts: Vec<(Key, Bytes)> = writes
            .iter()
            .filter_map(|write| Some((write.key, write.bytes.clone()?)))
            .filter(|(key, _)| !already.contains(key) && seen.insert(*key))
            .collect();
        self.objects.put_all(puts).await?;

        // 2. Then the rows, in one statement (one transaction).
        let realms: Vec<&str> = writes.iter().map(|write| write.realm.as_str()).collect();
        let keys = raw_keys(writes.iter().map(|write| &write.key));
        let sizes: Vec<Option<i32>> = writes
            .iter()
            .map(|write| {
                write
                    .bytes
                    .as_ref()
                    .map(|bytes| i32::try_from(bytes.len()).unwrap_or(i32::MAX))
            })
            .collect();
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "WITH w AS (
                     SELECT * FROM unnest($1::text[], $2::bytea[], $3::int4[])
                         WITH ORDINALITY AS w(realm, key, size, n)
                 ),
                 stored AS (
                     INSERT INTO nodes (key, size)
                     SELECT key, max(size) FROM w WHERE size IS NOT NULL GROUP BY key
                     ON CONFLICT (key) DO NOTHING
                 ),
                 owned AS (
                     INSERT INTO owners (realm, key)
                     SELECT DISTINCT realm, key FROM w
                     ON CONFLICT (key, realm) DO NOTHING
                     RETURNING realm, key
                 ),
                 firsts AS (
                     SELECT n, row_number() OVER (PARTITION BY realm, key ORDER BY n) = 1 AS first
                     FROM w
                 )
                 SELECT w.n, f.first AND o.key IS NOT NULL
                 FROM w
                 JOIN firsts f ON f.n = w.n
                 LEFT JOIN owned o ON o.realm = w.realm AND o.key = w.key
                 ORDER BY w.n",
            )
            .await
            .map_err(StoreError::new)?;
        let rows = client
            .query(&statement, &[&realms, &keys, &sizes])
            .await
            .map_err(|e| match e.code() {
                Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) => {
                    StoreError::new("a claimed node is not stored")
                }
                _ => StoreError::new(e),
            })?;
        Ok(rows.iter().map(|row| row.get(1)).collect())
    }

    async fn node_count(&self) -> Result<u64, StoreError> {
        let row = self
            .client()
            .await?
            .query_one("SELECT count(*) FROM nodes", &[])
            .await
            .map_err(StoreError::new)?;
        Ok(row.get::<_, i64>(0).unsigned_abs())
    }
}
