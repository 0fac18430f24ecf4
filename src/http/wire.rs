//! The pure half of the HTTP client: configuration checks, URLs, request bodies, response
//! parsing and the splitting of work into requests that fit the server's limits.
//!
//! No I/O and no JS: everything here builds natively and is unit-tested natively. The fetch
//! edge (`fetch.rs`) and the client (`client.rs`) only exist on wasm32.
//!
//! JSON is read with a small parser of its own ([`Json`]): the answers of the protocol are
//! small, flat objects, and the library has no JSON dependency on native targets.

use std::ops::Range;

use crate::batch::PREFIX_LEN;
use crate::error::{Error, Result};
use crate::key::Key;

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
    /// The realm's token: standard base64 (with padding) of 32 bytes, 44 characters.
    pub token: String,
    /// How long one request may take, in milliseconds (default [`DEFAULT_TIMEOUT_MS`]).
    pub timeout_ms: u32,
}

impl HttpConfig {
    /// A configuration with the default timeout.
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
        }
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig::new("", "", "")
    }
}

/// The limits a server advertises at `GET /api/info`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest node, in bytes.
    pub max_node_size: u64,
    /// Most keys in one check request.
    pub max_check_keys: usize,
    /// Largest batch body, in bytes (4-byte length prefixes included).
    pub max_batch_bytes: usize,
    /// Most nodes in one batch request.
    pub max_batch_nodes: usize,
    /// Most claims in one claim-many request.
    pub max_claim_batch: usize,
}

/// Where a realm stands with each key: every distinct key asked about is in exactly one list,
/// in the order asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckResult {
    /// No realm stored the node.
    pub missing: Vec<Key>,
    /// Stored by another realm; this one may claim it with a proof of possession.
    pub unowned: Vec<Key>,
    /// Owned by this realm (and so is its whole DAG).
    pub owned: Vec<Key>,
}

/// A configuration after its checks: the base URL without trailing slashes, the token's bytes.
#[derive(Clone, Debug)]
pub struct ValidConfig {
    pub base_url: String,
    pub realm: String,
    pub token: String,
    pub token_bytes: [u8; 32],
    pub timeout_ms: u32,
}

/// Checks a configuration; every problem is an [`Error::InvalidArgument`] naming the field.
pub fn validate_config(config: &HttpConfig) -> Result<ValidConfig> {
    let base_url = normalize_base_url(&config.base_url)?;
    validate_realm(&config.realm)?;
    let token_bytes = decode_token(&config.token)?;
    if config.timeout_ms == 0 {
        return Err(Error::InvalidArgument(
            "timeoutMs must be at least 1 (milliseconds)".into(),
        ));
    }
    Ok(ValidConfig {
        base_url,
        realm: config.realm.clone(),
        token: config.token.clone(),
        token_bytes,
        timeout_ms: config.timeout_ms,
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
    let ok = (1..=64).contains(&realm.len())
        && realm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "realm {realm:?} must be 1 to 64 characters of A-Z a-z 0-9 _ -"
        )))
    }
}

/// Decodes a token: standard base64 with padding of exactly 32 bytes (44 characters).
pub fn decode_token(token: &str) -> Result<[u8; 32]> {
    let invalid = || {
        Error::InvalidArgument(
            "token must be standard base64 (with padding) of 32 bytes: 44 characters".into(),
        )
    };
    let text = token.as_bytes();
    if text.len() != 44 || text[43] != b'=' || text[42] == b'=' {
        return Err(invalid());
    }
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    // 43 significant characters carry 258 bits: 256 bits of token and 2 zero bits.
    let mut bits: u64 = 0;
    let mut nbits = 0u32;
    let mut out = Vec::with_capacity(32);
    for &c in &text[..43] {
        bits = (bits << 6) | u64::from(value(c).ok_or_else(invalid)?);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    if out.len() != 32 || bits != 0 {
        return Err(invalid());
    }
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&out);
    Ok(bytes)
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
    let items: Vec<String> = keys.iter().map(|k| json_string(&k.to_string())).collect();
    format!("{{\"keys\":[{}]}}", items.join(","))
}

/// `{"pop": "pop:..."}`.
pub fn claim_body(pop: &str) -> String {
    format!("{{\"pop\":{}}}", json_string(pop))
}

