//! Native tests of one sync pass (`sync::sync_nodes`) against an in-memory model of the
//! server's rules: request counts per level, claims vs uploads, ordering, failures kept.
#![cfg(not(target_arch = "wasm32"))]

#[path = "support/fake_server.rs"]
mod fake_server;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use futures::executor::block_on;

use casweb::chunker::{chunk_file, ChunkOptions, FileDag};
use casweb::node;
use casweb::sync::{sync_nodes, sync_nodes_reporting, KeyStatus, SyncResult, UPLOADS_IN_FLIGHT};
use casweb::{Error, Key, Result};
use fake_server::FakeServer;

fn builtin_children(_key: Key, bytes: &[u8]) -> Result<Vec<Key>> {
    Ok(node::child_keys(bytes)?)
}

/// A real file DAG of about `len / 112` leaves (128-byte nodes), nodes shuffled so the engine
/// has to sort them.
fn dag(len: usize) -> (FileDag, Vec<(Key, Bytes)>) {
    let data: Vec<u8> = (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let options = ChunkOptions {
        chunk_size: 128,
        ..Default::default()
    };
    let dag = chunk_file(&data, &options).unwrap();
    let mut shuffled = dag.nodes.clone();
    shuffled.reverse();
    let third = shuffled.len() / 3;
    shuffled.rotate_left(third);
    (dag, shuffled)
}

fn sync(server: &FakeServer, nodes: &[(Key, Bytes)]) -> SyncResult {
    block_on(sync_nodes(
        server,
        nodes,
        &HashSet::new(),
        &builtin_children,
        &|_, _, _| {},
    ))
}

#[test]
fn a_dag_is_uploaded_with_one_check_and_one_put_per_level() {
    let (dag, nodes) = dag(100_000);
    let depth = dag.levels().count();
    assert!(
        nodes.len() > 900 && depth >= 4,
        "{} nodes, depth {depth}",
        nodes.len()
    );
    let server = FakeServer::default();
    let result = sync(&server, &nodes);
    assert_eq!(result.synced.len(), nodes.len());
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_eq!(server.count("check"), depth);
    assert_eq!(server.count("put"), depth);
    assert_eq!(server.count("claim"), 0);
    assert!(server.owned.borrow().contains(&dag.root));

    // A second pass finds everything owned: one check per level, nothing sent.
    let again = sync(&server, &nodes);
    assert_eq!(again.skipped.len(), nodes.len());
    assert_eq!(server.count("put"), depth);
    assert_eq!(server.count("check"), 2 * depth);
}

#[test]
fn each_level_is_checked_while_the_level_below_it_uploads() {
    let (dag, nodes) = dag(20_000);
    let depth = dag.levels().count();
    let server = FakeServer::default();
    server.slow_puts.set(true);
    let result = sync(&server, &nodes);
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_eq!(result.synced.len(), nodes.len());
    // check 0, put 0, check 1 (sent before put 0 is acknowledged), put 1, check 2, ...
    let log = server.requests.borrow();
    let kinds: Vec<&str> = log.iter().map(|(kind, _)| *kind).collect();
    let expected: Vec<&str> = (0..depth).flat_map(|_| ["check", "put"]).collect();
    assert_eq!(kinds, expected);
    let stored_after = server.stored_after.borrow();
    for level in 0..depth - 1 {
        assert!(
            stored_after[level] > 2 * level + 2,
            "level {level}: the next level's check came after its upload was acknowledged"
        );
    }
    assert_eq!(server.count("check"), depth);
    assert_eq!(server.count("put"), depth);
}

#[test]
fn nodes_stored_by_another_realm_are_claimed_not_uploaded() {
    let (_, nodes) = dag(5_000);
    let server = FakeServer::default();
    server.stored.borrow_mut().extend(nodes.iter().cloned());
    let result = sync(&server, &nodes);
    assert_eq!(result.synced.len(), nodes.len());
    assert_eq!(server.count("put"), 0);
    assert!(server.count("claim") > 0);
}

#[test]
fn a_claim_refused_because_the_node_vanished_is_retried_as_an_upload() {
    let (dag, nodes) = dag(500);
    let server = FakeServer::default();
    server.stored.borrow_mut().extend(nodes.iter().cloned());
    server.vanish_on_claim.borrow_mut().insert(dag.root);
    let result = sync(&server, &nodes);
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    assert!(server.owned.borrow().contains(&dag.root));
    assert_eq!(server.count("put"), 1);
}

#[test]
fn a_failed_check_keeps_that_level_and_everything_above_it_pending() {
    let (dag, nodes) = dag(20_000);
    let levels: Vec<Vec<Key>> = dag
        .levels()
        .map(|l| l.iter().map(|(k, _)| *k).collect())
        .collect();
    let server = FakeServer::default();
    server.fail_check_number.set(2);
    let result = sync(&server, &nodes);
    assert_eq!(result.synced.len(), levels[0].len());
    assert_eq!(result.failed.len(), nodes.len() - levels[0].len());
    assert!(result.failed.iter().all(|(_, e)| e.is_transient()));
    assert_eq!(
        result.synced.len() + result.skipped.len() + result.failed.len(),
        nodes.len()
    );
    assert!(!server.sent(&dag.root));
}

#[test]
fn a_refused_node_blocks_its_ancestors_which_are_never_sent() {
    let (dag, nodes) = dag(20_000);
    let leaf = dag.levels().next().unwrap()[3].0;
    let server = FakeServer::default();
    server.refuse.borrow_mut().insert(leaf);
    let result = sync(&server, &nodes);
    let failed: HashMap<Key, Error> = result.failed.iter().cloned().collect();
    assert_eq!(failed[&leaf].code(), "rejected");
    assert_eq!(failed[&dag.root].code(), "child_not_synced");
    assert!(
        !failed[&dag.root].is_transient(),
        "a refusal is not retried blindly"
    );
    assert!(
        !server.sent(&dag.root),
        "a parent was sent before its child was owned"
    );
    assert_eq!(
        failed.len(),
        dag.levels().count(),
        "the leaf and one ancestor per level"
    );
    assert_eq!(result.synced.len(), nodes.len() - failed.len());
}

#[test]
fn cycles_and_failing_child_key_functions_are_typed_errors() {
    let (a, b, c, d) = (
        Key::for_bytes(b"a"),
        Key::for_bytes(b"b"),
        Key::for_bytes(b"c"),
        Key::for_bytes(b"d"),
    );
    let nodes: Vec<(Key, Bytes)> = [(a, "a"), (b, "b"), (c, "c"), (d, "d")]
        .iter()
        .map(|(k, text)| (*k, Bytes::from(text.as_bytes().to_vec())))
        .collect();
    let children = move |key: Key, _: &[u8]| -> Result<Vec<Key>> {
        if key == a {
            Ok(vec![b])
        } else if key == b {
            Ok(vec![a])
        } else if key == c {
            Err(Error::ChildKeys("not a node".into()))
        } else {
            Ok(vec![])
        }
    };
    let server = FakeServer::default();
    let result = block_on(sync_nodes(
        &server,
        &nodes,
        &HashSet::new(),
        &children,
        &|_, _, _| {},
    ));
    let failed: HashMap<Key, &str> = result.failed.iter().map(|(k, e)| (*k, e.code())).collect();
    assert_eq!(failed[&a], "cycle");
    assert_eq!(failed[&b], "cycle");
    assert_eq!(failed[&c], "child_keys_failed");
    assert_eq!(result.synced, vec![d]);
}

#[test]
fn observers_see_uploading_then_done_and_skipped_keys_only_done() {
    let (_, nodes) = dag(2_000);
    let server = FakeServer::default();
    let events: RefCell<Vec<(Key, KeyStatus)>> = RefCell::default();
    let observe = |key: Key, status: KeyStatus, _: Option<&Error>| {
        events.borrow_mut().push((key, status));
    };
    block_on(sync_nodes(
        &server,
        &nodes,
        &HashSet::new(),
        &builtin_children,
        &observe,
    ));
    for (key, _) in &nodes {
        let statuses: Vec<KeyStatus> = events
            .borrow()
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(statuses, vec![KeyStatus::Uploading, KeyStatus::Done]);
    }
    events.borrow_mut().clear();
    block_on(sync_nodes(
        &server,
        &nodes,
        &HashSet::new(),
        &builtin_children,
        &observe,
    ));
    assert!(events.borrow().iter().all(|(_, s)| *s == KeyStatus::Done));
    assert_eq!(events.borrow().len(), nodes.len());
}

#[test]
fn nodes_above_a_held_back_child_are_deferred_not_sent() {
    let (dag, nodes) = dag(5_000);
    let leaf = dag.levels().next().unwrap()[0].0;
    let without_leaf: Vec<(Key, Bytes)> =
        nodes.iter().filter(|(k, _)| *k != leaf).cloned().collect();
    let server = FakeServer::default();
    let held_back = HashSet::from([leaf]);
    let result = block_on(sync_nodes(
        &server,
        &without_leaf,
        &held_back,
        &builtin_children,
        &|_, _, _| {},
    ));
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert!(result.deferred.contains(&dag.root));
    assert_eq!(
        result.deferred.len(),
        dag.levels().count() - 1,
        "one ancestor per level"
    );
    assert_eq!(
        result.synced.len() + result.deferred.len(),
        without_leaf.len()
    );
    assert!(!server.sent(&dag.root));
}

/// A pass over `nodes` recording, for each report of owned keys, the keys and how many upload
/// requests the server had received by then.
fn sync_recording_reports(
    server: &FakeServer,
    nodes: &[(Key, Bytes)],
) -> (SyncResult, Vec<(Vec<Key>, usize)>) {
    let reports = RefCell::new(Vec::new());
    let result = block_on(sync_nodes_reporting(
        server,
        nodes,
        &HashSet::new(),
        &builtin_children,
        &|_, _, _| {},
        &|keys| reports.borrow_mut().push((keys, server.count("put"))),
    ));
    (result, reports.into_inner())
}

#[test]
fn each_upload_request_is_reported_owned_as_soon_as_it_is_acknowledged() {
    let (dag, nodes) = dag(5_000);
    let leaves = dag.levels().next().unwrap().len();
    assert!(leaves > 20, "{leaves} leaves");
    let server = FakeServer::default();
    server.max_batch_nodes.set(Some(7));
    let (result, reports) = sync_recording_reports(&server, &nodes);
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());

    // The leaves go up in requests of 7, and each request's keys are reported before the next
    // request is sent.
    let leaf_reports: Vec<&(Vec<Key>, usize)> = reports.iter().take(leaves.div_ceil(7)).collect();
    for (index, (keys, puts_by_then)) in leaf_reports.iter().enumerate() {
        assert_eq!(*puts_by_then, index + 1, "report {index} came late");
        assert_eq!(keys.len(), 7.min(leaves - 7 * index));
    }
    let reported: HashSet<Key> = reports.iter().flat_map(|(keys, _)| keys.clone()).collect();
    let synced: HashSet<Key> = result.synced.iter().copied().collect();
    assert_eq!(reported, synced, "every synced key is reported once");
    assert_eq!(
        reports.iter().map(|(keys, _)| keys.len()).sum::<usize>(),
        nodes.len()
    );
}

