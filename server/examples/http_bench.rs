//! Loopback benchmark of the reference server: single puts, batch puts, checks and gets.
//!
//! Runs the server in-process on 127.0.0.1 (port 0, temporary data directory, durable commits
//! as in production) and drives it with concurrent HTTP clients. Arguments are extra `serve`
//! flags (e.g. `--store postgres+s3 --postgres-url ...`); `BENCH_REPLICAS=N` starts N servers on
//! that backend and spreads the requests over them round-robin (scripts/bench-backends.sh):
//!
//! ```text
//! cargo run --release -p casweb-server --example http_bench [-- SERVE FLAGS]
//! ```

use std::time::Instant;

use casweb::{node, Key};
use casweb_server::config::{Cli, Command};
use clap::Parser;
use futures::stream::{self, StreamExt};
use serde_json::json;

const CONCURRENCY: usize = 32;
const PUTS: usize = 4000;
const BATCH_NODES: usize = 20_000;
const BATCH_SIZE: usize = 100;
const CHECKS: usize = 2000;
const CHECK_KEYS: usize = 100;
const GETS: usize = 4000;
const NODE_DATA: usize = 1024;

fn leaf(seed: usize) -> (Key, Vec<u8>) {
    let mut data = vec![0u8; NODE_DATA];
    data[..8].copy_from_slice(&(seed as u64).to_le_bytes());
    let bytes = node::encode_successor(&[], &data, 0).expect("encode");
    (Key::for_bytes(&bytes), bytes)
}

/// Prints a throughput line and returns the elapsed seconds.
fn report(what: &str, count: usize, unit: &str, started: Instant) -> f64 {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what:<34} {count:>6} {unit} in {seconds:>6.2} s = {:>9.0} {unit}/s",
        count as f64 / seconds
    );
    seconds
}

#[tokio::main]
async fn main() {
    // Server errors (a 500's cause) on stderr; RUST_LOG=info adds a line per request.
    if std::env::var_os("RUST_LOG").is_none() {
        std::env::set_var("RUST_LOG", "warn");
    }
    casweb_server::logging::init(casweb_server::logging::LogFormat::Text);
    let replicas: usize = std::env::var("BENCH_REPLICAS")
        .ok()
        .map_or(1, |n| n.parse().expect("BENCH_REPLICAS is a number"));
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().to_str().expect("utf-8 path");
    let mut arguments: Vec<String> = [
        "casweb-server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-p2p",
        "--data-dir",
        data_dir,
    ]
    .map(String::from)
    .into();
    arguments.extend(std::env::args().skip(1));
    let cli = Cli::try_parse_from(arguments).expect("arguments");
    let Command::Serve(args) = cli.command else {
        unreachable!("serve was parsed")
    };
    let token = casweb_server::backend::open_tokens(&args.store, dir.path())
        .await
        .expect("token log")
        .create_realm_token("bench")
        .await
        .expect("token");
    let bearer = format!("Bearer {}", casweb_server::tokens::encode_token(&token));
    let mut bases = Vec::new();
    for _ in 0..replicas {
        let prepared = casweb_server::server::prepare(&args).await.expect("server");
        bases.push(format!("http://{}/api/realm/bench/nodes", prepared.address));
        tokio::spawn(prepared.run());
    }
    let base_of = |i: usize| &bases[i % bases.len()];
    let http = reqwest::Client::new();
    println!(
        "casweb-server loopback benchmark ({NODE_DATA}-byte nodes, {CONCURRENCY} concurrent requests, store {:?}, {replicas} replica(s))",
        args.store.store
    );

    // Single puts.
    let nodes: Vec<(Key, Vec<u8>)> = (0..PUTS).map(leaf).collect();
    let started = Instant::now();
    stream::iter(nodes.iter().enumerate())
        .for_each_concurrent(CONCURRENCY, |(i, (key, bytes))| {
            let request = http
                .put(format!("{}/raw/{key}", base_of(i)))
                .header("Authorization", &bearer)
                .header("Content-Type", "application/octet-stream")
                .body(bytes.clone())
                .send();
            async move {
                let response = request.await.expect("put");
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert!(status.is_success(), "put: {status} {body}");
            }
        })
        .await;
    report("PUT raw (one node per request)", PUTS, "puts", started);

    // Batch puts.
    let batch_nodes: Vec<(Key, Vec<u8>)> = (PUTS..PUTS + BATCH_NODES).map(leaf).collect();
    let bodies: Vec<Vec<u8>> = batch_nodes
        .chunks(BATCH_SIZE)
        .map(|group| casweb::batch::encode(group.iter().map(|(_, b)| b.as_slice())))
        .collect();
    let started = Instant::now();
    stream::iter(bodies.into_iter().enumerate())
        .for_each_concurrent(CONCURRENCY / 4, |(i, body)| {
            let request = http
                .post(format!("{}/batch", base_of(i)))
                .header("Authorization", &bearer)
                .header("Content-Type", "application/octet-stream")
                .body(body)
                .send();
            async move {
                let response = request.await.expect("batch");
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                assert!(status.is_success(), "batch: {status} {body}");
            }
        })
        .await;
    report(
        &format!("POST batch ({BATCH_SIZE} nodes per request)"),
        BATCH_NODES,
        "nodes",
        started,
    );

    // Checks.
    let all: Vec<String> = nodes
        .iter()
        .chain(&batch_nodes)
        .map(|(k, _)| k.to_string())
        .collect();
    let started = Instant::now();
    stream::iter(0..CHECKS)
        .for_each_concurrent(CONCURRENCY, |i| {
            let start = (i * CHECK_KEYS) % (all.len() - CHECK_KEYS);
            let keys = &all[start..start + CHECK_KEYS];
            let request = http
                .post(format!("{}/check", base_of(i)))
                .header("Authorization", &bearer)
                .json(&json!({ "keys": keys }))
                .send();
            async move {
                let response = request.await.expect("check");
                assert!(
                    response.status().is_success(),
                    "check: {}",
                    response.status()
                );
                let _ = response.bytes().await;
            }
        })
        .await;
    let seconds = report(
        &format!("POST check ({CHECK_KEYS} keys per request)"),
        CHECKS,
        "checks",
        started,
    );
    let keys_per_second = (CHECKS * CHECK_KEYS) as f64 / seconds;
    println!("{:<34} {:>29} = {keys_per_second:>9.0} keys/s", "", "");

    // Gets.
    let started = Instant::now();
    stream::iter(nodes.iter().cycle().take(GETS).enumerate())
        .for_each_concurrent(CONCURRENCY, |(i, (key, _))| {
            let request = http
                .get(format!("{}/raw/{key}", base_of(i)))
                .header("Authorization", &bearer)
                .send();
            async move {
                let response = request.await.expect("get");
                assert!(response.status().is_success(), "get: {}", response.status());
                let _ = response.bytes().await;
            }
        })
        .await;
    report("GET raw", GETS, "gets", started);
}
