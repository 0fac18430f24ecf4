//! Where the browser tests find the servers that `scripts/browser-test.sh` starts, read at run
//! time from the `target/browser-test/config.json` the script writes (the test runner serves
//! the crate's directory), so new ports and tokens do not recompile the test crates. Include it
//! from a browser test with `#[path = "support/server.rs"] mod server;`.
//!
//! Each function panics with a clear message when its value is missing: browser tests that
//! need a server must run through `scripts/browser-test.sh`.
#![allow(dead_code)]

use std::collections::HashMap;

use wasm_bindgen::prelude::*;

/// Where `scripts/browser-test.sh` writes the configuration, from the crate's directory.
const CONFIG_PATH: &str = "/target/browser-test/config.json";

thread_local! {
    static CONFIG: HashMap<String, &'static str> = load_config();
}

fn load_config() -> HashMap<String, &'static str> {
    let Some(text) = read_text_sync(CONFIG_PATH) else {
        return HashMap::new();
    };
    let values: HashMap<String, String> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{CONFIG_PATH} is not a JSON object of strings: {e}"));
    values
        .into_iter()
        .map(|(name, value)| (name, &*Box::leak(value.into_boxed_str())))
        .collect()
}

fn required(name: &str) -> &'static str {
    match CONFIG.with(|config| config.get(name).copied()) {
        Some(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not in {CONFIG_PATH}: run the browser tests through \
             scripts/browser-test.sh (it starts the test servers and writes their addresses)"
        ),
    }
}

/// Base URL of the main server (realms `alpha` and `beta`).
pub fn server_url() -> &'static str {
    required("CASWEB_TEST_SERVER")
}

/// A token of realm `alpha` on the main server.
pub fn token_alpha() -> &'static str {
    required("CASWEB_TEST_TOKEN_ALPHA")
}

/// Base URLs of the two replicas of one postgres+s3 backend.
pub fn replica_urls() -> [&'static str; 2] {
    [
        required("CASWEB_TEST_REPLICA_A"),
        required("CASWEB_TEST_REPLICA_B"),
    ]
}

/// A token of realm `alpha` on the replicas.
pub fn replica_token_alpha() -> &'static str {
    required("CASWEB_TEST_REPLICA_TOKEN_ALPHA")
}

/// A token of realm `beta` on the main server.
pub fn token_beta() -> &'static str {
    required("CASWEB_TEST_TOKEN_BETA")
}

/// Base URL of the server that answers 503 `injected_fault` to 30% of realm requests.
pub fn faulty_server_url() -> &'static str {
    required("CASWEB_TEST_FAULTY_SERVER")
}

/// A token of realm `alpha` on the faulty server.
pub fn faulty_token_alpha() -> &'static str {
    required("CASWEB_TEST_FAULTY_TOKEN_ALPHA")
}

/// A token of realm `beta` on the faulty server.
pub fn faulty_token_beta() -> &'static str {
    required("CASWEB_TEST_FAULTY_TOKEN_BETA")
}

/// A server injecting 503s into `percent` % (20 or 50) of realm requests, and a token of its
/// realm `alpha`.
pub fn faulty_server(percent: u32) -> (&'static str, &'static str) {
    match percent {
        20 => (
            required("CASWEB_TEST_FAULTY20_SERVER"),
            required("CASWEB_TEST_FAULTY20_TOKEN"),
        ),
        50 => (
            required("CASWEB_TEST_FAULTY50_SERVER"),
            required("CASWEB_TEST_FAULTY50_TOKEN"),
        ),
        other => panic!("no test server injects {other}% of faults"),
    }
}

/// Base URL of the control service (`scripts/test_control.py`).
pub fn control_url() -> &'static str {
    required("CASWEB_TEST_CONTROL")
}

/// A base URL under which every request hangs (no answer for 5 s): for timeout tests.
pub fn hanging_url() -> String {
    format!("{}/hang", control_url())
}

// In tests/js/helpers.js, not an inline snippet: every snippet is one more module the test page
// fetches at once, and wasm-bindgen-test-runner's server stalls the 7th parallel request (the
// page then hangs in "Loading scripts..." until the runner's 300 s timeout).
#[wasm_bindgen(module = "/tests/js/helpers.js")]
extern "C" {
    #[wasm_bindgen(js_name = controlPost, catch)]
    async fn control_post(url: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = readTextSync)]
    fn read_text_sync(path: &str) -> Option<String>;
}

async fn control(action: &str) {
    let url = format!("{}/main/{action}", control_url());
    if let Err(error) = control_post(&url).await {
        panic!("control {action} failed: {error:?}");
    }
}

/// Kills the main server (SIGKILL) and resolves once its port is closed.
pub async fn control_stop_main() {
    control("stop").await;
}

/// Restarts the main server (same port and data) and resolves once it answers `/api/info`.
pub async fn control_start_main() {
    control("start").await;
}

/// The bootstrap multiaddrs a casweb server lists at `GET /api/p2p`.
pub async fn p2p_bootstrap(url: &str) -> Vec<String> {
    use wasm_bindgen::JsCast as _;
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().unwrap();
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(&format!("{url}/api/p2p")))
            .await
            .unwrap()
            .dyn_into()
            .unwrap();
    let body = JsFuture::from(response.json().unwrap()).await.unwrap();
    js_sys::Array::from(&js_sys::Reflect::get(&body, &"addrs".into()).unwrap())
        .iter()
        .map(|a| a.as_string().unwrap())
        .collect()
}

/// Bootstrap multiaddrs (WebSocket and WebRTC-direct) of the second local DHT, whose nodes keep
/// provider records for 3 s only.
pub fn short_ttl_bootstrap() -> Vec<String> {
    required("CASWEB_TEST_SHORT_TTL_BOOTSTRAP")
        .split(',')
        .map(str::to_string)
        .collect()
}
