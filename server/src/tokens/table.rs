//! What the server knows about credentials, in memory, built from the token file's lines:
//! realm tokens (by the BLAKE3 hash of their bytes, and by id as signing keys), admin tokens,
//! records of the access tokens it minted, and revocations. Pure: time is a parameter, so the
//! rules of admission are unit-tested without files or clocks.

use std::collections::{HashMap, HashSet};

use casweb::protocol::{token_id, AccessToken, Credential, Scope, Token};

use super::line::Line;

/// A realm token: the realm's credential, and the key its access tokens are signed with.
#[derive(Debug, Clone)]
struct RealmKey {
    realm: String,
    token: Token,
    /// Position in the file: the newest unrevoked key of a realm signs new access tokens.
    seq: u64,
}

#[derive(Debug, Clone)]
struct AccessRecord {
    realm: String,
    scope: Scope,
    expires: u64,
    kid: String,
    created: u64,
}

/// Who a request's credential is, once admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A realm token: write access to its realm, and it may mint access tokens for it.
    Realm { realm: String, id: String },
    /// An access token: its scope on its realm, until it expires.
    Access {
        realm: String,
        scope: Scope,
        id: String,
        expires: u64,
    },
    /// An admin token: the admin API, every realm; no node access.
    Admin { id: String },
}

/// Why a well-formed credential is refused (each is a 401 with its own code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not a token this server knows or signed: `unauthorized`.
    Unknown(&'static str),
    /// Revoked (or signed by a revoked realm token): `token_revoked`.
    Revoked(&'static str),
    /// Valid, but its expiry has passed: `token_expired`.
    Expired { expires: u64 },
}

/// The kinds of token a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Realm,
    Access,
    Admin,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Realm => "realm",
            Kind::Access => "access",
            Kind::Admin => "admin",
        }
    }
}

/// One token as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub kind: Kind,
    /// `None` for admin tokens.
    pub realm: Option<String>,
    /// `write` for realm tokens, the token's for access tokens, `None` for admin tokens.
    pub scope: Option<Scope>,
    /// Access tokens only.
    pub expires: Option<u64>,
    pub created: Option<u64>,
    /// Access tokens: the id of the realm token that signed it.
    pub signed_by: Option<String>,
    pub revoked: bool,
}

/// Live tokens by kind, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Realm tokens not revoked.
    pub realm: u64,
    /// Admin tokens not revoked.
    pub admin: u64,
    /// Access tokens minted here that are neither expired nor revoked.
    pub access: u64,
}

/// The credentials table.
#[derive(Debug, Default)]
pub struct Table {
    realm_by_hash: HashMap<[u8; 32], String>,
    realm_keys: HashMap<String, RealmKey>,
    admin_by_hash: HashMap<[u8; 32], String>,
    access: HashMap<String, AccessRecord>,
    revoked: HashSet<String>,
    lines: u64,
}

/// The key secrets are looked up by: their hash, so that a lookup never compares secrets.
fn hash(token: &Token) -> [u8; 32] {
    *blake3::hash(token).as_bytes()
}

impl Table {
    /// Takes one line of the file into account (lines are applied in file order).
    pub fn apply(&mut self, line: Line) {
        self.lines += 1;
        match line {
            Line::RealmToken { realm, token } => {
                let id = token_id(&token);
                self.realm_by_hash.insert(hash(&token), id.clone());
                self.realm_keys.insert(
                    id,
                    RealmKey {
                        realm,
                        token,
                        seq: self.lines,
                    },
                );
            }
            Line::AdminToken { token } => {
                self.admin_by_hash.insert(hash(&token), token_id(&token));
            }
            Line::Access {
                id,
                realm,
                scope,
                expires,
                kid,
                created,
            } => {
                self.access.insert(
                    id,
                    AccessRecord {
                        realm,
                        scope,
                        expires,
                        kid,
                        created,
                    },
                );
            }
            Line::Revoke { id, .. } => {
                self.revoked.insert(id);
            }
        }
    }

    fn is_revoked(&self, id: &str) -> bool {
        self.revoked.contains(id)
    }

    /// True if `id` itself was revoked (not only the key that signed it).
    pub fn has_revocation(&self, id: &str) -> bool {
        self.is_revoked(id)
    }

    /// Admits a credential at time `now`, or says why not. An access token is checked by its
    /// signature (constant time) with the realm token named by its key id, which must be of the
    /// token's realm; its own record is not needed.
    pub fn authenticate(&self, credential: &Credential, now: u64) -> Result<Principal, Refusal> {
        match credential {
            Credential::Realm(token) => {
                let id = self
                    .realm_by_hash
                    .get(&hash(token))
                    .ok_or(Refusal::Unknown("unknown token"))?;
                if self.is_revoked(id) {
                    return Err(Refusal::Revoked("this realm token was revoked"));
                }
                Ok(Principal::Realm {
                    realm: self.realm_keys[id].realm.clone(),
                    id: id.clone(),
                })
            }
            Credential::Admin(token) => {
                let id = self
                    .admin_by_hash
                    .get(&hash(token))
                    .ok_or(Refusal::Unknown("unknown admin token"))?;
                if self.is_revoked(id) {
                    return Err(Refusal::Revoked("this admin token was revoked"));
                }
                Ok(Principal::Admin { id: id.clone() })
            }
            Credential::Access(access) => self.authenticate_access(access, now),
        }
    }

