//! Replicas: three `casweb-server` processes on one PostgreSQL and one S3 server
//! (`--store postgres+s3`), requests for the same DAGs spread over them at once. Runs when
//! scripts/server-backend-test.sh provides the services (`CASWEB_TEST_STORE=postgres+s3`); on
//! redb each test says it was skipped (one redb file has one server).
//!
//! - 50 clients in 5 realms put overlapping DAGs through all replicas: no node lost, the only
//!   409s are the ones provoked (a parent before its children), exactly one `stored: true` per
//!   (realm, node), every replica sees the same ownership, claims work across replicas;
//! - kill -9 of a replica in the middle of uploads: every acknowledged node is owned and
//!   readable through the other two;
//! - a token revoked through one replica is refused by another within the refresh bound.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casweb::Key;
use common::{answer, dict, file_nodes, keys_of, leaf, shared_backend, Client, Server};
use reqwest::StatusCode;

const REPLICAS: usize = 3;
const CLIENTS: usize = 50;
const REALMS: usize = 5;
const SHARED_FILES: u64 = 6;
/// How late a replica may see a revocation made through another: the default token refresh
/// interval (250 ms) with room for a loaded machine.
const REVOCATION_BOUND: Duration = Duration::from_secs(1);

/// Nodes as (key, bytes).
type Nodes = Vec<(Key, Vec<u8>)>;

