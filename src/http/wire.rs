//! The pure half of the HTTP client: configuration checks, URLs, request bodies, response
//! parsing and the splitting of work into requests that fit the server's limits.
//!
//! No I/O and no JS: everything here builds natively and is unit-tested natively. The fetch
//! edge (`fetch.rs`) and the client (`client.rs`) only exist on wasm32. JSON goes through
//! serde; keys are (de)serialized as their text form.

use std::ops::Range;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::batch::PREFIX_LEN;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::protocol::get_answer::{self, GetItem};
pub use crate::protocol::CheckResult;
use crate::protocol::{
    is_valid_realm, CheckRequest, ClaimItem, ClaimManyRequest, ClaimRequest, Credential,
    GetRequest, Limits, MAX_REALM_LEN,
};

pub use super::credentials::TokenSource;

/// Default time a request may take, from sending to the end of the answer's body.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// Error code of [`Error::Http`] when an answer is not what the protocol says (bad JSON, missing
/// field, a result list that does not match the request).
pub const INVALID_RESPONSE: &str = "invalid_response";

/// Where and as whom an [`HttpStorage`](super::HttpStorage) talks to a server.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpConfig {
    /// The server's base URL, e.g. `http://127.0.0.1:8080` (a path prefix is kept; trailing
    /// slashes are ignored).
    pub base_url: String,
    /// The realm: 1 to 64 characters of `A-Z a-z 0-9 _ -`.
    pub realm: String,
    /// The token: an access token of the realm (`cwa1.…`, what a page holds) or a realm token
    /// (base64 of 32 bytes, a backend's credential).
    pub token: String,
    /// How long one request may take, in milliseconds (default [`DEFAULT_TIMEOUT_MS`]).
    pub timeout_ms: u32,
    /// Gives a new token when the server refuses the current one (401: expired, revoked,
    /// unknown); without it such a refusal is [`Error::Unauthorized`] at once.
    pub get_token: Option<TokenSource>,
}

impl HttpConfig {
    /// A configuration with the default timeout and no token renewal.
    pub fn new(
        base_url: impl Into<String>,
        realm: impl Into<String>,
        token: impl Into<String>,
    ) -> HttpConfig {
        HttpConfig {
            base_url: base_url.into(),
            realm: realm.into(),
            token: token.into(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            get_token: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig::new("", "", "")
    }
}

/// A configuration after its checks: the base URL without trailing slashes, the parsed token.
#[derive(Clone, Debug)]
pub struct ValidConfig {
    pub base_url: String,
    pub realm: String,
    pub token: String,
    /// The key of the proofs of possession made with `token`.
    pub pop_key: [u8; 32],
    pub timeout_ms: u32,
    pub get_token: Option<TokenSource>,
}

/// Checks a configuration; every problem is an [`Error::InvalidArgument`] naming the field.
pub fn validate_config(config: &HttpConfig) -> Result<ValidConfig> {
    let base_url = normalize_base_url(&config.base_url)?;
    validate_realm(&config.realm)?;
    let credential = check_token(&config.token, &config.realm)?;
    if config.timeout_ms == 0 {
        return Err(Error::InvalidArgument(
            "timeoutMs must be at least 1 (milliseconds)".into(),
        ));
    }
    Ok(ValidConfig {
        base_url,
        realm: config.realm.clone(),
        token: config.token.clone(),
        pop_key: credential.pop_key(),
        timeout_ms: config.timeout_ms,
        get_token: config.get_token.clone(),
    })
}

/// `http://` or `https://`, a host, no query or fragment; trailing slashes removed.
pub fn normalize_base_url(url: &str) -> Result<String> {
    let invalid = |why: &str| Error::InvalidArgument(format!("baseUrl {url:?} {why}"));
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("has no host"));
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "must not contain a query, a fragment or whitespace",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// 1 to 64 characters of `A-Z a-z 0-9 _ -` (the protocol's realm names).
pub fn validate_realm(realm: &str) -> Result<()> {
    if is_valid_realm(realm) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "realm {realm:?} must be 1 to {MAX_REALM_LEN} characters of A-Z a-z 0-9 _ -"
        )))
    }
}

