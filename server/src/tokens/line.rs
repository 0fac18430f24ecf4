//! The lines of the token file (`<data-dir>/tokens`), append-only, one fact per line:
//!
//! ```text
//! <realm> <base64 realm token>                                 a realm token (the original format)
//! @admin <cwadmin1.… admin token>                              an admin token
//! @access <id> <realm> <scope> <expires> <kid> <created>       an access token minted (no secret)
//! @revoke <id> <until>                                         a revocation (until: 0 = for good,
//!                                                              else the token's expiry)
//! ```
//!
//! Lines starting with `#` are comments. A realm cannot start with `@`, so the forms never mix.

use casweb::protocol::{
    decode_admin_token, decode_token, encode_admin_token, encode_token, is_valid_realm, Scope,
    Token,
};

/// One fact of the token file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    RealmToken {
        realm: String,
        token: Token,
    },
    AdminToken {
        token: Token,
    },
    /// A record of a minted access token, for listing and revocation by id: the token itself is
    /// not stored (the server verifies its signature, it never looks it up).
    Access {
        id: String,
        realm: String,
        scope: Scope,
        expires: u64,
        kid: String,
        created: u64,
    },
    Revoke {
        id: String,
        /// After this Unix time the line no longer matters (0: never).
        until: u64,
    },
}

fn is_id(text: &str) -> bool {
    text.len() == casweb::protocol::access::ID_LEN
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Line {
    /// Parses one line (without its newline); `None` for a comment, a blank or a line this
    /// server does not understand.
    pub fn parse(text: &str) -> Option<Line> {
        let text = text.trim();
        let mut fields = text.split_whitespace();
        let first = fields.next()?;
        let rest: Vec<&str> = fields.collect();
        match (first, rest.as_slice()) {
            ("@admin", [token]) => Some(Line::AdminToken {
                token: decode_admin_token(token)?,
            }),
            ("@access", [id, realm, scope, expires, kid, created]) => {
                (is_id(id) && is_id(kid) && is_valid_realm(realm)).then_some(())?;
                Some(Line::Access {
                    id: (*id).to_owned(),
                    realm: (*realm).to_owned(),
                    scope: Scope::parse(scope)?,
                    expires: expires.parse().ok()?,
                    kid: (*kid).to_owned(),
                    created: created.parse().ok()?,
                })
            }
            ("@revoke", [id, until]) => {
                is_id(id).then_some(())?;
                Some(Line::Revoke {
                    id: (*id).to_owned(),
                    until: until.parse().ok()?,
                })
            }
            (realm, [token]) if is_valid_realm(realm) => Some(Line::RealmToken {
                realm: realm.to_owned(),
                token: decode_token(token)?,
            }),
            _ => None,
        }
    }

    /// The line's text, with its newline.
    pub fn render(&self) -> String {
        match self {
            Line::RealmToken { realm, token } => format!("{realm} {}\n", encode_token(token)),
            Line::AdminToken { token } => format!("@admin {}\n", encode_admin_token(token)),
            Line::Access {
                id,
                realm,
                scope,
                expires,
                kid,
                created,
            } => format!("@access {id} {realm} {scope} {expires} {kid} {created}\n"),
            Line::Revoke { id, until } => format!("@revoke {id} {until}\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_round_trips() {
        for line in [
            Line::RealmToken {
                realm: "alpha".into(),
                token: [1; 32],
            },
            Line::AdminToken { token: [2; 32] },
            Line::Access {
                id: "0011223344556677".into(),
                realm: "alpha".into(),
                scope: Scope::Read,
                expires: 2_000_000_000,
                kid: "8899aabbccddeeff".into(),
                created: 1_999_999_000,
            },
            Line::Revoke {
                id: "0011223344556677".into(),
                until: 0,
            },
        ] {
            let text = line.render();
            assert!(text.ends_with('\n'));
            assert_eq!(Line::parse(&text), Some(line), "{text}");
        }
    }

    #[test]
    fn other_lines_are_not_facts() {
        for text in [
            "",
            "# a comment",
            "bad realm AQEB",
            "alpha not-base64",
            "@admin AQEB",
            "@revoke XYZ 0",
            "@revoke 0011223344556677",
            "@access 0011223344556677 alpha admin 1 8899aabbccddeeff 1",
            "@future something",
        ] {
            assert_eq!(Line::parse(text), None, "{text}");
        }
    }
}