/// `{"claims": [{"key": K, "pop": P}, ...]}`.
pub fn claims_body(claims: &[(Key, String)]) -> String {
    let items: Vec<String> = claims
        .iter()
        .map(|(key, pop)| {
            format!(
                "{{\"key\":{},\"pop\":{}}}",
                json_string(&key.to_string()),
                json_string(pop)
            )
        })
        .collect();
    format!("{{\"claims\":[{}]}}", items.join(","))
}

/// A JSON string literal.
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
pub fn fits(len: usize, limits: &ServerLimits) -> bool {
    len as u64 <= limits.max_node_size && PREFIX_LEN.saturating_add(len) <= limits.max_batch_bytes
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

fn parse_object(status: u16, body: &[u8]) -> Result<Json> {
    let json = Json::parse(body).map_err(|e| invalid_response(status, e))?;
    if matches!(json, Json::Object(_)) {
        Ok(json)
    } else {
        Err(invalid_response(status, "expected a JSON object"))
    }
}

/// The error of a non-2xx answer: `{error, message}` becomes [`Error::Http`] with that code.
/// A body that is not such JSON (e.g. a proxy's HTML page) gives code [`INVALID_RESPONSE`] with
/// the start of the body as message; the status is kept either way (so 5xx stay transient).
pub fn error_from_response(status: u16, body: &[u8]) -> Error {
    let parsed = Json::parse(body).ok();
    let code = parsed
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Json::as_str);
    match code {
        Some(code) => {
            let mut message = parsed
                .as_ref()
                .and_then(|j| j.get("message"))
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_owned();
            if let Some(missing) = parsed
                .as_ref()
                .and_then(|j| j.get("missing"))
                .and_then(Json::as_array)
            {
                let keys: Vec<&str> = missing.iter().filter_map(Json::as_str).collect();
                message = format!("{message} (missing: {})", keys.join(", "));
            }
            Error::Http {
                status,
                code: code.to_owned(),
                message,
            }
        }
        None => {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
            Error::Http {
                status,
                code: INVALID_RESPONSE.into(),
                message: format!("HTTP {status} without a JSON error body: {text:?}"),
            }
        }
    }
}

fn field<'a>(json: &'a Json, status: u16, name: &str) -> Result<&'a Json> {
    json.get(name)
        .ok_or_else(|| invalid_response(status, format!("field {name:?} is missing")))
}

fn whole_number(json: &Json, status: u16, name: &str) -> Result<u64> {
    match json.get(name) {
        Some(Json::Number(n))
            if n.fract() == 0.0 && *n >= 1.0 && *n <= 9.007_199_254_740_991e15 =>
        {
            Ok(*n as u64)
        }
        _ => Err(invalid_response(
            status,
            format!("limits.{name} is not a positive whole number"),
        )),
    }
}

/// `GET /api/info`: the limits (every one must be a positive whole number).
pub fn parse_info(status: u16, body: &[u8]) -> Result<ServerLimits> {
    let json = parse_object(status, body)?;
    let limits = field(&json, status, "limits")?;
    let size = |name| whole_number(limits, status, name).map(|n| n as usize);
    Ok(ServerLimits {
        max_node_size: whole_number(limits, status, "maxNodeSize")?,
        max_check_keys: size("maxCheckKeys")?,
        max_batch_bytes: size("maxBatchBytes")?,
        max_batch_nodes: size("maxBatchNodes")?,
        max_claim_batch: size("maxClaimBatch")?,
    })
}

fn key_list(json: &Json, status: u16, name: &str) -> Result<Vec<Key>> {
    let list = field(json, status, name)?
        .as_array()
        .ok_or_else(|| invalid_response(status, format!("{name} is not an array")))?;
    list.iter()
        .map(|item| {
            item.as_str()
                .and_then(|text| Key::parse(text).ok())
                .ok_or_else(|| invalid_response(status, format!("{name} holds a non-key")))
        })
        .collect()
}

/// `POST .../nodes/check`: the three lists.
pub fn parse_check(status: u16, body: &[u8]) -> Result<CheckResult> {
    let json = parse_object(status, body)?;
    Ok(CheckResult {
        missing: key_list(&json, status, "missing")?,
        unowned: key_list(&json, status, "unowned")?,
        owned: key_list(&json, status, "owned")?,
    })
}

