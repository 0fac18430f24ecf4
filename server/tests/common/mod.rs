//! Test support: run the real `casweb-server` binary on a free loopback port with a temporary
//! data directory, create and revoke tokens with the real `token` commands, talk to it over
//! HTTP (realm routes and the admin API), and collect bad-input cases. Every server started
//! here is killed when its handle is dropped.
//!
//! The backend is redb unless `CASWEB_TEST_STORE=postgres+s3` (scripts/server-backend-test.sh
//! sets it with `CASWEB_TEST_POSTGRES_URL`, `CASWEB_TEST_S3_ENDPOINT`, `CASWEB_TEST_S3_BUCKET`
//! and the AWS credentials of its throwaway servers): then every process started for a data
//! directory gets a PostgreSQL schema and an S3 prefix of its own, named after that directory,
//! so tests running in parallel never share state and a restart on the same directory finds
//! its data again.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod dht;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use casweb::chunker::{chunk_file, ChunkOptions};
use casweb::Key;
use reqwest::StatusCode;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_casweb-server");

/// The PostgreSQL + S3 services of a `CASWEB_TEST_STORE=postgres+s3` run.
pub struct SharedBackend {
    pub postgres_url: String,
    pub s3_endpoint: String,
    pub s3_bucket: String,
}

/// The shared backend the tests run against, if `CASWEB_TEST_STORE=postgres+s3`; `None` for
/// redb (the default). Any other value, or a missing variable, is a failure, not a skip.
pub fn shared_backend() -> Option<SharedBackend> {
    let store = std::env::var("CASWEB_TEST_STORE").ok()?;
    assert_eq!(
        store, "postgres+s3",
        "CASWEB_TEST_STORE is redb (unset) or postgres+s3"
    );
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    Some(SharedBackend {
        postgres_url: var("CASWEB_TEST_POSTGRES_URL"),
        s3_endpoint: var("CASWEB_TEST_S3_ENDPOINT"),
        s3_bucket: var("CASWEB_TEST_S3_BUCKET"),
    })
}

/// The environment selecting the backend for a process working on `data_dir`: nothing for
/// redb; for postgres+s3 the services, a schema and an object prefix named after the directory.
pub fn backend_env(data_dir: &Path) -> Vec<(&'static str, String)> {
    let Some(shared) = shared_backend() else {
        return Vec::new();
    };
    let hash = blake3::hash(data_dir.as_os_str().as_encoded_bytes()).to_hex();
    let name = format!("t_{}", &hash.as_str()[..16]);
    vec![
        ("CASWEB_STORE", "postgres+s3".to_owned()),
        ("CASWEB_POSTGRES_URL", shared.postgres_url),
        ("CASWEB_POSTGRES_SCHEMA", name.clone()),
        ("CASWEB_POSTGRES_POOL", "4".to_owned()),
        ("CASWEB_S3_ENDPOINT", shared.s3_endpoint),
        ("CASWEB_S3_BUCKET", shared.s3_bucket),
        ("CASWEB_S3_PREFIX", format!("{name}/")),
    ]
}