/// Checks a token for `realm`: an access token of that realm, or a realm token. An admin token
/// is refused (it manages tokens; it never belongs in a client, least of all a page), and so is
/// an access token of another realm. Whether the token is known, valid and unexpired only the
/// server can tell.
pub fn check_token(token: &str, realm: &str) -> Result<Credential> {
    let credential =
        Credential::parse(token).map_err(|e| Error::InvalidArgument(format!("token: {e}")))?;
    match &credential {
        Credential::Admin(_) => Err(Error::InvalidArgument(
            "token: an admin token manages tokens through the admin API; give HttpStorage an \
             access token (or, on a backend, a realm token)"
                .into(),
        )),
        Credential::Access(access) if access.realm() != realm => {
            Err(Error::InvalidArgument(format!(
                "token: this access token is for realm {:?}, not {realm:?}",
                access.realm()
            )))
        }
        _ => Ok(credential),
    }
}

// ---------------------------------------------------------------------------------------------
// URLs

/// `GET {base}/api/info`.
pub fn info_url(base: &str) -> String {
    format!("{}/api/info", base.trim_end_matches('/'))
}

fn realm_url(base: &str, realm: &str, rest: &str) -> String {
    format!(
        "{}/api/realm/{realm}/nodes/{rest}",
        base.trim_end_matches('/')
    )
}

/// `GET|PUT {base}/api/realm/{realm}/nodes/raw/{key}`.
pub fn raw_url(base: &str, realm: &str, key: &Key) -> String {
    realm_url(base, realm, &format!("raw/{key}"))
}

/// `POST {base}/api/realm/{realm}/nodes/check`.
pub fn check_url(base: &str, realm: &str) -> String {
    realm_url(base, realm, "check")
}

/// `POST {base}/api/realm/{realm}/nodes/batch`.
pub fn batch_url(base: &str, realm: &str) -> String {
    realm_url(base, realm, "batch")
}

/// `POST {base}/api/realm/{realm}/nodes/get`.
pub fn get_many_url(base: &str, realm: &str) -> String {
    realm_url(base, realm, "get")
}

/// `POST {base}/api/realm/{realm}/nodes/{key}/claim`.
pub fn claim_url(base: &str, realm: &str, key: &Key) -> String {
    realm_url(base, realm, &format!("{key}/claim"))
}

/// `POST {base}/api/realm/{realm}/nodes/claim`.
pub fn claim_many_url(base: &str, realm: &str) -> String {
    realm_url(base, realm, "claim")
}

// ---------------------------------------------------------------------------------------------
// Request bodies

/// `{"keys": [...]}`.
pub fn check_body(keys: &[Key]) -> String {
    to_json(&CheckRequest {
        keys: keys.iter().map(Key::to_string).collect(),
    })
}

/// `{"keys": [...]}` of a many-nodes get.
pub fn get_body(keys: &[Key]) -> String {
    to_json(&GetRequest {
        keys: keys.iter().map(Key::to_string).collect(),
    })
}

/// The next request of a many-nodes get: how many of `keys`, from the start, fit in one answer
/// under `limits` (at least one, if any).
pub fn next_get_group(keys: &[Key], limits: &Limits) -> usize {
    get_answer::affordable(keys, limits.max_get_bytes).min(limits.max_get_keys.max(1))
}

/// A many-nodes get answer for `keys`: per answered key (a prefix of `keys`, at least one) its
/// bytes checked against the key, `None` for `not_found`; `not_owned` is
/// `Http { 403, "not_owned" }`, as for a single `GET`.
pub fn parse_get_many(status: u16, body: Vec<u8>, keys: &[Key]) -> Result<Vec<Option<Bytes>>> {
    let body = Bytes::from(body);
    let items =
        get_answer::parse(&body, keys).map_err(|e| invalid_response(status, e.to_string()))?;
    if items.is_empty() && !keys.is_empty() {
        return Err(invalid_response(status, "the get answer holds no item"));
    }
    items
        .into_iter()
        .zip(keys)
        .map(|(item, key)| match item {
            GetItem::Node(bytes) if key.matches(&bytes) => Ok(Some(bytes)),
            GetItem::Node(_) => Err(Error::HashMismatch { key: *key }),
            GetItem::NotFound => Ok(None),
            GetItem::NotOwned => Err(Error::Http {
                status: 403,
                code: "not_owned".into(),
                message: format!(
                    "node {key} exists but this realm does not own it (put or claim it first)"
                ),
            }),
        })
        .collect()
}

