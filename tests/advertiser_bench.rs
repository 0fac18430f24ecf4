//! Benchmark, not a test (run by scripts/p2p-bench.sh advertiser against a local DHT): announcements
//! per second of the Advertiser with `maxConcurrent` 1, the default and 50, over WebSocket. Prints
//! one `ADV_BENCH [json]` line (the default limit's row says `"default":true`); asserts nothing
//! about speed.
#![cfg(all(target_arch = "wasm32", feature = "p2p"))]

use std::rc::Rc;

use wasm_bindgen_test::*;

use casweb::p2p::advertiser::{Advertiser, AdvertiserConfig, IdbAdvertStore, ScheduleConfig};
use casweb::p2p::{ConnectOptions, P2pNode, TransportKind};
use casweb::runtime::BrowserRuntime;
use casweb::{node, Key};

wasm_bindgen_test_configure!(run_in_browser);

fn bootstrap() -> Vec<String> {
    let Some(list) = option_env!("CASWEB_BENCH_BOOTSTRAP") else {
        panic!("CASWEB_BENCH_BOOTSTRAP is not set: run scripts/p2p-bench.sh advertiser");
    };
    list.split(',').map(str::to_string).collect()
}

/// Announces `count` fresh keys with at most `limit` in flight; returns (seconds, failures).
async fn measure(limit: usize, count: usize) -> (f64, u64) {
    let options = ConnectOptions {
        transports: vec![TransportKind::WebSocket],
        timeout_ms: 30_000,
        ..ConnectOptions::new(bootstrap())
    };
    let node = P2pNode::connect(options, Rc::new(|_| {}))
        .await
        .expect("connect");
    let config = AdvertiserConfig {
        schedule: ScheduleConfig {
            max_concurrent: limit,
            ..ScheduleConfig::default()
        },
        ..AdvertiserConfig::default()
    };
    let database = format!("adv-bench-{limit}-{}", js_sys::Math::random());
    let advertiser = Advertiser::new(
        node.clone(),
        IdbAdvertStore::new(&database).unwrap(),
        BrowserRuntime,
        config,
    );
    advertiser.start().await.unwrap();
    let started = js_sys::Date::now();
    for i in 0..count {
        let data = format!("adv-bench/{limit}/{i}/{}", js_sys::Math::random());
        let bytes = node::encode_successor(&[], data.as_bytes(), 0).unwrap();
        advertiser.advertise(Key::for_bytes(&bytes)).unwrap();
    }
    while advertiser.advertised_count() < count {
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    let seconds = (js_sys::Date::now() - started) / 1000.0;
    let failures = advertiser.metrics().failures_total;
    advertiser.stop().await.unwrap();
    node.close().await;
    (seconds, failures)
}

#[wasm_bindgen_test]
async fn announcements_per_second() {
    let mut rows = Vec::new();
    let default = ScheduleConfig::default().max_concurrent;
    for (limit, count) in [(1, 50), (default, 1000), (50, 1000)] {
        let (seconds, failures) = measure(limit, count).await;
        rows.push(format!(
            "{{\"limit\":{limit},\"default\":{},\"keys\":{count},\"seconds\":{seconds:.2},\"per_second\":{:.1},\"failures\":{failures}}}",
            limit == default,
            count as f64 / seconds
        ));
    }
    console_log!("ADV_BENCH [{}]", rows.join(","));
}