/// Says on stderr, past the test harness's capture (so it shows even when the test passes),
/// that `test` was skipped and why.
pub fn skipped(test: &str, why: &str) {
    let line = format!("{test}: SKIPPED {why}\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
}

/// What a running server may take to see a revocation made by another process: nothing on
/// redb (the token file is checked at every request), one token refresh interval (250 ms by
/// default) plus slack on postgres+s3.
pub fn revocation_delay() -> std::time::Duration {
    match shared_backend() {
        Some(_) => std::time::Duration::from_millis(400),
        None => std::time::Duration::ZERO,
    }
}

/// `casweb-server` with the backend environment of `data_dir`.
pub fn casweb(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.envs(backend_env(data_dir));
    command
}

/// A running server process.
pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    /// Printed by `--dev`.
    pub dev_token: Option<String>,
    extra: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts a server on a fresh temporary data directory with extra `serve` arguments.
    pub fn start(extra: &[&str]) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut server = Server::start_in(&dir, extra);
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` (which the caller keeps alive).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        Server::spawn(data_dir, extra, Stdio::inherit())
    }

    /// Starts a server on a fresh temporary data directory whose log (stderr) the caller reads.
    pub fn start_with_log(extra: &[&str]) -> (Server, std::process::ChildStderr) {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_path_buf();
        let mut server = Server::spawn(&dir, extra, Stdio::piped());
        server._temp = Some(temp);
        let log = server.child.stderr.take().expect("stderr");
        (server, log)
    }

    fn spawn(data_dir: &Path, extra: &[&str], stderr: Stdio) -> Server {
        let mut child = casweb(data_dir)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn casweb-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut url = None;
        let mut dev_token = None;
        let dev = extra.contains(&"--dev");
        while let Some(Ok(line)) = lines.next() {
            if let Some(rest) = line.strip_prefix("listening on ") {
                url = Some(rest.to_string());
            } else if let Some(rest) = line.strip_prefix("token: ") {
                dev_token = Some(rest.to_string());
            }
            if url.is_some() && (!dev || line.starts_with("open: ")) {
                break;
            }
        }
        let Some(url) = url else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("casweb-server did not print its address");
        };
        Server {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            dev_token,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            _temp: None,
        }
    }

    /// SIGKILLs the process (no graceful shutdown).
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// SIGKILLs the process (no graceful shutdown) and starts a new one on the same data dir.
    pub fn kill_and_restart(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let mut next = Server::start_in(&self.data_dir, &extra);
        std::mem::swap(&mut self.child, &mut next.child);
        self.url = next.url.clone();
        // `next` now holds the dead child; dropping it is harmless.
    }

    /// Creates a token for `realm` with `casweb-server token create` (works while serving).
    pub fn token(&self, realm: &str) -> String {
        create_token(&self.data_dir, realm)
    }

    pub fn client(&self, realm: &str, token: &str) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            realm: realm.to_string(),
            token: token.to_string(),
        }
    }

    /// A client for a new realm with a fresh token.
    pub fn new_realm(&self, realm: &str) -> Client {
        let token = self.token(realm);
        self.client(realm, &token)
    }

    /// Runs `casweb-server token ARGS --data-dir <this server's>`; its output.
    pub fn token_cli(&self, args: &[&str]) -> std::process::Output {
        casweb(&self.data_dir)
            .arg("token")
            .args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run casweb-server token")
    }

    /// A new admin token (`token create --admin`).
    pub fn admin_token(&self) -> String {
        let output = self.token_cli(&["create", "--admin"]);
        assert!(output.status.success(), "token create --admin: {output:?}");
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// The admin API with `credential` as bearer token.
    pub fn admin(&self, credential: &str) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            credential: credential.to_owned(),
        }
    }
}

/// The admin API (`/api/admin/realms/{realm}/tokens`) with one credential.
#[derive(Clone)]
pub struct Admin {
    pub http: reqwest::Client,
    pub base: String,
    pub credential: String,
}

impl Admin {
    pub fn url(&self, realm: &str) -> String {
        format!("{}/api/admin/realms/{realm}/tokens", self.base)
    }

    fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("Authorization", format!("Bearer {}", self.credential))
    }

    /// `POST` with any JSON body.
    pub async fn mint_body(&self, realm: &str, body: &Value) -> Answer {
        let request = self.auth(self.http.post(self.url(realm))).json(body);
        answer(request.send().await.expect("send")).await
    }

    /// `POST {scope, ttl}`.
    pub async fn mint(&self, realm: &str, scope: &str, ttl: u64) -> Answer {
        self.mint_body(realm, &json!({"scope": scope, "ttl": ttl}))
            .await
    }

    /// Mints and asserts 200; the token's text and id.
    pub async fn mint_ok(&self, realm: &str, scope: &str, ttl: u64) -> (String, String) {
        let (status, body) = self.mint(realm, scope, ttl).await;
        assert_eq!(status, StatusCode::OK, "mint: {body}");
        (
            body["token"].as_str().expect("token").to_owned(),
            body["id"].as_str().expect("id").to_owned(),
        )
    }

    pub async fn list(&self, realm: &str) -> Answer {
        let request = self.auth(self.http.get(self.url(realm)));
        answer(request.send().await.expect("send")).await
    }

    pub async fn revoke(&self, realm: &str, id: &str) -> Answer {
        let url = format!("{}/{id}", self.url(realm));
        let request = self.auth(self.http.delete(url));
        answer(request.send().await.expect("send")).await
    }
}

/// Collects the outcome of bad-input cases so that one run reports every mismatch.
pub struct Cases {
    seen: Vec<String>,
    failures: Vec<String>,
}

