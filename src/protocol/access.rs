//! Access tokens: what an app's backend hands a browser for one user session. The claims
//! (realm, scope, expiry, id) travel in clear and are signed with a realm token, so the server
//! verifies a token without looking it up (docs/protocol.md, "Access tokens"):
//!
//! ```text
//! cwa1.<realm>.<scope>.<expires>.<id>.<kid>.<mac>
//!   realm    the realm (1 to 64 of A-Z a-z 0-9 _ -, so never a dot)
//!   scope    read | write (write implies read)
//!   expires  Unix time in seconds, decimal without leading zeros: valid while now < expires
//!   id       16 lower-case hex digits (64 random bits): names the token for listing/revocation
//!   kid      16 lower-case hex digits: the id of the realm token that signed it (token_id)
//!   mac      Crockford base32 (26 characters) of the first 16 bytes of
//!            BLAKE3-keyed(key = BLAKE3-derive-key("casweb 2025 access token mac v1", realm token),
//!                         input = everything before the last dot)
//! ```
//!
//! Every field has exactly one text form, so a token has one text (its proof-of-possession key
//! is the hash of that text, see [`super::Credential::pop_key`]).

use super::realm::is_valid_realm;
use super::token::{constant_time_eq, hex, is_hex, token_id, Token, TokenError};
use crate::crockford;

/// The version field and its dot: every access token starts with it.
pub const PREFIX: &str = "cwa1.";

/// Longest lifetime a server mints (30 days); a backend renews tokens long before.
pub const MAX_TTL_SECS: u64 = 30 * 24 * 3600;

/// Length of an access token id and of a key id, in hex digits.
pub const ID_LEN: usize = 16;

/// The BLAKE3 key-derivation context of the signing key.
const MAC_CONTEXT: &str = "casweb 2025 access token mac v1";

/// What a token may do. `Write` implies `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read nodes (`GET .../raw/{key}`, `POST .../nodes/get`) and check keys.
    Read,
    /// Everything `Read` may, plus put, batch upload, claim and provide.
    Write,
}

impl Scope {
    /// `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
        }
    }

    /// Parses `read` or `write` (exactly).
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "read" => Some(Scope::Read),
            "write" => Some(Scope::Write),
            _ => None,
        }
    }

    /// True if a token of this scope may do what `needed` requires.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Write || needed == Scope::Read
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an access token says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub realm: String,
    pub scope: Scope,
    /// Unix time (seconds) from which the token is refused.
    pub expires: u64,
    /// [`ID_LEN`] lower-case hex digits (see [`new_id`]).
    pub id: String,
}

/// A token id from 8 random bytes.
pub fn new_id(random: [u8; 8]) -> String {
    hex(&random)
}

/// A parsed (or freshly signed) access token. Parsing does not verify the signature: only the
/// holder of the signing realm token (the server) can, with [`AccessToken::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    claims: AccessClaims,
    kid: String,
    mac: [u8; 16],
    text: String,
}

fn bad(why: &'static str) -> TokenError {
    TokenError::BadAccessToken(why)
}

/// The signature of `signed` (the token text before its last dot) with realm token `key`.
fn mac(key: &Token, signed: &str) -> [u8; 16] {
    let mac_key = blake3::derive_key(MAC_CONTEXT, key);
    let hash = blake3::keyed_hash(&mac_key, signed.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash.as_bytes()[..16]);
    out
}

fn check_claims(claims: &AccessClaims) -> Result<(), TokenError> {
    if !is_valid_realm(&claims.realm) {
        return Err(bad("the realm must be 1 to 64 of A-Z a-z 0-9 _ -"));
    }
    if claims.expires == 0 {
        return Err(bad("the expiry must be a positive Unix time"));
    }
    if !is_hex(&claims.id, ID_LEN) {
        return Err(bad("the id must be 16 lower-case hex digits"));
    }
    Ok(())
}

impl AccessToken {
    /// Signs `claims` with realm token `key` (which must be a token of `claims.realm`: the
    /// server refuses a token whose key belongs to another realm).
    pub fn sign(claims: AccessClaims, key: &Token) -> Result<AccessToken, TokenError> {
        check_claims(&claims)?;
        let kid = token_id(key);
        let signed = format!(
            "{PREFIX}{}.{}.{}.{}.{kid}",
            claims.realm, claims.scope, claims.expires, claims.id
        );
        let mac = mac(key, &signed);
        let text = format!("{signed}.{}", crockford::encode16(&mac));
        Ok(AccessToken {
            claims,
            kid,
            mac,
            text,
        })
    }

    /// Parses the text form, refusing anything that is not the one canonical text of a token.
    pub fn parse(text: &str) -> Result<AccessToken, TokenError> {
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or(bad("it must start with cwa1."))?;
        let fields: Vec<&str> = rest.split('.').collect();
        let [realm, scope, expires, id, kid, mac_text] = fields[..] else {
            return Err(bad(
                "expected 7 dot-separated fields: cwa1.realm.scope.expires.id.kid.mac",
            ));
        };
        let scope = Scope::parse(scope).ok_or(bad("the scope must be read or write"))?;
        let canonical_number = !expires.is_empty()
            && expires.len() <= 20
            && expires.bytes().all(|b| b.is_ascii_digit())
            && !expires.starts_with('0');
        let expires = canonical_number
            .then(|| expires.parse::<u64>().ok())
            .flatten()
            .ok_or(bad(
                "the expiry must be a Unix time in decimal without leading zeros",
            ))?;
        if !is_hex(kid, ID_LEN) {
            return Err(bad("the key id must be 16 lower-case hex digits"));
        }
        let mac = crockford::decode16(mac_text)
            .map_err(|_| bad("the signature must be 26 characters of Crockford base32"))?;
        let claims = AccessClaims {
            realm: realm.to_owned(),
            scope,
            expires,
            id: id.to_owned(),
        };
        check_claims(&claims)?;
        Ok(AccessToken {
            claims,
            kid: kid.to_owned(),
            mac,
            text: text.to_owned(),
        })
    }