#[test]
fn a_level_is_uploaded_with_two_requests_in_flight_never_more() {
    let (dag, nodes) = dag(5_000);
    let leaves = dag.levels().next().unwrap().len();
    let server = FakeServer::default();
    server.slow_puts.set(true);
    server.max_batch_nodes.set(Some(7));
    let (result, reports) = sync_recording_reports(&server, &nodes);
    assert!(result.failed.is_empty(), "{:?}", result.failed.first());
    assert_eq!(
        reports.iter().map(|(keys, _)| keys.len()).sum::<usize>(),
        nodes.len()
    );

    // When each leaf request was stored: how many upload requests had been sent by then.
    let log = server.requests.borrow();
    let stored_after = server.stored_after.borrow();
    let in_flight: Vec<usize> = stored_after
        .iter()
        .take(leaves.div_ceil(7))
        .enumerate()
        .map(|(stored, &logged)| {
            let sent = log[..logged]
                .iter()
                .filter(|(kind, _)| *kind == "put")
                .count();
            sent - stored
        })
        .collect();
    assert_eq!(UPLOADS_IN_FLIGHT, 2);
    assert!(
        in_flight.iter().all(|&n| n <= UPLOADS_IN_FLIGHT),
        "{in_flight:?}"
    );
    assert_eq!(
        in_flight.iter().max(),
        Some(&UPLOADS_IN_FLIGHT),
        "{in_flight:?}"
    );
}

#[test]
fn a_failed_upload_request_fails_the_rest_of_its_level_without_sending_it() {
    let (dag, nodes) = dag(5_000);
    let leaves = dag.levels().next().unwrap().len();
    let server = FakeServer::default();
    server.max_batch_nodes.set(Some(7));
    server.fail_put_number.set(2);
    let (result, reports) = sync_recording_reports(&server, &nodes);

    assert_eq!(
        server.count("put"),
        2,
        "nothing sent after the failed request"
    );
    assert_eq!(
        reports.len(),
        1,
        "only the first request made anything owned"
    );
    assert_eq!(result.synced.len(), 7);
    assert_eq!(result.failed.len(), nodes.len() - 7);
    let network = result
        .failed
        .iter()
        .filter(|(_, error)| matches!(error, Error::Network(_)))
        .count();
    assert_eq!(
        network,
        leaves - 7,
        "the failed request's leaves and the unsent ones"
    );
    assert!(result
        .failed
        .iter()
        .any(|(key, error)| *key == dag.root && matches!(error, Error::ChildNotSynced { .. })));
}
