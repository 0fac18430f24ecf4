//! The HTTP protocol's contract, the one both the client (`casweb::http`) and the reference
//! server use, so nothing of it is written twice: the protocol version, the limits a server
//! advertises, the realm rule, the credentials (realm, access and admin tokens) and the JSON
//! bodies. The framing of batches is in [`crate::batch`]; the text of the protocol is
//! docs/protocol.md.

pub mod access;
pub mod get_answer;
mod limits;
mod messages;
mod realm;
mod token;

pub use access::{AccessClaims, AccessToken, Scope, MAX_TTL_SECS};
pub use limits::{Limits, DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_NODE_SIZE};
pub use messages::{
    CheckRequest, CheckResult, ClaimItem, ClaimManyRequest, ClaimRequest, GetRequest,
};
pub use realm::{is_valid_realm, MAX_REALM_LEN};
pub use token::{
    constant_time_eq, decode_admin_token, decode_token, encode_admin_token, encode_token, token_id,
    Credential, Token, TokenError, TOKEN_LEN,
};

/// Version of the wire protocol described in docs/protocol.md (`GET /api/info` `protocol`).
pub const PROTOCOL_VERSION: u32 = 1;
