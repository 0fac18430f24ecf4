//! Structured logs: with `--log-format json`, one JSON object per line on stderr, and a line per
//! HTTP request with its method, route template (no realm or key in it), status and duration.

mod common;

use std::io::{BufRead, BufReader};

use common::Server;
use serde_json::Value;

#[tokio::test]
async fn every_request_is_logged_as_json_with_its_route_status_and_duration() {
    let (server, log) = Server::start_with_log(&["--log-format", "json", "--no-p2p"]);
    let http = reqwest::Client::new();
    let info = http
        .get(format!("{}/api/info", server.url))
        .send()
        .await
        .expect("info");
    assert_eq!(info.status(), 200);
    let refused = http
        .post(format!("{}/api/realm/secret-realm/nodes/check", server.url))
        .json(&serde_json::json!({ "keys": [] }))
        .send()
        .await
        .expect("check");
    assert_eq!(refused.status(), 401);
    let missing = http
        .get(format!("{}/no/such/page", server.url))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
    drop(server); // kills the process: its log ends

    let lines: Vec<Value> = BufReader::new(log)
        .lines()
        .map(|line| line.expect("log line"))
        .map(|line| serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let request = |route: &str| {
        lines
            .iter()
            .find(|line| line["message"] == "request" && line["route"] == route)
            .unwrap_or_else(|| panic!("no request line for {route} in {lines:#?}"))
            .clone()
    };
    let info = request("/api/info");
    assert_eq!(info["method"], "GET");
    assert_eq!(info["status"], 200);
    assert_eq!(info["level"], "INFO");
    assert!(info["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    let check = request("/api/realm/{realm}/nodes/check");
    assert_eq!(check["method"], "POST");
    assert_eq!(check["status"], 401);
    assert_eq!(request("(unmatched)")["status"], 404);
    let all = serde_json::to_string(&lines).expect("serialize");
    assert!(
        !all.contains("secret-realm"),
        "a realm name reached the log"
    );
}
