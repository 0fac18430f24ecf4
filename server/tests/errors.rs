//! Every refusal: bad keys, bad nodes, missing children, limits, auth, proofs, JSON and content
//! types. Each case asserts the status AND the JSON error code.

mod common;

use std::io::{Read, Write};

use casweb::key::KEY_LEN;
use casweb::{crockford, node, Key};
use common::{answer, dict, leaf, Answer, Cases, Client, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn key_text_with_flag(flag: u8) -> String {
    let mut bytes = [7u8; KEY_LEN];
    bytes[0] = flag;
    crockford::encode16(&bytes)
}

async fn raw_request(
    client: &Client,
    method: reqwest::Method,
    tail: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Answer {
    let mut request = client.http.request(method, client.url(tail));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    answer(request.send().await.expect("send")).await
}

#[tokio::test]
async fn bad_inputs_get_4xx_with_codes() {
    let server = Server::start(&["--max-node-size", "4096", "--max-batch-bytes", "8192"]);
    let a = server.new_realm("a");
    let b = server.new_realm("b");
    let mut cases = Cases::new();

    let (l1, b1) = leaf(1);
    let (l2, b2) = leaf(2);
    a.put_ok(&l1, &b1).await;
    b.put_ok(&l2, &b2).await; // stored, but unowned by realm a
    let good = l1.to_string();

    // --- Keys ---
    cases.expect(
        "short key",
        a.get_raw_answer("ABC").await,
        400,
        "invalid_key",
    );
    cases.expect(
        "lower-case key",
        a.get_raw_answer(&good.to_lowercase()).await,
        400,
        "invalid_key",
    );
    let mut bad_last = good.clone();
    bad_last.pop();
    bad_last.push('1');
    cases.expect(
        "bad last character",
        a.get_raw_answer(&bad_last).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "letter U in key",
        a.get_raw_answer(&"U".repeat(26)).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "non-canonical size flag",
        a.get_raw_answer(&key_text_with_flag(0x10)).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "27-character key",
        a.get_raw_answer(&format!("{good}0")).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "percent-encoded key",
        a.get_raw_answer("%E2%82%AC").await,
        400,
        "invalid_key",
    );
    cases.expect(
        "bad key on put",
        a.put_raw("NOT-A-KEY", b1.clone()).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "bad key on claim",
        a.post_json("ZZZ/claim", &json!({"pop": "pop:x"})).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "bad key in check",
        a.post_json("check", &json!({"keys": [good, "nope"]})).await,
        400,
        "invalid_key",
    );

    // --- Existence and ownership ---
    let (absent, absent_bytes) = leaf(99);
    cases.expect(
        "get missing node",
        a.get_raw_answer(&absent.to_string()).await,
        404,
        "not_found",
    );
    cases.expect(
        "get unowned node",
        a.get_raw_answer(&l2.to_string()).await,
        403,
        "not_owned",
    );
    cases.expect(
        "claim missing node",
        a.claim(&absent, &a.pop(&absent_bytes)).await,
        404,
        "not_found",
    );

    // --- Node validation ---
    let truncated = b1[..10].to_vec();
    cases.expect(
        "truncated node",
        a.put(&Key::for_bytes(&truncated), &truncated).await,
        400,
        "invalid_node",
    );
    let short_payload = b1[..b1.len() - 3].to_vec();
    cases.expect(
        "payload shorter than header says",
        a.put(&Key::for_bytes(&short_payload), &short_payload).await,
        400,
        "invalid_node",
    );
    let mut bad_magic = b1.clone();
    bad_magic[0] = b'X';
    cases.expect(
        "bad magic",
        a.put(&Key::for_bytes(&bad_magic), &bad_magic).await,
        400,
        "invalid_node",
    );
    let mut reserved = b1.clone();
    reserved[7] = 0x80;
    cases.expect(
        "reserved flag bits",
        a.put(&Key::for_bytes(&reserved), &reserved).await,
        400,
        "invalid_node",
    );
    let mut hash_algo = b1.clone();
    hash_algo[5] = 1;
    cases.expect(
        "unknown hash algorithm",
        a.put(&Key::for_bytes(&hash_algo), &hash_algo).await,
        400,
        "invalid_node",
    );
    let set = node::encode_set(&[l1, l2]).expect("set");
    let mut unsorted = set.clone();
    unsorted[16..32].copy_from_slice(&set[32..48]);
    unsorted[32..48].copy_from_slice(&set[16..32]);
    cases.expect(
        "unsorted set",
        a.put(&Key::for_bytes(&unsorted), &unsorted).await,
        400,
        "invalid_node",
    );
    let (_, dict_bytes) = dict(&[("name", l1)]);
    let mut bad_name = dict_bytes.clone();
    let last = bad_name.len() - 1;
    bad_name[last] = 0xff; // not UTF-8
    cases.expect(
        "dict name not UTF-8",
        a.put(&Key::for_bytes(&bad_name), &bad_name).await,
        400,
        "invalid_node",
    );
    let mut bad_child = dict_bytes.clone();
    bad_child[16] = 0x10; // non-canonical size flag in the child key
    cases.expect(
        "child key with bad size flag",
        a.put(&Key::for_bytes(&bad_child), &bad_child).await,
        400,
        "invalid_node",
    );
    cases.expect(
        "empty body",
        a.put(&Key::for_bytes(b""), b"").await,
        400,
        "invalid_node",
    );
    let mut corrupt = b1.clone();
    corrupt[20] ^= 0x01;
    cases.expect(
        "corrupt byte under the original key",
        a.put(&l1, &corrupt).await,
        400,
        "hash_mismatch",
    );
    cases.expect(
        "other node's bytes under a key",
        a.put(&l1, &b2).await,
        400,
        "hash_mismatch",
    );
    let mut longer = b1.clone();
    longer.extend_from_slice(&[0; 40]);
    let (status, body) = a.put(&l1, &longer).await;
    assert_eq!(body["reason"], "size_flag", "{body}");
    cases.expect("wrong size flag", (status, body), 400, "hash_mismatch");

    // --- Children ---
    let (p_missing, pb_missing) = dict(&[("gone", absent)]);
    let (status, body) = a.put(&p_missing, &pb_missing).await;
    assert_eq!(body["missing"], json!([absent.to_string()]), "{body}");
    cases.expect("missing child", (status, body), 409, "missing_nodes");
    let (p_unowned, pb_unowned) = dict(&[("mine", l1), ("theirs", l2)]);
    let (status, body) = a.put(&p_unowned, &pb_unowned).await;
    assert_eq!(body["missing"], json!([l2.to_string()]), "{body}");
    cases.expect("unowned child", (status, body), 409, "missing_nodes");
    // B owns l2 but not l1: B cannot claim a parent of l1 it has no right to... it can't claim
    // the parent while l1 is not its own.
    a.put_ok(&l2, &b2).await;
    a.put_ok(&p_unowned, &pb_unowned).await;
    cases.expect(
        "claim with unowned child",
        b.claim(&p_unowned, &b.pop(&pb_unowned)).await,
        409,
        "missing_nodes",
    );

    // --- Size limits ---
    let big = node::encode_successor(&[], &[1u8; 5000], 0).expect("encode");
    cases.expect(
        "oversized node",
        a.put(&Key::for_bytes(&big), &big).await,
        413,
        "too_large",
    );
    cases.expect(
        "oversized node, chunked without length",
        chunked_put(&a, &Key::for_bytes(&big), &big),
        413,
        "too_large",
    );
    let frames: Vec<&[u8]> = vec![&b1; 200];
    cases.expect("oversized batch", a.batch(&frames).await, 413, "too_large");
    let many_empty = vec![0u8; 4 * 1001];
    cases.expect(
        "too many batch nodes",
        a.batch_body(many_empty).await,
        400,
        "too_many_nodes",
    );
    let mut truncated_batch = casweb::batch::encode([b1.as_slice()]);
    truncated_batch.truncate(truncated_batch.len() - 1);
    cases.expect(
        "truncated batch frame",
        a.batch_body(truncated_batch).await,
        400,
        "invalid_batch",
    );
    cases.expect(
        "batch length prefix cut",
        a.batch_body(vec![1, 0]).await,
        400,
        "invalid_batch",
    );
    cases.expect(
        "empty batch",
        a.batch_body(Vec::new()).await,
        400,
        "invalid_batch",
    );
    let too_many: Vec<String> = (0..1001).map(|_| good.clone()).collect();
    cases.expect(
        "too many check keys",
        a.post_json("check", &json!({"keys": too_many})).await,
        400,
        "too_many_keys",
    );
    cases.expect(
        "too many get keys",
        a.post_json("get", &json!({"keys": too_many})).await,
        400,
        "too_many_keys",
    );
    cases.expect(
        "malformed get key",
        a.post_json("get", &json!({"keys": [good, "ABC"]})).await,
        400,
        "invalid_key",
    );
    cases.expect(
        "get without keys",
        a.post_json("get", &json!({"key": [good]})).await,
        400,
        "invalid_request",
    );
    cases.expect(
        "get keys not strings",
        a.post_json("get", &json!({"keys": [1, 2]})).await,
        400,
        "invalid_request",
    );
    let claims: Vec<Value> = (0..1001)
        .map(|_| json!({"key": good, "pop": "pop:"}))
        .collect();
    cases.expect(
        "too many claims",
        a.post_json("claim", &json!({"claims": claims})).await,
        400,
        "too_many_claims",
    );
    let huge_json = format!("{{\"keys\": [\"{}\"]}}", "A".repeat(1_100_000));
    cases.expect(
        "JSON body over the limit",
        raw_request(
            &a,
            reqwest::Method::POST,
            "check",
            &[
                ("Authorization", &format!("Bearer {}", a.token)),
                ("Content-Type", "application/json"),
            ],
            Some(huge_json.into_bytes()),
        )
        .await,
        413,
        "too_large",
    );

    // --- Authentication ---
    let path = format!("raw/{good}");
    let get = reqwest::Method::GET;
    cases.expect(
        "no Authorization header",
        raw_request(&a, get.clone(), &path, &[], None).await,
        401,
        "unauthorized",
    );
    cases.expect(
        "token not base64",
        raw_request(
            &a,
            get.clone(),
            &path,
            &[("Authorization", "Bearer !!!")],
            None,
        )
        .await,
        401,
        "unauthorized",
    );
    cases.expect(
        "token of 3 bytes",
        raw_request(
            &a,
            get.clone(),
            &path,
            &[("Authorization", "Bearer AQID")],
            None,
        )
        .await,
        401,
        "unauthorized",
    );
    let unknown = casweb_server::tokens::encode_token(&[9u8; 32]);
    cases.expect(
        "unknown token",
        raw_request(
            &a,
            get.clone(),
            &path,
            &[("Authorization", &format!("Bearer {unknown}"))],
            None,
        )
        .await,
        401,
        "unauthorized",
    );
    cases.expect(
        "Basic scheme",
        raw_request(
            &a,
            get.clone(),
            &path,
            &[("Authorization", &format!("Basic {}", a.token))],
            None,
        )
        .await,
        401,
        "unauthorized",
    );
    cases.expect(
        "bearer without token",
        raw_request(&a, get.clone(), &path, &[("Authorization", "Bearer")], None).await,
        401,
        "unauthorized",
    );
    let foreign = server.client("a", &b.token);
    cases.expect(
        "token of another realm",
        foreign.get_raw_answer(&good).await,
        403,
        "wrong_realm",
    );
    cases.expect(
        "token of another realm, missing node",
        foreign.get_raw_answer(&absent.to_string()).await,
        403,
        "wrong_realm",
    );
    let nowhere = server.client("nowhere", &a.token);
    cases.expect(
        "realm without tokens",
        nowhere.check_answer(&[l1]).await,
        403,
        "wrong_realm",
    );
    let unauthorised = server.client("a", &unknown);
    cases.expect(
        "unauthorised put of a bad node",
        unauthorised.put_raw("bad", vec![1, 2, 3]).await,
        401,
        "unauthorized",
    );

    // --- Proofs of possession ---
    // Realm b stored l2 only; l1 exists (a) and b does not own it.
    cases.expect(
        "garbage pop",
        b.claim(&l1, "pop:garbage").await,
        403,
        "invalid_pop",
    );
    cases.expect(
        "pop without prefix",
        b.claim(&l1, &b.pop(&b1)[4..]).await,
        403,
        "invalid_pop",
    );
    cases.expect(
        "pop made with another realm's token",
        b.claim(&l1, &a.pop(&b1)).await,
        403,
        "invalid_pop",
    );
    cases.expect(
        "pop of other bytes",
        b.claim(&l1, &b.pop(&b2)).await,
        403,
        "invalid_pop",
    );
    cases.expect(
        "pop of the empty string",
        b.claim(&l1, "").await,
        403,
        "invalid_pop",
    );

    // --- JSON bodies and content types ---
    let bearer = format!("Bearer {}", a.token);
    let post = reqwest::Method::POST;
    let json_type = ("Content-Type", "application/json");
    let auth = ("Authorization", bearer.as_str());
    cases.expect(
        "malformed JSON",
        raw_request(
            &a,
            post.clone(),
            "check",
            &[auth, json_type],
            Some(b"{\"keys\": [".to_vec()),
        )
        .await,
        400,
        "invalid_json",
    );
    cases.expect(
        "JSON of the wrong shape",
        raw_request(
            &a,
            post.clone(),
            "check",
            &[auth, json_type],
            Some(b"{\"keys\": \"x\"}".to_vec()),
        )
        .await,
        400,
        "invalid_request",
    );
    cases.expect(
        "JSON without the field",
        raw_request(
            &a,
            post.clone(),
            "claim",
            &[auth, json_type],
            Some(b"{}".to_vec()),
        )
        .await,
        400,
        "invalid_request",
    );
    cases.expect(
        "JSON array instead of object",
        raw_request(
            &a,
            post.clone(),
            &format!("{good}/claim"),
            &[auth, json_type],
            Some(b"[1,2]".to_vec()),
        )
        .await,
        400,
        "invalid_request",
    );
    cases.expect(
        "missing JSON body",
        raw_request(&a, post.clone(), "check", &[auth, json_type], None).await,
        400,
        "missing_body",
    );
    cases.expect(
        "text/plain JSON",
        raw_request(
            &a,
            post.clone(),
            "check",
            &[auth, ("Content-Type", "text/plain")],
            Some(b"{\"keys\":[]}".to_vec()),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    cases.expect(
        "no content type on JSON",
        raw_request(
            &a,
            post.clone(),
            "check",
            &[auth],
            Some(b"{\"keys\":[]}".to_vec()),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    cases.expect(
        "JSON content type on a put",
        raw_request(
            &a,
            reqwest::Method::PUT,
            &path,
            &[auth, json_type],
            Some(b1.clone()),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    cases.expect(
        "form content type on a batch",
        raw_request(
            &a,
            post.clone(),
            "batch",
            &[auth, ("Content-Type", "application/x-www-form-urlencoded")],
            Some(vec![0; 4]),
        )
        .await,
        415,
        "unsupported_media_type",
    );

    cases.expect(
        "get without a token",
        raw_request(
            &a,
            post.clone(),
            "get",
            &[("Content-Type", "application/json")],
            Some(b"{\"keys\":[]}".to_vec()),
        )
        .await,
        401,
        "unauthorized",
    );
    cases.expect(
        "get as GET",
        raw_request(&a, get.clone(), "get", &[auth], None).await,
        405,
        "method_not_allowed",
    );

    // --- Routes ---
    let unknown_route = answer(
        reqwest::get(format!("{}/api/nothing", server.url))
            .await
            .expect("get"),
    )
    .await;
    cases.expect("unknown route", unknown_route, 404, "unknown_route");
    cases.expect(
        "unknown node route",
        raw_request(&a, get.clone(), "raw", &[auth], None).await,
        404,
        "unknown_route",
    );
    cases.expect(
        "wrong method",
        raw_request(&a, reqwest::Method::DELETE, &path, &[auth], None).await,
        405,
        "method_not_allowed",
    );
    cases.expect(
        "GET on check",
        raw_request(&a, get.clone(), "check", &[auth], None).await,
        405,
        "method_not_allowed",
    );

    cases.finish(25);
}

/// Sends a PUT with `Transfer-Encoding: chunked` (no Content-Length) over a raw socket.
fn chunked_put(client: &Client, key: &Key, bytes: &[u8]) -> Answer {
    let address = client.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    let head = format!(
        "PUT /api/realm/{}/nodes/raw/{key} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        client.realm, client.token
    );
    stream.write_all(head.as_bytes()).expect("write head");
    for chunk in bytes.chunks(1000) {
        // The server may answer and close before reading everything: ignore write errors.
        let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
        let _ = stream.write_all(chunk);
        let _ = stream.write_all(b"\r\n");
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        StatusCode::from_u16(status).expect("status"),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

trait Extra {
    async fn get_raw_answer(&self, key: &str) -> Answer;
    async fn check_answer(&self, keys: &[Key]) -> Answer;
}

impl Extra for Client {
    async fn get_raw_answer(&self, key: &str) -> Answer {
        let response = self
            .auth(self.http.get(self.url(&format!("raw/{key}"))))
            .send()
            .await
            .expect("send");
        answer(response).await
    }

    async fn check_answer(&self, keys: &[Key]) -> Answer {
        let keys: Vec<String> = keys.iter().map(Key::to_string).collect();
        self.post_json("check", &json!({ "keys": keys })).await
    }
}

#[tokio::test]
async fn claim_many_reports_per_item_errors() {
    let server = Server::start(&[]);
    let a = server.new_realm("a");
    let b = server.new_realm("b");
    let (l1, b1) = leaf(1);
    let (l2, b2) = leaf(2);
    let (l3, b3) = leaf(3);
    let (absent, absent_bytes) = leaf(4);
    for (k, bytes) in [(&l1, &b1), (&l2, &b2), (&l3, &b3)] {
        a.put_ok(k, bytes).await;
    }
    let claims = json!({"claims": [
        {"key": l1.to_string(), "pop": b.pop(&b1)},
        {"key": l2.to_string(), "pop": a.pop(&b2)},
        {"key": "not-a-key", "pop": "pop:"},
        {"key": absent.to_string(), "pop": b.pop(&absent_bytes)},
        {"key": l3.to_string(), "pop": b.pop(&b1)},
        {"key": l3.to_string(), "pop": b.pop(&b3)},
    ]});
    let (status, body) = b.post_json("claim", &claims).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = body["results"].as_array().expect("results");
    let summary: Vec<(Value, Value)> = r
        .iter()
        .map(|i| (i["key"].clone(), i["error"].clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (json!(l1.to_string()), Value::Null),
            (json!(l2.to_string()), json!("invalid_pop")),
            (json!("not-a-key"), json!("invalid_key")),
            (json!(absent.to_string()), json!("not_found")),
            (json!(l3.to_string()), json!("invalid_pop")),
            (json!(l3.to_string()), Value::Null),
        ]
    );
    let oks: Vec<bool> = r.iter().map(|i| i["ok"].as_bool().expect("ok")).collect();
    assert_eq!(oks, vec![true, false, false, false, false, true]);
    let check = b.check(&[l1, l2, l3]).await;
    assert_eq!(
        common::keys_of(&check, "owned"),
        vec![l1.to_string(), l3.to_string()]
    );
    assert_eq!(common::keys_of(&check, "unowned"), vec![l2.to_string()]);
}
