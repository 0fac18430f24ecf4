//! Benchmark, not a test (run by scripts/p2p-bench.sh against a local 20-node DHT): getProviders
//! latency per transport, and the WebSocket transport with and without the prompt flush. Prints
//! one `P2P_BENCH {json}` line; asserts nothing about speed.
#![cfg(all(target_arch = "wasm32", feature = "p2p"))]

use std::rc::Rc;

use wasm_bindgen_test::*;

use casweb::p2p::{ConnectOptions, LookupOptions, P2pNode, TransportKind};
use casweb::{node, Key};

wasm_bindgen_test_configure!(run_in_browser);

const WARM_UP: usize = 5;
const SAMPLES: usize = 40;

fn bootstrap() -> Vec<String> {
    let Some(list) = option_env!("CASWEB_BENCH_BOOTSTRAP") else {
        panic!("CASWEB_BENCH_BOOTSTRAP is not set: run scripts/p2p-bench.sh lookups");
    };
    list.split(',').map(str::to_string).collect()
}

/// `performance.now()`, read through the global object (no extra web-sys feature needed).
fn now() -> f64 {
    let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let now: js_sys::Function = js_sys::Reflect::get(&performance, &"now".into())
        .unwrap()
        .into();
    now.call0(&performance).unwrap().as_f64().unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

async fn connect(transport: TransportKind, prompt_websocket_flush: bool) -> P2pNode {
    let options = ConnectOptions {
        transports: vec![transport],
        timeout_ms: 30_000,
        prompt_websocket_flush,
        ..ConnectOptions::new(bootstrap())
    };
    P2pNode::connect(options, Rc::new(|_| {}))
        .await
        .expect("connect")
}

/// Announces keys from one node and times lookups from another, both in this page.
async fn measure(
    name: &str,
    transport: TransportKind,
    prompt: bool,
    options: LookupOptions,
) -> String {
    let provider = connect(transport, prompt).await;
    let seeker = connect(transport, prompt).await;
    let keys: Vec<Key> = (0..WARM_UP + SAMPLES)
        .map(|i| {
            let data = format!("bench/{name}/{i}/{}", js_sys::Math::random());
            Key::for_bytes(&node::encode_successor(&[], data.as_bytes(), 0).unwrap())
        })
        .collect();
    let started = now();
    for key in &keys {
        provider.start_provide(key).await.expect("provide");
    }
    let announce_ms = (now() - started) / keys.len() as f64;
    let mut times = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let start = now();
        let found = seeker.get_providers(key, options).await.expect("lookup");
        let elapsed = now() - start;
        assert_eq!(found.len(), 1, "{name}: key {i} not found");
        if i >= WARM_UP {
            times.push(elapsed);
        }
    }
    times.sort_by(f64::total_cmp);
    provider.close().await;
    seeker.close().await;
    format!(
        "{{\"name\":\"{name}\",\"samples\":{},\"p50_ms\":{:.1},\"p95_ms\":{:.1},\"max_ms\":{:.1},\"announce_ms\":{:.1}}}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times[times.len() - 1],
        announce_ms
    )
}

/// `limit: 1`: the lookup ends at the first provider.
const FIRST: LookupOptions = LookupOptions {
    limit: 1,
    timeout_ms: 20_000,
};

#[wasm_bindgen_test]
async fn get_providers_latency() {
    let mut rows = Vec::new();
    // Alternate the contenders twice so a noisy moment does not favour one.
    for round in 0..2 {
        rows.push(
            measure(
                &format!("webrtc-direct#{round}"),
                TransportKind::WebRtcDirect,
                true,
                FIRST,
            )
            .await,
        );
        rows.push(
            measure(
                &format!("websocket#{round}"),
                TransportKind::WebSocket,
                true,
                FIRST,
            )
            .await,
        );
        rows.push(
            measure(
                &format!("websocket-stock-flush#{round}"),
                TransportKind::WebSocket,
                false,
                FIRST,
            )
            .await,
        );
    }
    // Default options (limit 20, 10 s): the lookup ends when the query has asked the closest
    // peers, not at the first provider.
    for round in 0..2 {
        for (name, transport) in [
            ("webrtc-direct-defaults", TransportKind::WebRtcDirect),
            ("websocket-defaults", TransportKind::WebSocket),
        ] {
            let options = LookupOptions::default();
            rows.push(measure(&format!("{name}#{round}"), transport, true, options).await);
        }
    }
    console_log!("P2P_BENCH [{}]", rows.join(","));
}
