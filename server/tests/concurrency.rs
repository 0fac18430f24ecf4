//! Concurrency: 50 clients in 5 realms put overlapping DAGs at once, children first. No node
//! is lost, nothing but 200s, exactly one `stored: true` per (realm, node), and afterwards
//! every realm owns every node it uploaded.

mod common;

use std::collections::{HashMap, HashSet};

use casweb::Key;
use common::{dict, file_nodes, keys_of, Client, Server};
use reqwest::StatusCode;

const CLIENTS: usize = 50;
const REALMS: usize = 5;
const SHARED_FILES: u64 = 6;

/// The DAG client `i` uploads, children first: three of the shared files, one file of its own
/// and a dict over them.
fn dag_for(i: usize, shared: &[Vec<(Key, Vec<u8>)>]) -> Vec<(Key, Vec<u8>)> {
    let mut nodes = Vec::new();
    let mut entries = Vec::new();
    for offset in 0..3 {
        let file = &shared[(i + offset) % shared.len()];
        nodes.extend(file.iter().cloned());
        entries.push((
            format!("shared-{}", (i + offset) % shared.len()),
            file.last().expect("root").0,
        ));
    }
    let own = file_nodes(1_000 + i as u64, 3000, 512);
    entries.push(("own".to_string(), own.last().expect("root").0));
    nodes.extend(own);
    let named: Vec<(&str, Key)> = entries.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    nodes.push(dict(&named));
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_clients_with_overlapping_dags() {
    let server = Server::start(&[]);
    let realms: Vec<Client> = (0..REALMS)
        .map(|r| server.new_realm(&format!("realm{r}")))
        .collect();
    let shared: Vec<_> = (0..SHARED_FILES)
        .map(|s| file_nodes(s, 4000, 512))
        .collect();

    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let client = realms[i % REALMS].clone();
        let nodes = dag_for(i, &shared);
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            // Half the clients use single puts, half use batches of a few nodes.
            if i % 2 == 0 {
                for (key, bytes) in &nodes {
                    let (status, body) = client.put(key, bytes).await;
                    assert_eq!(status, StatusCode::OK, "client {i} put {key}: {body}");
                    outcomes.push((*key, body["stored"].as_bool().expect("stored")));
                }
            } else {
                for group in nodes.chunks(4) {
                    let frames: Vec<&[u8]> = group.iter().map(|(_, b)| b.as_slice()).collect();
                    let (status, body) = client.batch(&frames).await;
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
            assert_eq!(
                *count, 1,
                "realm{r} node {key}: stored:true reported {count} times"
            );
            all.insert(*key);
        }
        let keys: Vec<Key> = counts.keys().copied().collect();
        for chunk in keys.chunks(1000) {
            let check = realms[r].check(chunk).await;
            assert_eq!(
                keys_of(&check, "owned").len(),
                chunk.len(),
                "realm{r}: {check}"
            );
        }
    }
    // Every node can be read back intact by some realm that uploaded it.
    for (r, counts) in stored.iter().enumerate() {
        for key in counts.keys().take(40) {
            let (status, bytes) = realms[r].get_raw(&key.to_string()).await;
            assert_eq!(status, StatusCode::OK);
            assert!(key.matches(&bytes));
        }
    }
    assert!(all.len() > 200, "only {} distinct nodes", all.len());
}