/// `{"pop": "pop:..."}`.
pub fn claim_body(pop: &str) -> String {
    to_json(&ClaimRequest { pop: pop.into() })
}

/// `{"claims": [{"key": K, "pop": P}, ...]}`.
pub fn claims_body(claims: &[(Key, String)]) -> String {
    let claims = claims
        .iter()
        .map(|(key, pop)| ClaimItem {
            key: key.to_string(),
            pop: pop.clone(),
        })
        .collect();
    to_json(&ClaimManyRequest { claims })
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("request bodies are plain data")
}

// ---------------------------------------------------------------------------------------------
// Splitting work by limits

/// Distinct keys, first occurrence first.
pub fn dedup_keys(keys: &[Key]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.iter().copied().filter(|k| seen.insert(*k)).collect()
}

/// Cuts `keys` into consecutive groups of at most `max` (at least one per group).
pub fn split_keys(keys: &[Key], max: usize) -> Vec<&[Key]> {
    keys.chunks(max.max(1)).collect()
}

/// Cuts nodes of the given lengths, in order, into consecutive batches of at most `max_nodes`
/// nodes whose framed size (`4 + length` each) is at most `max_bytes`. A node that does not fit
/// even alone gets a batch of its own (callers refuse such nodes before asking).
pub fn plan_batches(lengths: &[usize], max_bytes: usize, max_nodes: usize) -> Vec<Range<usize>> {
    let max_nodes = max_nodes.max(1);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, &len) in lengths.iter().enumerate() {
        let framed = PREFIX_LEN.saturating_add(len);
        let full = i - start == max_nodes || bytes.saturating_add(framed) > max_bytes;
        if i > start && full {
            batches.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(framed);
    }
    if start < lengths.len() {
        batches.push(start..lengths.len());
    }
    batches
}

/// True if a node this long can be sent at all under `limits` (as a batch frame and as a PUT).
pub fn fits(len: usize, limits: &Limits) -> bool {
    len <= limits.largest_node()
}

// ---------------------------------------------------------------------------------------------
// Responses

fn invalid_response(status: u16, why: impl std::fmt::Display) -> Error {
    Error::Http {
        status,
        code: INVALID_RESPONSE.into(),
        message: format!("the server's answer does not follow the protocol: {why}"),
    }
}

fn parse<'a, T: Deserialize<'a>>(status: u16, body: &'a [u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| invalid_response(status, e))
}

/// The JSON error body of the protocol: `{error, message, ...details}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    missing: Vec<String>,
}

impl ErrorBody {
    /// The message, with the missing children listed when the server named them.
    fn full_message(self) -> (String, String) {
        let message = if self.missing.is_empty() {
            self.message
        } else {
            format!("{} (missing: {})", self.message, self.missing.join(", "))
        };
        (self.error, message)
    }
}

/// The error of a non-2xx answer: `{error, message}` becomes [`Error::Http`] with that code.
/// A body that is not such JSON (e.g. a proxy's HTML page) gives code [`INVALID_RESPONSE`] with
/// the start of the body as message; the status is kept either way (so 5xx stay transient).
/// A 401 is [`Error::Unauthorized`] with the server's code (`token_expired`, `token_revoked`,
/// `unauthorized`).
pub fn error_from_response(status: u16, body: &[u8]) -> Error {
    if status == 401 {
        return match serde_json::from_slice::<ErrorBody>(body) {
            Ok(error) => Error::Unauthorized {
                code: error.error,
                message: error.message,
            },
            Err(_) => Error::Unauthorized {
                code: "unauthorized".into(),
                message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
            },
        };
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => {
            let (code, message) = error.full_message();
            Error::Http {
                status,
                code,
                message,
            }
        }
        Err(_) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
            Error::Http {
                status,
                code: INVALID_RESPONSE.into(),
                message: format!("HTTP {status} without a JSON error body: {text:?}"),
            }
        }
    }
}

/// `GET /api/info`: the limits (every one must be a positive whole number).
pub fn parse_info(status: u16, body: &[u8]) -> Result<Limits> {
    #[derive(Deserialize)]
    struct Info {
        limits: Limits,
    }
    let Info { limits } = parse(status, body)?;
    match limits.first_zero() {
        None => Ok(limits),
        Some(name) => Err(invalid_response(
            status,
            format!("limits.{name} must be at least 1"),
        )),
    }
}