    /// True if `key` signed this token (constant time over the signature).
    pub fn verify(&self, key: &Token) -> bool {
        let signed = &self.text[..self.text.len() - crockford::ENCODED_LEN - 1];
        constant_time_eq(&mac(key, signed), &self.mac) && token_id(key) == self.kid
    }

    /// The claims: realm, scope, expiry, id.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    pub fn realm(&self) -> &str {
        &self.claims.realm
    }

    pub fn scope(&self) -> Scope {
        self.claims.scope
    }

    pub fn expires(&self) -> u64 {
        self.claims.expires
    }

    pub fn id(&self) -> &str {
        &self.claims.id
    }

    /// The id of the realm token that signed it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The text form (what travels in `Authorization: Bearer`).
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::token::Credential;
    use super::*;

    const KEY: Token = [1u8; 32];

    fn claims() -> AccessClaims {
        AccessClaims {
            realm: "demo".into(),
            scope: Scope::Write,
            expires: 1_767_225_600,
            id: "00112233445566ff".into(),
        }
    }

    /// The worked example of docs/protocol.md.
    #[test]
    fn documented_access_token_vector() {
        let token = AccessToken::sign(claims(), &KEY).unwrap();
        assert_eq!(token_id(&KEY), "57798fcbe3fdb6e2");
        assert_eq!(
            hex(&blake3::derive_key(MAC_CONTEXT, &KEY)),
            "3e1db92c96527bc319b0e969b41cfc03d10410a3e6c131470a6b6392eebcb64e"
        );
        assert_eq!(
            token.text(),
            "cwa1.demo.write.1767225600.00112233445566ff.57798fcbe3fdb6e2.ZRHV0KQG98KDA5YBM1SNYH880C"
        );
        assert_eq!(
            Credential::Access(token.clone()).pop_key(),
            *blake3::hash(token.text().as_bytes()).as_bytes()
        );
    }

    #[test]
    fn signed_tokens_parse_back_and_verify_with_their_key_only() {
        let token = AccessToken::sign(claims(), &KEY).unwrap();
        let parsed = AccessToken::parse(token.text()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.claims(), &claims());
        assert_eq!(parsed.kid(), token_id(&KEY));
        assert!(parsed.verify(&KEY));
        assert!(!parsed.verify(&[2u8; 32]));
        assert_eq!(
            Credential::parse(token.text()),
            Ok(Credential::Access(token))
        );
    }

    #[test]
    fn any_changed_claim_breaks_the_signature() {
        let text = AccessToken::sign(claims(), &KEY).unwrap().text().to_owned();
        for (from, to) in [
            (".demo.", ".demo2."),
            (".write.", ".read."),
            ("1767225600", "1767225601"),
            ("00112233445566ff", "00112233445566fe"),
        ] {
            let tampered = text.replacen(from, to, 1);
            let parsed = AccessToken::parse(&tampered).unwrap();
            assert!(!parsed.verify(&KEY), "{tampered}");
        }
    }

    #[test]
    fn malformed_text_is_refused() {
        let text = AccessToken::sign(claims(), &KEY).unwrap().text().to_owned();
        let mac_start = text.rfind('.').unwrap() + 1;
        for bad_text in [
            "cwa1.".to_owned(),
            text[..text.len() - 1].to_owned(),
            format!("{text}.x"),
            text.replace("cwa1.", "cwa2."),
            text.replace(".write.", ".admin."),
            text.replace(".write.", ".Write."),
            text.replace("1767225600", "01767225600"),
            text.replace("1767225600", "0"),
            text.replace("1767225600", "-5"),
            text.replace("1767225600", "99999999999999999999999"),
            text.replace("00112233445566ff", "00112233445566FF"),
            text.replace("00112233445566ff", "0011223344"),
            text.replace(".demo.", ".de mo."),
            text.replace(".demo.", ".."),
            format!("{}{}", &text[..mac_start], text[mac_start..].to_lowercase()),
            format!("{}1", &text[..text.len() - 1]),
        ] {
            assert!(AccessToken::parse(&bad_text).is_err(), "{bad_text}");
        }
    }

    #[test]
    fn scopes() {
        assert!(Scope::Write.allows(Scope::Read) && Scope::Write.allows(Scope::Write));
        assert!(Scope::Read.allows(Scope::Read) && !Scope::Read.allows(Scope::Write));
        assert_eq!(Scope::parse("read"), Some(Scope::Read));
        assert_eq!(Scope::parse("WRITE"), None);
    }

    #[test]
    fn bad_claims_are_not_signed() {
        for change in [
            |c: &mut AccessClaims| c.realm = "a.b".into(),
            |c: &mut AccessClaims| c.expires = 0,
            |c: &mut AccessClaims| c.id = "xyz".into(),
        ] {
            let mut claims = claims();
            change(&mut claims);
            assert!(AccessToken::sign(claims, &KEY).is_err());
        }
    }
}