    fn authenticate_access(&self, access: &AccessToken, now: u64) -> Result<Principal, Refusal> {
        let key = self
            .realm_keys
            .get(access.kid())
            .ok_or(Refusal::Unknown("the token is signed with an unknown key"))?;
        if key.realm != access.realm() || !access.verify(&key.token) {
            return Err(Refusal::Unknown("the token's signature is not valid"));
        }
        if self.is_revoked(access.kid()) {
            return Err(Refusal::Revoked(
                "the realm token that signed this token was revoked",
            ));
        }
        if self.is_revoked(access.id()) {
            return Err(Refusal::Revoked("this token was revoked"));
        }
        if now >= access.expires() {
            return Err(Refusal::Expired {
                expires: access.expires(),
            });
        }
        Ok(Principal::Access {
            realm: access.realm().to_owned(),
            scope: access.scope(),
            id: access.id().to_owned(),
            expires: access.expires(),
        })
    }

    /// The newest realm token of `realm` that is not revoked: it signs new access tokens.
    pub fn signing_key(&self, realm: &str) -> Option<Token> {
        self.realm_keys
            .iter()
            .filter(|(id, key)| key.realm == realm && !self.is_revoked(id))
            .max_by_key(|(_, key)| key.seq)
            .map(|(_, key)| key.token)
    }

    /// The token named `id`, whatever its kind and state.
    pub fn find(&self, id: &str) -> Option<TokenInfo> {
        if let Some(key) = self.realm_keys.get(id) {
            return Some(TokenInfo {
                id: id.to_owned(),
                kind: Kind::Realm,
                realm: Some(key.realm.clone()),
                scope: Some(Scope::Write),
                expires: None,
                created: None,
                signed_by: None,
                revoked: self.is_revoked(id),
            });
        }
        if let Some(record) = self.access.get(id) {
            return Some(TokenInfo {
                id: id.to_owned(),
                kind: Kind::Access,
                realm: Some(record.realm.clone()),
                scope: Some(record.scope),
                expires: Some(record.expires),
                created: Some(record.created),
                signed_by: Some(record.kid.clone()),
                revoked: self.is_revoked(id) || self.is_revoked(&record.kid),
            });
        }
        self.admin_by_hash
            .values()
            .any(|admin| admin == id)
            .then(|| TokenInfo {
                id: id.to_owned(),
                kind: Kind::Admin,
                realm: None,
                scope: None,
                expires: None,
                created: None,
                signed_by: None,
                revoked: self.is_revoked(id),
            })
    }

    /// Every token (of `realm`, if given; admin tokens only without), except access tokens
    /// that expired by `now`; realm tokens first, then admin tokens, then access tokens by
    /// creation time.
    pub fn list(&self, realm: Option<&str>, now: u64) -> Vec<TokenInfo> {
        let mut realms: Vec<(&String, &RealmKey)> = self
            .realm_keys
            .iter()
            .filter(|(_, key)| realm.is_none_or(|r| key.realm == r))
            .collect();
        realms.sort_by_key(|(_, key)| key.seq);
        let mut admins: Vec<&String> = if realm.is_none() {
            self.admin_by_hash.values().collect()
        } else {
            Vec::new()
        };
        admins.sort();
        let mut access: Vec<(&String, &AccessRecord)> = self
            .access
            .iter()
            .filter(|(_, record)| record.expires > now && realm.is_none_or(|r| record.realm == r))
            .collect();
        access.sort_by(|a, b| (a.1.created, a.0).cmp(&(b.1.created, b.0)));
        realms
            .into_iter()
            .map(|(id, _)| id)
            .chain(admins)
            .chain(access.into_iter().map(|(id, _)| id))
            .filter_map(|id| self.find(id))
            .collect()
    }