/// `POST .../nodes/check`: the three lists.
pub fn parse_check(status: u16, body: &[u8]) -> Result<CheckResult> {
    parse(status, body)
}

/// The `{"results": [...]}` of a batch or claim-many: one outcome per key sent, in order. A
/// refused item is [`Error::Rejected`] with the server's code and message; a result list that
/// does not match `keys` (length or key) is an invalid response.
pub fn parse_item_results(
    status: u16,
    body: &[u8],
    keys: &[Key],
) -> Result<Vec<Result<(), Error>>> {
    #[derive(Deserialize)]
    struct Item {
        key: Key,
        ok: bool,
        error: Option<String>,
        #[serde(default)]
        message: String,
        #[serde(default)]
        missing: Vec<String>,
    }
    #[derive(Deserialize)]
    struct Items {
        results: Vec<Item>,
    }
    let Items { results } = parse(status, body)?;
    if results.len() != keys.len() {
        return Err(invalid_response(
            status,
            format!("{} results for {} items", results.len(), keys.len()),
        ));
    }
    results
        .into_iter()
        .zip(keys)
        .map(|(item, key)| {
            if item.key != *key {
                return Err(invalid_response(
                    status,
                    format!("result for {key} names {}", item.key),
                ));
            }
            if item.ok {
                return Ok(Ok(()));
            }
            let (code, message) = ErrorBody {
                error: item.error.unwrap_or_else(|| "unknown".into()),
                message: item.message,
                missing: item.missing,
            }
            .full_message();
            Ok(Err(Error::Rejected {
                key: *key,
                code,
                message,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    fn key(i: u32) -> Key {
        Key::for_bytes(&i.to_le_bytes())
    }

    fn limits() -> Limits {
        Limits {
            max_node_size: 100,
            max_check_keys: 3,
            max_batch_bytes: 110,
            max_batch_nodes: 4,
            max_claim_batch: 2,
            max_json_bytes: 1 << 20,
            max_get_keys: 3,
            max_get_bytes: 250,
        }
    }

    #[test]
    fn urls_with_and_without_trailing_slash() {
        let k = key(1);
        for base in ["http://h:1", "http://h:1/", "http://h:1//"] {
            assert_eq!(info_url(base), "http://h:1/api/info");
            assert_eq!(
                raw_url(base, "alpha", &k),
                format!("http://h:1/api/realm/alpha/nodes/raw/{k}")
            );
            assert_eq!(check_url(base, "a"), "http://h:1/api/realm/a/nodes/check");
            assert_eq!(batch_url(base, "a"), "http://h:1/api/realm/a/nodes/batch");
            assert_eq!(
                claim_url(base, "a", &k),
                format!("http://h:1/api/realm/a/nodes/{k}/claim")
            );
            assert_eq!(
                claim_many_url(base, "a"),
                "http://h:1/api/realm/a/nodes/claim"
            );
        }
        assert_eq!(
            normalize_base_url("https://example.org/casweb/").unwrap(),
            "https://example.org/casweb"
        );
        assert_eq!(
            info_url(&normalize_base_url("https://example.org/casweb/").unwrap()),
            "https://example.org/casweb/api/info"
        );
    }

    #[test]
    fn config_checks() {
        let good = HttpConfig::new("http://127.0.0.1:8080/", "alpha_1-B", TOKEN);
        assert_eq!(good.timeout_ms, DEFAULT_TIMEOUT_MS);
        let valid = validate_config(&good).unwrap();
        assert_eq!(valid.base_url, "http://127.0.0.1:8080");
        assert_eq!(valid.pop_key, *blake3::hash(&[1u8; 32]).as_bytes());

        let code = |config: HttpConfig| validate_config(&config).unwrap_err().code();
        for url in [
            "",
            "ftp://x",
            "http://",
            "http:///x",
            "127.0.0.1:8080",
            "http://h?x=1",
            "http://h #",
        ] {
            let config = HttpConfig::new(url, "a", TOKEN);
            assert_eq!(code(config), "invalid_argument", "{url:?}");
        }
        for realm in ["", "a b", "é", &"x".repeat(65)] {
            assert_eq!(
                code(HttpConfig::new("http://h", realm, TOKEN)),
                "invalid_argument"
            );
        }
        assert!(validate_realm(&"x".repeat(64)).is_ok());
        let mut zero = good.clone();
        zero.timeout_ms = 0;
        assert_eq!(code(zero), "invalid_argument");
    }

    #[test]
    fn realm_tokens_are_base64_of_32_bytes() {
        let realm_token = |text: &str| match check_token(text, "a") {
            Ok(Credential::Realm(bytes)) => Ok(bytes),
            Ok(other) => panic!("{other:?}"),
            Err(error) => Err(error),
        };
        assert_eq!(realm_token(TOKEN).unwrap(), [1u8; 32]);
        let all: Vec<u8> = (0..32).map(|i| i * 8 + 3).collect();
        // Independently encoded with Python's base64.b64encode(bytes(range(3, 256, 8))).
        let text = "AwsTGyMrMztDS1NbY2tze4OLk5ujq7O7w8vT2+Pr8/s=";
        assert_eq!(realm_token(text).unwrap().to_vec(), all);
        for bad in [
            "",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", // no padding
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==", // 31 bytes
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=", // non-zero trailing bits
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBA-E=", // url-safe alphabet
        ] {
            let error = realm_token(bad).unwrap_err();
            assert_eq!(error.code(), "invalid_argument", "{bad:?}");
        }
    }

    #[test]
    fn access_tokens_must_be_of_the_realm_and_admin_tokens_are_refused() {
        use crate::protocol::{encode_admin_token, AccessClaims, AccessToken, Scope};
        let access = AccessToken::sign(
            AccessClaims {
                realm: "alpha".into(),
                scope: Scope::Read,
                expires: 2_000_000_000,
                id: "0123456789abcdef".into(),
            },
            &[5u8; 32],
        )
        .unwrap();
        let valid = validate_config(&HttpConfig::new("http://h", "alpha", access.text())).unwrap();
        assert_eq!(
            valid.pop_key,
            *blake3::hash(access.text().as_bytes()).as_bytes()
        );
        let error = check_token(access.text(), "beta").unwrap_err();
        assert!(error.to_string().contains("\"alpha\""), "{error}");
        let admin = encode_admin_token(&[6u8; 32]);
        assert_eq!(
            check_token(&admin, "alpha").unwrap_err().code(),
            "invalid_argument"
        );
        let tampered = access.text().replace("cwa1.", "cwa9.");
        assert_eq!(
            check_token(&tampered, "alpha").unwrap_err().code(),
            "invalid_argument"
        );
    }

    #[test]
    fn request_bodies() {
        let (a, b) = (key(1), key(2));
        assert_eq!(
            check_body(&[a, b]),
            format!("{{\"keys\":[\"{a}\",\"{b}\"]}}")
        );
        assert_eq!(check_body(&[]), "{\"keys\":[]}");
        assert_eq!(claim_body("pop:X"), "{\"pop\":\"pop:X\"}");
        let body = claims_body(&[(a, "pop:1".into()), (b, "pop:2".into())]);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let claims = json["claims"].as_array().unwrap();
        assert_eq!(claims.len(), 2);
        assert_eq!(claims[1]["key"].as_str(), Some(b.to_string().as_str()));
        assert_eq!(claims[1]["pop"].as_str(), Some("pop:2"));
    }

    #[test]
    fn keys_are_split_by_the_check_limit() {
        let keys: Vec<Key> = (0..7).map(key).collect();
        let groups = split_keys(&keys, 3);
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [3, 3, 1]
        );
        assert_eq!(groups.concat(), keys);
        assert_eq!(split_keys(&keys, 7).len(), 1);
        assert!(split_keys(&[], 3).is_empty());
        assert_eq!(split_keys(&keys, 0).len(), 7);
        let doubled: Vec<Key> = keys.iter().chain(keys.iter().rev()).copied().collect();
        assert_eq!(dedup_keys(&doubled), keys);
    }

    #[test]
    fn batches_are_split_by_bytes_and_count() {
        // Count: at most 4 small nodes per batch.
        assert_eq!(plan_batches(&[1; 9], 1000, 4), vec![0..4, 4..8, 8..9]);
        // Bytes: 4 + 50 = 54 per node; two fit in 110, three do not.
        assert_eq!(plan_batches(&[50; 5], 110, 100), vec![0..2, 2..4, 4..5]);
        // Exactly at the limit fits.
        assert_eq!(plan_batches(&[51, 51], 110, 100), vec![0..2]);
        assert_eq!(plan_batches(&[52, 51], 110, 100), vec![0..1, 1..2]);
        // Order is kept and every node is in exactly one batch.
        let lengths = [10, 90, 5, 5, 100, 0, 0, 0, 0, 0];
        let batches = plan_batches(&lengths, 110, 4);
        let flat: Vec<usize> = batches.iter().flat_map(|r| r.clone()).collect();
        assert_eq!(flat, (0..lengths.len()).collect::<Vec<_>>());
        for range in &batches {
            assert!(range.len() <= 4);
            let bytes: usize = lengths[range.clone()].iter().map(|l| l + 4).sum();
            assert!(bytes <= 110, "{range:?}");
        }
        // A node too large for any batch stands alone.
        assert_eq!(plan_batches(&[1, 500, 1], 110, 4), vec![0..1, 1..2, 2..3]);
        assert!(plan_batches(&[], 110, 4).is_empty());
        assert!(fits(100, &limits()) && !fits(101, &limits()));
    }

    #[test]
    fn get_many_groups_and_answers() {
        let node = Bytes::from(crate::node::encode_successor(&[], b"node", 0).unwrap());
        let k = Key::for_bytes(&node);
        let keys = [k, key(2), key(3), k];
        let same = [k; 4];
        // maxGetKeys 3; maxGetBytes holding two of these keys' bounds.
        let two = Limits {
            max_get_bytes: 2 * k.max_node_len(),
            ..limits()
        };
        assert_eq!(next_get_group(&same, &two), 2);
        let wide = Limits {
            max_get_bytes: u64::MAX,
            ..limits()
        };
        assert_eq!(next_get_group(&keys, &wide), 3);
        assert_eq!(next_get_group(&[], &wide), 0);
        assert_eq!(get_body(&keys[..1]), format!("{{\"keys\":[\"{k}\"]}}"));

        let items = [GetItem::Node(node.clone()), GetItem::NotFound];
        let body = get_answer::encode(&items);
        assert_eq!(
            parse_get_many(200, body.clone(), &keys).unwrap(),
            vec![Some(node.clone()), None]
        );
        // Bytes that are not the key's; a key this realm does not own; broken answers.
        let swapped = [key(9), key(2)];
        assert!(matches!(
            parse_get_many(200, body, &swapped),
            Err(Error::HashMismatch { .. })
        ));
        let not_owned = get_answer::encode(&[GetItem::NotOwned]);
        assert!(matches!(
            parse_get_many(200, not_owned, &keys),
            Err(Error::Http { status: 403, code, .. }) if code == "not_owned"
        ));
        for bad in [
            Vec::new(),
            vec![1, 0, 0],
            crate::batch::encode([&[5u8, 5][..]]),
        ] {
            assert!(matches!(
                parse_get_many(200, bad, &keys),
                Err(Error::Http { code, .. }) if code == INVALID_RESPONSE
            ));
        }
    }

    #[test]
    fn info_is_parsed_and_checked() {
        let body = br#"{"version": "0.1.0", "protocol": 1,
            "limits": {"maxNodeSize": 4194304, "maxCheckKeys": 1000, "maxBatchBytes": 16777216,
                       "maxBatchNodes": 1000, "maxClaimBatch": 500, "maxJsonBytes": 1048576}}"#;
        let limits = parse_info(200, body).unwrap();
        assert_eq!(
            limits,
            Limits {
                max_node_size: 4194304,
                max_check_keys: 1000,
                max_batch_bytes: 16777216,
                max_batch_nodes: 1000,
                max_claim_batch: 500,
                max_json_bytes: 1048576,
                max_get_keys: 0,
                max_get_bytes: crate::protocol::DEFAULT_MAX_BATCH_BYTES,
            }
        );
        for bad in [
            &b"not json"[..],
            b"[1,2]",
            b"{}",
            br#"{"limits": {"maxNodeSize": 1}}"#,
            br#"{"limits": {"maxNodeSize": 1, "maxCheckKeys": 0, "maxBatchBytes": 1, "maxBatchNodes": 1, "maxClaimBatch": 1}}"#,
            br#"{"limits": {"maxNodeSize": 1.5, "maxCheckKeys": 1, "maxBatchBytes": 1, "maxBatchNodes": 1, "maxClaimBatch": 1}}"#,
            br#"{"limits": {"maxNodeSize": "1", "maxCheckKeys": 1, "maxBatchBytes": 1, "maxBatchNodes": 1, "maxClaimBatch": 1}}"#,
        ] {
            let error = parse_info(200, bad).unwrap_err();
            assert!(
                matches!(&error, Error::Http { status: 200, code, .. } if code == INVALID_RESPONSE),
                "{error:?}"
            );
            assert!(!error.is_transient());
        }
    }

    #[test]
    fn check_answers_are_parsed() {
        let (a, b, c) = (key(1), key(2), key(3));
        let body = format!(r#"{{"missing": ["{a}"], "unowned": [], "owned": ["{b}", "{c}"]}}"#);
        assert_eq!(
            parse_check(200, body.as_bytes()).unwrap(),
            CheckResult {
                missing: vec![a],
                unowned: vec![],
                owned: vec![b, c]
            }
        );
        for bad in [
            r#"{"missing": [], "unowned": []}"#.to_owned(),
            r#"{"missing": ["nope"], "unowned": [], "owned": []}"#.to_owned(),
            r#"{"missing": {}, "unowned": [], "owned": []}"#.to_owned(),
            format!(r#"{{"missing": ["{a}"], "unowned": [], "owned": [}}"#),
        ] {
            let error = parse_check(200, bad.as_bytes()).unwrap_err();
            assert!(matches!(error, Error::Http { ref code, .. } if code == INVALID_RESPONSE));
        }
    }

    #[test]
    fn item_results_map_to_rejections() {
        let (a, b, c) = (key(1), key(2), key(3));
        let body = format!(
            r#"{{"results": [
                {{"key": "{a}", "ok": true, "stored": true}},
                {{"key": "{b}", "ok": false, "error": "missing_nodes", "message": "children", "missing": ["{c}"]}},
                {{"key": "{c}", "ok": false, "error": "invalid_pop", "message": "wrong proof"}}
            ]}}"#
        );
        let results = parse_item_results(200, body.as_bytes(), &[a, b, c]).unwrap();
        assert_eq!(results[0], Ok(()));
        match &results[1] {
            Err(Error::Rejected { key, code, message }) => {
                assert_eq!((*key, code.as_str()), (b, "missing_nodes"));
                assert!(message.contains("children") && message.contains(&c.to_string()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            results[2],
            Err(Error::Rejected {
                key: c,
                code: "invalid_pop".into(),
                message: "wrong proof".into()
            })
        );
        assert_eq!(results[2].as_ref().unwrap_err().code(), "rejected");
        // Wrong count, wrong key, no ok, not JSON: invalid responses.
        for (body, keys) in [
            (body.clone(), vec![a, b]),
            (body.clone(), vec![a, c, b]),
            (format!(r#"{{"results": [{{"key": "{a}"}}]}}"#), vec![a]),
            ("{\"results\": ".to_owned(), vec![a]),
        ] {
            let error = parse_item_results(200, body.as_bytes(), &keys).unwrap_err();
            assert!(matches!(error, Error::Http { ref code, .. } if code == INVALID_RESPONSE));
        }
    }

    #[test]
    fn error_bodies_become_http_errors() {
        let error = error_from_response(
            403,
            br#"{"error": "not_owned", "message": "realm does not own it", "key": "X"}"#,
        );
        assert_eq!(
            error,
            Error::Http {
                status: 403,
                code: "not_owned".into(),
                message: "realm does not own it".into()
            }
        );
        assert!(!error.is_transient());
        let fault = error_from_response(503, br#"{"error":"injected_fault","message":"x"}"#);
        assert!(fault.is_transient());
        let html = error_from_response(502, b"<html>Bad Gateway</html>");
        assert!(matches!(&html, Error::Http { status: 502, code, message }
                if code == INVALID_RESPONSE && message.contains("Bad Gateway")));
        assert!(html.is_transient());
        let empty = error_from_response(500, b"");
        assert!(matches!(empty, Error::Http { status: 500, .. }));
        let expired = error_from_response(
            401,
            br#"{"error": "token_expired", "message": "the token expired"}"#,
        );
        assert_eq!(
            expired,
            Error::Unauthorized {
                code: "token_expired".into(),
                message: "the token expired".into()
            }
        );
        assert!(!expired.is_transient());
        let proxy = error_from_response(401, b"<html>login</html>");
        assert!(matches!(&proxy, Error::Unauthorized { code, .. } if code == "unauthorized"));
    }
}