/// Three replicas sharing one schema and prefix (one data directory, which postgres+s3 uses
/// for nothing shared), or `None` (with a message) on redb.
fn replicas(test: &str) -> Option<(tempfile::TempDir, Vec<Server>)> {
    if shared_backend().is_none() {
        common::skipped(
            test,
            "on redb (needs CASWEB_TEST_STORE=postgres+s3: scripts/server-backend-test.sh)",
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let servers = (0..REPLICAS)
        .map(|_| Server::start_in(dir.path(), &["--no-p2p"]))
        .collect();
    Some((dir, servers))
}

/// `client` pointed at another replica.
fn via(client: &Client, server: &Server) -> Client {
    Client {
        base: server.url.clone(),
        ..client.clone()
    }
}

/// The DAG client `i` uploads, children first: two of the shared files, one file of its own
/// and a dict over them (the root, last).
fn dag_for(i: usize, shared: &[Nodes]) -> Nodes {
    let mut nodes = Vec::new();
    let mut entries = Vec::new();
    for offset in 0..2 {
        let file = &shared[(i + offset) % shared.len()];
        nodes.extend(file.iter().cloned());
        entries.push((format!("shared-{offset}"), file.last().expect("root").0));
    }
    let own = file_nodes(2_000 + i as u64, 2500, 512);
    entries.push(("own".to_string(), own.last().expect("root").0));
    nodes.extend(own);
    let named: Vec<(&str, Key)> = entries.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    nodes.push(dict(&named));
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_over_three_replicas() {
    let Some((_dir, servers)) = replicas("fifty_clients_over_three_replicas") else {
        return;
    };
    let realms: Vec<Client> = (0..REALMS)
        .map(|r| servers[r % REPLICAS].new_realm(&format!("realm{r}")))
        .collect();
    let shared: Vec<_> = (0..SHARED_FILES)
        .map(|s| file_nodes(s, 3000, 512))
        .collect();
    let servers = Arc::new(servers);

    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let realm = realms[i % REALMS].clone();
        let servers = servers.clone();
        let nodes = dag_for(i, &shared);
        tasks.push(tokio::spawn(async move {
            // Request n of this client goes to replica (i + n) % 3.
            let replica = |n: usize| via(&realm, &servers[(i + n) % REPLICAS]);
            let mut outcomes = Vec::new();
            // The provoked 409: the root before its children (unless another client of the
            // realm already uploaded them all, then it is accepted).
            let (root, root_bytes) = nodes.last().expect("root").clone();
            let (status, body) = replica(0).put(&root, &root_bytes).await;
            let early_root = match status {
                StatusCode::CONFLICT => {
                    assert_eq!(body["error"], "missing_nodes", "client {i}: {body}");
                    assert!(!keys_of(&body, "missing").is_empty(), "{body}");
                    false
                }
                StatusCode::OK => true,
                other => panic!("client {i}: early root got {other} {body}"),
            };
            if early_root {
                outcomes.push((root, body["stored"].as_bool().expect("stored")));
            }
            let to_send = if early_root {
                &nodes[..nodes.len() - 1]
            } else {
                &nodes[..]
            };
            if i % 2 == 0 {
                for (n, (key, bytes)) in to_send.iter().enumerate() {
                    let (status, body) = replica(n + 1).put(key, bytes).await;
                    assert_eq!(status, StatusCode::OK, "client {i} put {key}: {body}");
                    outcomes.push((*key, body["stored"].as_bool().expect("stored")));
                }
            } else {
                for (n, group) in to_send.chunks(5).enumerate() {
                    let frames: Vec<&[u8]> = group.iter().map(|(_, b)| b.as_slice()).collect();
                    let (status, body) = replica(n + 1).batch(&frames).await;
                    assert_eq!(status, StatusCode::OK, "client {i} batch: {body}");
                    for ((key, _), result) in group
                        .iter()
                        .zip(body["results"].as_array().expect("results"))
                    {
                        assert_eq!(result["ok"], true, "client {i}: {result}");
                        outcomes.push((*key, result["stored"].as_bool().expect("stored")));
                    }
                }
            }
            (i % REALMS, outcomes)
        }));
    }

    // realm -> key -> how many uploads reported stored: true
    let mut stored: Vec<HashMap<Key, usize>> = vec![HashMap::new(); REALMS];
    for task in tasks {
        let (realm, outcomes) = task.await.expect("client task");
        for (key, was_stored) in outcomes {
            *stored[realm].entry(key).or_default() += usize::from(was_stored);
        }
    }

    let mut all: HashSet<Key> = HashSet::new();
    for (r, counts) in stored.iter().enumerate() {
        for (key, count) in counts {
            assert_eq!(*count, 1, "realm{r} node {key}: stored:true {count} times");
            all.insert(*key);
        }
        // Every replica sees the realm own every node it uploaded.
        let keys: Vec<Key> = counts.keys().copied().collect();
        for server in servers.iter() {
            let check = via(&realms[r], server).check(&keys).await;
            assert_eq!(
                keys_of(&check, "owned").len(),
                keys.len(),
                "realm{r}: {check}"
            );
        }
    }
    assert!(all.len() > 150, "only {} distinct nodes", all.len());

    // Every node reads back intact through every replica.
    let everything: Vec<Key> = all.iter().copied().collect();
    for (n, key) in everything.iter().enumerate() {
        let owner = stored
            .iter()
            .position(|counts| counts.contains_key(key))
            .expect("an owner");
        let (status, bytes) = via(&realms[owner], &servers[n % REPLICAS])
            .get_raw(&key.to_string())
            .await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert!(key.matches(&bytes), "{key}");
    }

    // A new realm claims one client's DAG, children first, each claim on another replica.
    let claimer = servers[0].new_realm("claimer");
    let dag = dag_for(7, &shared);
    for (n, (key, bytes)) in dag.iter().enumerate() {
        let client = via(&claimer, &servers[n % REPLICAS]);
        let (status, body) = client.claim(key, &client.pop(bytes)).await;
        assert_eq!(status, StatusCode::OK, "claim {key}: {body}");
    }
    let keys: Vec<Key> = dag.iter().map(|(k, _)| *k).collect();
    for server in servers.iter() {
        let check = via(&claimer, server).check(&keys).await;
        assert_eq!(keys_of(&check, "owned").len(), keys.len(), "{check}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_nodes_survive_kill_9_of_a_replica() {
    let Some((_dir, mut servers)) = replicas("acknowledged_nodes_survive_kill_9_of_a_replica")
    else {
        return;
    };
    let realm = servers[1].new_realm("a");
    let acknowledged: Arc<Mutex<Nodes>> = Arc::default();
    let victim = servers[0].url.clone();
    // 8 uploaders, each sending batches of fresh leaves to the victim, until it dies.
    let mut uploaders = Vec::new();
    for u in 0..8u64 {
        let client = Client {
            base: victim.clone(),
            ..realm.clone()
        };
        let acknowledged = acknowledged.clone();
        uploaders.push(tokio::spawn(async move {
            for round in 0..10_000u64 {
                let nodes: Nodes = (0..20)
                    .map(|n| leaf(1_000_000 * (u + 1) + round * 20 + n))
                    .collect();
                let body = casweb::batch::encode(nodes.iter().map(|(_, b)| b.as_slice()));
                let request = client
                    .auth(client.http.post(client.url("batch")))
                    .header("Content-Type", "application/octet-stream")
                    .body(body);
                let Ok(response) = request.send().await else {
                    return; // the replica is gone
                };
                let (status, body) = answer(response).await;
                if status != StatusCode::OK {
                    return;
                }
                assert!(body["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .all(|r| r["ok"] == true));
                acknowledged.lock().expect("lock").extend(nodes);
            }
        }));
    }
    // Kill it once uploads are well under way (some are in flight at that moment).
    let started = Instant::now();
    while acknowledged.lock().expect("lock").len() < 400 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "uploads too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers[0].kill_9();
    for uploader in uploaders {
        uploader.await.expect("uploader");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    eprintln!("{} nodes acknowledged before kill -9", acknowledged.len());
    let keys: Vec<Key> = acknowledged.iter().map(|(k, _)| *k).collect();
    for survivor in &servers[1..] {
        let client = via(&realm, survivor);
        for chunk in keys.chunks(1000) {
            let check = client.check(chunk).await;
            assert_eq!(keys_of(&check, "owned").len(), chunk.len(), "{check}");
        }
    }
    for (n, (key, bytes)) in acknowledged.iter().enumerate() {
        let client = via(&realm, &servers[1 + n % 2]);
        let (status, got) = client.get_raw(&key.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{key}");
        assert_eq!(got.as_ref(), bytes.as_slice(), "{key}");
    }
}

#[tokio::test]
async fn a_revocation_reaches_every_replica_within_the_bound() {
    let Some((_dir, servers)) = replicas("a_revocation_reaches_every_replica_within_the_bound")
    else {
        return;
    };
    let admin = servers[0].admin(&servers[0].admin_token());
    let (token, id) = admin.mint_ok("r", "write", 3600).await;
    let on = |server: &Server| Client {
        http: reqwest::Client::new(),
        base: server.url.clone(),
        realm: "r".into(),
        token: token.clone(),
    };
    // Minted through replica 0, admitted at once by the others.
    let (key, bytes) = leaf(1);
    for server in &servers[1..] {
        on(server).put_ok(&key, &bytes).await;
    }
    let (status, body) = admin.revoke("r", &id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let revoked_at = Instant::now();
    for server in &servers[1..] {
        let client = on(server);
        loop {
            let (status, body) = client.put(&key, &bytes).await;
            if status == StatusCode::UNAUTHORIZED {
                assert_eq!(body["error"], "token_revoked", "{body}");
                break;
            }
            assert_eq!(status, StatusCode::OK, "{body}");
            assert!(
                revoked_at.elapsed() < REVOCATION_BOUND,
                "{} still admits the revoked token after {:?}",
                server.url,
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(revoked_at.elapsed() < REVOCATION_BOUND);
}