    /// Live tokens by kind at `now`.
    pub fn counts(&self, now: u64) -> Counts {
        let live = |ids: &mut dyn Iterator<Item = &String>| {
            ids.filter(|id| !self.is_revoked(id)).count() as u64
        };
        Counts {
            realm: live(&mut self.realm_keys.keys()),
            admin: live(&mut self.admin_by_hash.values()),
            access: self
                .access
                .iter()
                .filter(|(id, record)| {
                    record.expires > now && !self.is_revoked(id) && !self.is_revoked(&record.kid)
                })
                .count() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use casweb::protocol::{AccessClaims, AccessToken};

    use super::*;

    const ALPHA: Token = [1; 32];
    const BETA: Token = [2; 32];
    const ADMIN: Token = [3; 32];

    fn table() -> Table {
        let mut table = Table::default();
        for (realm, token) in [("alpha", ALPHA), ("beta", BETA)] {
            table.apply(Line::RealmToken {
                realm: realm.into(),
                token,
            });
        }
        table.apply(Line::AdminToken { token: ADMIN });
        table
    }

    fn access(realm: &str, key: &Token, scope: Scope, expires: u64, id: &str) -> Credential {
        let claims = AccessClaims {
            realm: realm.into(),
            scope,
            expires,
            id: id.into(),
        };
        Credential::Access(AccessToken::sign(claims, key).unwrap())
    }

    #[test]
    fn realm_admin_and_access_tokens_are_admitted() {
        let table = table();
        assert_eq!(
            table.authenticate(&Credential::Realm(ALPHA), 0),
            Ok(Principal::Realm {
                realm: "alpha".into(),
                id: token_id(&ALPHA)
            })
        );
        assert_eq!(
            table.authenticate(&Credential::Admin(ADMIN), 0),
            Ok(Principal::Admin {
                id: token_id(&ADMIN)
            })
        );
        let token = access("alpha", &ALPHA, Scope::Read, 100, "0000000000000001");
        assert!(matches!(
            table.authenticate(&token, 99),
            Ok(Principal::Access {
                scope: Scope::Read,
                expires: 100,
                ..
            })
        ));
        // Valid while now < expires.
        assert_eq!(
            table.authenticate(&token, 100),
            Err(Refusal::Expired { expires: 100 })
        );
    }

    #[test]
    fn unknown_forged_and_cross_realm_tokens_are_unknown() {
        let table = table();
        assert!(matches!(
            table.authenticate(&Credential::Realm([9; 32]), 0),
            Err(Refusal::Unknown(_))
        ));
        assert!(matches!(
            table.authenticate(&Credential::Admin(ALPHA), 0),
            Err(Refusal::Unknown(_))
        ));
        // Signed by a key the server does not have.
        let forged = access("alpha", &[9; 32], Scope::Write, 100, "0000000000000001");
        assert!(matches!(
            table.authenticate(&forged, 0),
            Err(Refusal::Unknown(_))
        ));
        // Signed by beta's realm token but claiming realm alpha.
        let cross = access("alpha", &BETA, Scope::Write, 100, "0000000000000001");
        assert!(matches!(
            table.authenticate(&cross, 0),
            Err(Refusal::Unknown(_))
        ));
    }

    #[test]
    fn revocations_apply_to_tokens_and_to_what_a_key_signed() {
        let mut table = table();
        let token = access("alpha", &ALPHA, Scope::Write, 100, "0000000000000001");
        let other = access("alpha", &ALPHA, Scope::Write, 100, "0000000000000002");
        table.apply(Line::Revoke {
            id: "0000000000000001".into(),
            until: 100,
        });
        assert!(matches!(
            table.authenticate(&token, 0),
            Err(Refusal::Revoked(_))
        ));
        assert!(table.authenticate(&other, 0).is_ok());
        table.apply(Line::Revoke {
            id: token_id(&ALPHA),
            until: 0,
        });
        assert!(matches!(
            table.authenticate(&other, 0),
            Err(Refusal::Revoked(_))
        ));
        assert!(matches!(
            table.authenticate(&Credential::Realm(ALPHA), 0),
            Err(Refusal::Revoked(_))
        ));
        assert_eq!(table.signing_key("alpha"), None);
        assert_eq!(table.signing_key("beta"), Some(BETA));
    }

    #[test]
    fn the_newest_unrevoked_realm_token_signs() {
        let mut table = table();
        table.apply(Line::RealmToken {
            realm: "alpha".into(),
            token: [7; 32],
        });
        assert_eq!(table.signing_key("alpha"), Some([7; 32]));
        table.apply(Line::Revoke {
            id: token_id(&[7; 32]),
            until: 0,
        });
        assert_eq!(table.signing_key("alpha"), Some(ALPHA));
    }

    #[test]
    fn listing_and_counts() {
        let mut table = table();
        for (id, expires, created) in [("00000000000000a1", 50, 2), ("00000000000000a2", 200, 1)] {
            table.apply(Line::Access {
                id: id.into(),
                realm: "alpha".into(),
                scope: Scope::Read,
                expires,
                kid: token_id(&ALPHA),
                created,
            });
        }
        let ids = |list: Vec<TokenInfo>| list.into_iter().map(|t| t.id).collect::<Vec<_>>();
        assert_eq!(
            ids(table.list(Some("alpha"), 10)),
            [
                token_id(&ALPHA),
                "00000000000000a2".into(),
                "00000000000000a1".into()
            ]
        );
        assert_eq!(
            ids(table.list(Some("alpha"), 60)),
            [token_id(&ALPHA), "00000000000000a2".into()]
        );
        assert_eq!(
            table.list(None, 60).len(),
            4,
            "two realm, one admin, one access"
        );
        assert_eq!(
            table.counts(60),
            Counts {
                realm: 2,
                admin: 1,
                access: 1
            }
        );
        table.apply(Line::Revoke {
            id: "00000000000000a2".into(),
            until: 200,
        });
        assert!(table.find("00000000000000a2").unwrap().revoked);
        assert_eq!(table.counts(60).access, 0);
        assert_eq!(table.find(&token_id(&ADMIN)).unwrap().kind, Kind::Admin);
        assert_eq!(table.find("ffffffffffffffff"), None);
    }
}
