//! The `NodeStore` contract, in process, on the backend under test: redb, or postgres+s3 when
//! scripts/server-backend-test.sh sets `CASWEB_TEST_STORE` (a schema and object prefix of its
//! own). Status, deduplication, per-realm ownership, claims, one owner per concurrent insert,
//! and a batch is all or nothing (a claim of a node not stored fails all of it). On postgres+s3
//! also: a node already stored is not put to S3 again, a damaged object is an error, and
//! replicas starting together apply each migration once.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use casweb::Key;
use casweb_server::config::{Cli, Command};
use casweb_server::nodes::{NodeStore, Status, Write};
use clap::Parser;
use common::{backend_env, leaf};
use object_store::ObjectStore;

/// The store of the backend under test over `dir`, and its object prefix on postgres+s3.
async fn open(dir: &std::path::Path) -> (Arc<dyn NodeStore>, Option<String>) {
    let mut arguments = vec!["casweb-server".to_owned(), "serve".to_owned()];
    let env = backend_env(dir);
    let mut prefix = None;
    for (name, value) in &env {
        let flag = match *name {
            "CASWEB_STORE" => "--store",
            "CASWEB_POSTGRES_URL" => "--postgres-url",
            "CASWEB_POSTGRES_SCHEMA" => "--postgres-schema",
            "CASWEB_POSTGRES_POOL" => "--postgres-pool",
            "CASWEB_S3_ENDPOINT" => "--s3-endpoint",
            "CASWEB_S3_BUCKET" => "--s3-bucket",
            "CASWEB_S3_PREFIX" => {
                prefix = Some(value.clone());
                "--s3-prefix"
            }
            other => panic!("unexpected backend variable {other}"),
        };
        arguments.extend([flag.to_owned(), value.clone()]);
    }
    let Command::Serve(args) = Cli::try_parse_from(arguments).expect("arguments").command else {
        unreachable!("serve was parsed")
    };
    let backend = casweb_server::backend::open(&args.store, dir)
        .await
        .expect("open the backend");
    (backend.nodes, prefix)
}

fn put(realm: &str, (key, bytes): &(Key, Vec<u8>)) -> Write {
    Write {
        realm: realm.into(),
        key: *key,
        bytes: Some(Bytes::from(bytes.clone())),
    }
}

fn claim(realm: &str, key: Key) -> Write {
    Write {
        realm: realm.into(),
        key,
        bytes: None,
    }
}

#[tokio::test]
async fn the_contract() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = open(dir.path()).await;
    let node = leaf(1);
    let key = node.0;
    assert_eq!(store.status("a", &[key]).await.unwrap(), [Status::Missing]);
    assert_eq!(store.bytes(&[key]).await.unwrap(), [None]);
    assert_eq!(
        store
            .apply(vec![put("a", &node), put("a", &node)])
            .await
            .unwrap(),
        [true, false]
    );
    assert_eq!(store.status("a", &[key]).await.unwrap(), [Status::Owned]);
    assert_eq!(store.status("b", &[key]).await.unwrap(), [Status::Unowned]);
    assert_eq!(store.apply(vec![claim("b", key)]).await.unwrap(), [true]);
    assert_eq!(store.apply(vec![claim("b", key)]).await.unwrap(), [false]);
    assert_eq!(
        store.bytes(&[key, leaf(2).0, key]).await.unwrap(),
        [
            Some(Bytes::from(node.1.clone())),
            None,
            Some(Bytes::from(node.1))
        ]
    );
    assert_eq!(store.node_count().await.unwrap(), 1);
    assert_eq!(store.apply(Vec::new()).await.unwrap(), Vec::<bool>::new());

    // All or nothing: a put with a claim of a node nobody stored fails as a whole.
    let other = leaf(3);
    let unstored = leaf(4).0;
    assert!(store
        .apply(vec![put("c", &other), claim("c", unstored)])
        .await
        .is_err());
    assert_eq!(
        store.status("c", &[other.0, unstored]).await.unwrap(),
        [Status::Missing, Status::Missing]
    );
    assert_eq!(store.node_count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_inserts_make_one_owner() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = open(dir.path()).await;
    let nodes: Vec<(Key, Vec<u8>)> = (0..20).map(leaf).collect();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, nodes) = (store.clone(), nodes.clone());
            tokio::spawn(async move {
                let writes = nodes.iter().map(|node| put("a", node)).collect();
                store.apply(writes).await.expect("apply")
            })
        })
        .collect();
    let mut owners = vec![0; nodes.len()];
    for task in tasks {
        for (count, newly) in owners.iter_mut().zip(task.await.expect("task")) {
            *count += usize::from(newly);
        }
    }
    assert_eq!(owners, vec![1; nodes.len()]);
    assert_eq!(store.node_count().await.unwrap(), nodes.len() as u64);
}

/// The bucket, as the backend under test sees it.
fn bucket() -> object_store::aws::AmazonS3 {
    let shared = common::shared_backend().expect("postgres+s3");
    object_store::aws::AmazonS3Builder::from_env()
        .with_endpoint(&shared.s3_endpoint)
        .with_allow_http(true)
        .with_bucket_name(&shared.s3_bucket)
        .with_region("us-east-1")
        .build()
        .expect("S3 client")
}

#[tokio::test]
async fn stored_nodes_are_not_uploaded_again_and_objects_are_checked() {
    if common::shared_backend().is_none() {
        common::skipped(
            "stored_nodes_are_not_uploaded_again_and_objects_are_checked",
            "on redb (S3 only)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, prefix) = open(dir.path()).await;
    let prefix = prefix.expect("an object prefix");
    let bucket = bucket();
    let node = leaf(1);
    let object = object_store::path::Path::from(format!("{prefix}nodes/{}", node.0));
    store.apply(vec![put("a", &node)]).await.expect("put");
    bucket.head(&object).await.expect("the object was put");

    // Remove the object behind the store's back: a second upload of the node (another realm)
    // does not put it again, so reading it now fails.
    bucket.delete(&object).await.expect("delete");
    assert_eq!(store.apply(vec![put("b", &node)]).await.unwrap(), [true]);
    assert!(bucket.head(&object).await.is_err(), "uploaded again");
    assert!(store.bytes(&[node.0]).await.is_err());

    // Bytes that do not hash to their key are an error, not a node.
    bucket
        .put(&object, leaf(2).1.into())
        .await
        .expect("overwrite");
    let error = store.bytes(&[node.0]).await.expect_err("damaged");
    assert!(error.to_string().contains("does not hash"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_the_schema_once() {
    let Some(shared) = common::shared_backend() else {
        common::skipped(
            "replicas_starting_together_migrate_the_schema_once",
            "on redb (PostgreSQL only)",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.path().to_path_buf();
            tokio::spawn(async move { open(&dir).await.0.node_count().await })
        })
        .collect();
    for start in starts {
        assert_eq!(start.await.expect("task").expect("count"), 0);
    }
    let schema = backend_env(dir.path())
        .into_iter()
        .find_map(|(name, value)| (name == "CASWEB_POSTGRES_SCHEMA").then_some(value))
        .expect("a schema");
    let (client, connection) = tokio_postgres::connect(&shared.postgres_url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let versions: Vec<i32> = client
        .query(
            &format!("SELECT version FROM \"{schema}\".casweb_migrations ORDER BY version"),
            &[],
        )
        .await
        .expect("migrations table")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1], "each migration applied once");
}