impl Cases {
    pub fn new() -> Cases {
        Cases {
            seen: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// Expects `status` and the JSON error `code` (with a message) for the case `name`.
    pub fn expect(
        &mut self,
        name: &str,
        (status, body): Answer,
        want_status: u16,
        want_code: &str,
    ) {
        assert!(
            !self.seen.contains(&name.to_string()),
            "duplicate case {name}"
        );
        self.seen.push(name.to_string());
        let ok = status.as_u16() == want_status
            && body["error"] == want_code
            && body["message"].is_string();
        if !ok {
            self.failures.push(format!(
                "{name}: expected {want_status} {want_code}, got {status} {body}"
            ));
        }
    }

    /// Fails with every mismatch, or if fewer than `at_least` cases ran.
    pub fn finish(self, at_least: usize) {
        assert!(self.failures.is_empty(), "{}", self.failures.join("\n"));
        assert!(
            self.seen.len() >= at_least,
            "only {} cases",
            self.seen.len()
        );
        eprintln!("{} bad-input cases checked", self.seen.len());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn create_token(data_dir: &Path, realm: &str) -> String {
    let output = casweb(data_dir)
        .args(["token", "create", "--realm", realm, "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run token create");
    assert!(output.status.success(), "token create failed: {output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// An HTTP client bound to one realm and token.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub realm: String,
    pub token: String,
}

/// Status and parsed JSON body (Null if the body is not JSON).
pub type Answer = (StatusCode, Value);

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let bytes = response.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

impl Client {
    /// The key of this client's proofs of possession (its own token's).
    pub fn pop_key(&self) -> [u8; 32] {
        casweb::protocol::Credential::parse(&self.token)
            .expect("a token")
            .pop_key()
    }

    pub fn url(&self, tail: &str) -> String {
        format!("{}/api/realm/{}/nodes/{tail}", self.base, self.realm)
    }

    pub fn auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.header("Authorization", format!("Bearer {}", self.token))
    }

    pub async fn put_raw(&self, key: &str, bytes: Vec<u8>) -> Answer {
        let request = self
            .auth(self.http.put(self.url(&format!("raw/{key}"))))
            .header("Content-Type", "application/octet-stream")
            .body(bytes);
        answer(request.send().await.expect("send")).await
    }

    pub async fn put(&self, key: &Key, bytes: &[u8]) -> Answer {
        self.put_raw(&key.to_string(), bytes.to_vec()).await
    }

    /// Puts and asserts 200.
    pub async fn put_ok(&self, key: &Key, bytes: &[u8]) -> bool {
        let (status, body) = self.put(key, bytes).await;
        assert_eq!(status, StatusCode::OK, "put {key}: {body}");
        assert_eq!(body["key"], key.to_string());
        body["stored"].as_bool().expect("stored")
    }

    pub async fn get_raw(&self, key: &str) -> (StatusCode, Bytes) {
        let response = self
            .auth(self.http.get(self.url(&format!("raw/{key}"))))
            .send()
            .await
            .expect("send");
        (response.status(), response.bytes().await.expect("body"))
    }

    pub async fn post_json(&self, tail: &str, body: &Value) -> Answer {
        let request = self.auth(self.http.post(self.url(tail))).json(body);
        answer(request.send().await.expect("send")).await
    }

    /// `POST .../nodes/get`: status and the raw answer body.
    pub async fn get_many(&self, keys: &[Key]) -> (StatusCode, Bytes) {
        let keys: Vec<String> = keys.iter().map(Key::to_string).collect();
        let response = self
            .auth(self.http.post(self.url("get")))
            .json(&json!({ "keys": keys }))
            .send()
            .await
            .expect("send");
        (response.status(), response.bytes().await.expect("body"))
    }

    pub async fn check(&self, keys: &[Key]) -> Value {
        let keys: Vec<String> = keys.iter().map(Key::to_string).collect();
        let (status, body) = self.post_json("check", &json!({ "keys": keys })).await;
        assert_eq!(status, StatusCode::OK, "check: {body}");
        body
    }

    pub async fn claim(&self, key: &Key, pop: &str) -> Answer {
        self.post_json(&format!("{key}/claim"), &json!({ "pop": pop }))
            .await
    }

    pub fn pop(&self, bytes: &[u8]) -> String {
        casweb::pop::proof_with_key(&self.pop_key(), bytes)
    }

    pub async fn batch(&self, nodes: &[&[u8]]) -> Answer {
        let body = casweb::batch::encode(nodes.iter().copied());
        self.batch_body(body).await
    }

    pub async fn batch_body(&self, body: Vec<u8>) -> Answer {
        let request = self
            .auth(self.http.post(self.url("batch")))
            .header("Content-Type", "application/octet-stream")
            .body(body);
        answer(request.send().await.expect("send")).await
    }
}

/// Deterministic pseudo-random bytes.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The nodes of a file DAG made with casweb's chunker, children first (root last).
pub fn file_nodes(seed: u64, len: usize, chunk_size: usize) -> Vec<(Key, Vec<u8>)> {
    let options = ChunkOptions {
        chunk_size,
        content_type: "application/octet-stream".into(),
    };
    let dag = chunk_file(&data(seed, len), &options).expect("chunk");
    dag.nodes
        .into_iter()
        .map(|(key, bytes)| (key, bytes.to_vec()))
        .collect()
}

/// A small leaf node (a one-piece file) distinct per seed.
pub fn leaf(seed: u64) -> (Key, Vec<u8>) {
    let bytes = casweb::node::encode_successor(&[], &data(seed, 40), 0).expect("encode");
    (Key::for_bytes(&bytes), bytes)
}

/// A dict node over named children.
pub fn dict(entries: &[(&str, Key)]) -> (Key, Vec<u8>) {
    let bytes = casweb::node::encode_dict(entries).expect("encode");
    (Key::for_bytes(&bytes), bytes)
}

pub fn keys_of(value: &Value, field: &str) -> Vec<String> {
    value[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is not a list in {value}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}
