//! The credentials of the protocol as they travel in `Authorization: Bearer <token>`, and the
//! proof-of-possession key of each (docs/protocol.md, "Tokens"):
//!
//! - a **realm token**: 32 random bytes as standard base64 with padding (44 characters), the
//!   realm's full credential, kept by the app's backend, never given to a browser;
//! - an **access token** (`cwa1.…`, [`super::access`]): realm, scope and expiry signed with a
//!   realm token, minted for one user session, the only kind a page should hold;
//! - an **admin token** (`cwadmin1.…`): the operator's credential for the admin API, any realm;
//!   never accepted by the realm routes.
//!
//! Client and server parse credentials with [`Credential::parse`], so both refuse the same text.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;

use super::access::AccessToken;

/// Length of a token, in bytes.
pub const TOKEN_LEN: usize = 32;

/// A realm token's (or an admin token's) bytes.
pub type Token = [u8; TOKEN_LEN];

/// Prefix of an admin token's text form.
pub const ADMIN_PREFIX: &str = "cwadmin1.";

/// Longest credential text parsed at all (an access token with a 64-character realm is about
/// 140 characters); longer text is refused before looking at it.
pub const MAX_TOKEN_TEXT: usize = 256;

/// The text form of a realm token.
pub fn encode_token(token: &Token) -> String {
    STANDARD.encode(token)
}

/// Parses the text form of a realm token; `None` unless it is base64 of exactly 32 bytes.
pub fn decode_token(text: &str) -> Option<Token> {
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// The text form of an admin token: `cwadmin1.` and base64url (no padding) of its 32 bytes.
pub fn encode_admin_token(token: &Token) -> String {
    format!("{ADMIN_PREFIX}{}", URL_SAFE_NO_PAD.encode(token))
}

/// Parses an admin token's text form.
pub fn decode_admin_token(text: &str) -> Option<Token> {
    let rest = text.strip_prefix(ADMIN_PREFIX)?;
    URL_SAFE_NO_PAD.decode(rest).ok()?.try_into().ok()
}

/// The public name of a realm or admin token: 16 lower-case hex characters of a BLAKE3 key
/// derivation of its bytes (so the name gives nothing of the secret away). It names the token in
/// listings and revocations, and it is the key id (`kid`) of the access tokens a realm token signs.
pub fn token_id(token: &Token) -> String {
    hex(&blake3::derive_key("casweb 2025 token id v1", token)[..8])
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// True if `text` is exactly `len` lower-case hex digits.
pub(crate) fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a text is not a credential (the server answers 401 `unauthorized` with this message, the
/// client refuses its configuration with it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty")]
    Empty,
    #[error("the token is longer than {MAX_TOKEN_TEXT} characters")]
    TooLong,
    #[error(
        "not a token: expected base64 of 32 bytes (a realm token), cwa1.… (an access token) \
         or cwadmin1.… (an admin token)"
    )]
    Unrecognised,
    #[error("not an admin token: cwadmin1. must be followed by base64url of 32 bytes")]
    BadAdminToken,
    #[error("malformed access token: {0}")]
    BadAccessToken(&'static str),
}

/// Any credential of the protocol, parsed (not verified: only the server can tell whether a
/// token is known, correctly signed, revoked or expired).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A realm token: full access to its realm, and the key that signs its access tokens.
    Realm(Token),
    /// An access token (realm, scope, expiry, id, signature).
    Access(AccessToken),
    /// An admin token: the admin API only.
    Admin(Token),
}

impl Credential {
    /// Parses the text of any credential; every malformed text is a [`TokenError`].
    pub fn parse(text: &str) -> Result<Credential, TokenError> {
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        if text.len() > MAX_TOKEN_TEXT {
            return Err(TokenError::TooLong);
        }
        if text.starts_with(ADMIN_PREFIX) {
            return decode_admin_token(text)
                .map(Credential::Admin)
                .ok_or(TokenError::BadAdminToken);
        }
        if text.starts_with(super::access::PREFIX) {
            return AccessToken::parse(text).map(Credential::Access);
        }
        decode_token(text)
            .map(Credential::Realm)
            .ok_or(TokenError::Unrecognised)
    }

    /// The key proofs of possession made with this credential are keyed with
    /// (`casweb::pop::proof_with_key`): BLAKE3 of the 32 token bytes for realm (and admin)
    /// tokens, BLAKE3 of the token's text for access tokens. So each token proves with its own
    /// key, and an access token's proofs are worthless with any other token.
    pub fn pop_key(&self) -> [u8; 32] {
        match self {
            Credential::Realm(token) | Credential::Admin(token) => *blake3::hash(token).as_bytes(),
            Credential::Access(access) => *blake3::hash(access.text().as_bytes()).as_bytes(),
        }
    }

    /// What kind of credential this is: `realm`, `access` or `admin`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Realm(_) => "realm",
            Credential::Access(_) => "access",
            Credential::Admin(_) => "admin",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bad_text_is_none() {
        let token = [7u8; TOKEN_LEN];
        let text = encode_token(&token);
        assert_eq!(text.len(), 44);
        assert_eq!(decode_token(&text), Some(token));
        for bad in [
            "",
            "AAAA",
            &"A".repeat(44),
            &format!("{}=", "A".repeat(42)),
            "not base64!",
        ] {
            assert_eq!(decode_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn admin_tokens_round_trip() {
        let token = [9u8; TOKEN_LEN];
        let text = encode_admin_token(&token);
        assert_eq!(text.len(), ADMIN_PREFIX.len() + 43);
        assert_eq!(Credential::parse(&text), Ok(Credential::Admin(token)));
        for bad in [
            "cwadmin1.",
            &text[..text.len() - 1],
            &format!("{text}A"),
            &text.replace("cwadmin1.", "cwadmin1.="),
        ] {
            assert_eq!(
                Credential::parse(bad),
                Err(TokenError::BadAdminToken),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_are_told_apart_and_bad_text_says_why() {
        let realm = [1u8; TOKEN_LEN];
        let text = encode_token(&realm);
        assert_eq!(Credential::parse(&text), Ok(Credential::Realm(realm)));
        assert_eq!(Credential::parse(""), Err(TokenError::Empty));
        assert_eq!(
            Credential::parse(&"A".repeat(300)),
            Err(TokenError::TooLong)
        );
        assert_eq!(Credential::parse("AQID"), Err(TokenError::Unrecognised));
        assert!(matches!(
            Credential::parse("cwa1.x"),
            Err(TokenError::BadAccessToken(_))
        ));
    }

    #[test]
    fn token_ids_are_stable_and_hide_the_token() {
        let id = token_id(&[1u8; TOKEN_LEN]);
        assert!(is_hex(&id, 16), "{id}");
        assert_eq!(id, token_id(&[1u8; TOKEN_LEN]));
        assert_ne!(id, token_id(&[2u8; TOKEN_LEN]));
        assert!(!encode_token(&[1u8; TOKEN_LEN]).contains(&id));
    }

    #[test]
    fn pop_key_of_a_realm_token_is_the_hash_of_its_bytes() {
        // The documented PoP vector (docs/protocol.md) relies on this.
        let token = [1u8; TOKEN_LEN];
        assert_eq!(
            Credential::Realm(token).pop_key(),
            *blake3::hash(&token).as_bytes()
        );
    }

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