/// The `{"results": [...]}` of a batch or claim-many: one outcome per key sent, in order. A
/// refused item is [`Error::Rejected`] with the server's code and message; a result list that
/// does not match `keys` (length or key) is an invalid response.
pub fn parse_item_results(
    status: u16,
    body: &[u8],
    keys: &[Key],
) -> Result<Vec<Result<(), Error>>> {
    let json = parse_object(status, body)?;
    let results = field(&json, status, "results")?
        .as_array()
        .ok_or_else(|| invalid_response(status, "results is not an array"))?;
    if results.len() != keys.len() {
        return Err(invalid_response(
            status,
            format!("{} results for {} items", results.len(), keys.len()),
        ));
    }
    results
        .iter()
        .zip(keys)
        .map(|(item, key)| {
            let echoed = item.get("key").and_then(Json::as_str);
            if echoed != Some(key.to_string().as_str()) {
                return Err(invalid_response(
                    status,
                    format!("result for {key} names {echoed:?}"),
                ));
            }
            match item.get("ok") {
                Some(Json::Bool(true)) => Ok(Ok(())),
                Some(Json::Bool(false)) => {
                    let Error::Http { code, message, .. } =
                        error_from_response(status, &item.to_bytes())
                    else {
                        unreachable!("error_from_response returns Error::Http")
                    };
                    Ok(Err(Error::Rejected {
                        key: *key,
                        code,
                        message,
                    }))
                }
                _ => Err(invalid_response(
                    status,
                    format!("result for {key} has no ok"),
                )),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A small JSON reader

/// A parsed JSON value. Objects keep their members in order (the first of duplicates wins on
/// lookup).
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deepest nesting accepted (hostile input cannot overflow the stack).
const MAX_DEPTH: usize = 64;

impl Json {
    /// Parses one JSON value (surrounding whitespace allowed, nothing else after it).
    pub fn parse(bytes: &[u8]) -> std::result::Result<Json, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
        let mut parser = Parser {
            text: text.as_bytes(),
            source: text,
            pos: 0,
        };
        let value = parser.value(0)?;
        parser.skip_whitespace();
        if parser.pos != parser.text.len() {
            return Err(format!("unexpected data at byte {}", parser.pos));
        }
        Ok(value)
    }

    /// A member of an object.
    pub fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Writes the value back as JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::new();
        self.write(&mut out);
        out.into_bytes()
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => out.push_str(&json_string(s)),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(name));
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

struct Parser<'a> {
    text: &'a [u8],
    source: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_whitespace(&mut self) {
        while matches!(self.text.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn error<T>(&self, what: &str) -> std::result::Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn expect(&mut self, byte: u8) -> std::result::Result<(), String> {
        self.skip_whitespace();
        if self.text.get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.error(&format!("expected {:?}", byte as char))
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> std::result::Result<Json, String> {
        if self.text[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            self.error("unknown literal")
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Json, String> {
        if depth > MAX_DEPTH {
            return self.error("nesting too deep");
        }
        self.skip_whitespace();
        match self.text.get(self.pos) {
            None => self.error("unexpected end"),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_whitespace();
                if self.text.get(self.pos) == Some(&b']') {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_whitespace();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return self.error("expected ',' or ']'"),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_whitespace();
                if self.text.get(self.pos) == Some(&b'}') {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.skip_whitespace();
                    if self.text.get(self.pos) != Some(&b'"') {
                        return self.error("expected a member name");
                    }
                    let name = self.string()?;
                    self.expect(b':')?;
                    let value = self.value(depth + 1)?;
                    members.push((name, value));
                    self.skip_whitespace();
                    match self.text.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return self.error("expected ',' or '}'"),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while matches!(
                    self.text.get(self.pos),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                self.source[start..self.pos]
                    .parse::<f64>()
                    .map(Json::Number)
                    .or_else(|_| self.error("malformed number"))
            }
            Some(_) => self.error("unexpected character"),
        }
    }

    fn hex4(&mut self) -> std::result::Result<u32, String> {
        let digits = self
            .source
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(value) => {
                self.pos += 4;
                Ok(value)
            }
            None => self.error("malformed \\u escape"),
        }
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        self.pos += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.pos;
            while matches!(self.text.get(self.pos), Some(&b) if b != b'"' && b != b'\\' && b >= 0x20)
            {
                self.pos += 1;
            }
            out.push_str(&self.source[start..self.pos]);
            match self.text.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self.text.get(self.pos).copied();
                    self.pos += 1;
                    match escape {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let mut code = self.hex4()?;
                            if (0xd800..0xdc00).contains(&code)
                                && self.text[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let low = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&low) {
                                    return self.error("unpaired surrogate");
                                }
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            match char::from_u32(code) {
                                Some(c) => out.push(c),
                                None => return self.error("unpaired surrogate"),
                            }
                        }
                        _ => return self.error("unknown escape"),
                    }
                }
                Some(_) => return self.error("control character in a string"),
                None => return self.error("unterminated string"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

    fn key(i: u32) -> Key {
        Key::for_bytes(&i.to_le_bytes())
    }

    fn limits() -> ServerLimits {
        ServerLimits {
            max_node_size: 100,
            max_check_keys: 3,
            max_batch_bytes: 110,
            max_batch_nodes: 4,
            max_claim_batch: 2,
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
        assert_eq!(valid.token_bytes, [1u8; 32]);

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
    fn tokens_are_base64_of_32_bytes() {
        assert_eq!(decode_token(TOKEN).unwrap(), [1u8; 32]);
        let all: Vec<u8> = (0..32).map(|i| i * 8 + 3).collect();
        // Independently encoded with Python's base64.b64encode(bytes(range(3, 256, 8))).
        let text = "AwsTGyMrMztDS1NbY2tze4OLk5ujq7O7w8vT2+Pr8/s=";
        assert_eq!(decode_token(text).unwrap().to_vec(), all);
        for bad in [
            "",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", // no padding
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ==", // 31 bytes
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=", // non-zero trailing bits
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBA-E=", // url-safe alphabet
        ] {
            assert!(decode_token(bad).is_err(), "{bad:?}");
        }
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
        let json = Json::parse(body.as_bytes()).unwrap();
        let claims = json.get("claims").unwrap().as_array().unwrap();
        assert_eq!(claims.len(), 2);
        assert_eq!(
            claims[1].get("key").unwrap().as_str(),
            Some(b.to_string().as_str())
        );
        assert_eq!(claims[1].get("pop").unwrap().as_str(), Some("pop:2"));
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
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
    fn info_is_parsed_and_checked() {
        let body = br#"{"version": "0.1.0", "protocol": 1,
            "limits": {"maxNodeSize": 4194304, "maxCheckKeys": 1000, "maxBatchBytes": 16777216,
                       "maxBatchNodes": 1000, "maxClaimBatch": 500, "maxJsonBytes": 1048576}}"#;
        let limits = parse_info(200, body).unwrap();
        assert_eq!(
            limits,
            ServerLimits {
                max_node_size: 4194304,
                max_check_keys: 1000,
                max_batch_bytes: 16777216,
                max_batch_nodes: 1000,
                max_claim_batch: 500,
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
    }

    #[test]
    fn json_reader() {
        let value = Json::parse(
            br#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "c": {}} "#,
        )
        .unwrap();
        assert_eq!(
            value.get("a").unwrap(),
            &Json::Array(vec![
                Json::Number(1.0),
                Json::Number(-2500.0),
                Json::Bool(true),
                Json::Bool(false),
                Json::Null
            ])
        );
        assert_eq!(
            value.get("b").unwrap().as_str(),
            Some("x\"\\/\u{8}\u{c}\n\r\té😀")
        );
        assert_eq!(value.get("c"), Some(&Json::Object(vec![])));
        assert_eq!(Json::parse(&value.to_bytes()).unwrap(), value);
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"{\"a\":1,}",
            b"\"unterminated",
            b"\"\\x\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\u12\"",
            b"nul",
            b"1 2",
            b"\"a\nb\"",
            b"\xff",
            b"--1",
        ] {
            assert!(
                Json::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "[".repeat(100_000);
        assert!(Json::parse(deep.as_bytes()).is_err());
    }
}
