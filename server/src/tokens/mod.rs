//! Credentials on the server: the token log and the table read from it (no HTTP here; the
//! extractors that admit requests are `auth`).
//!
//! Everything lives in an append-only log of lines ([`line`] has their format): realm tokens,
//! admin tokens, records of minted access tokens, revocations. The log is a seam ([`log`]):
//! the file `<data-dir>/tokens` by default ([`file_log`]), the `token_lines` table with
//! `--store postgres+s3` ([`postgres_log`]). The CLI (`casweb-server token create|list|revoke`)
//! appends to it while servers run, and a server sees the change on its next request: every
//! admission first asks the log what was appended (the file: a stat; PostgreSQL: a query at most
//! once per refresh interval). The log is never rewritten: records of expired tokens stay in it
//! (they are skipped when listing).

pub mod file_log;
pub mod line;
pub mod log;
pub mod postgres_log;
pub mod table;

use std::io;
use std::sync::RwLock;

pub use casweb::protocol::{
    decode_token, encode_admin_token, encode_token, is_valid_realm, token_id, AccessClaims,
    AccessToken, Credential, Scope, Token, MAX_REALM_LEN, MAX_TTL_SECS, TOKEN_LEN,
};
pub use file_log::{FileLog, TOKEN_FILE};
pub use line::Line;
pub use log::{Changes, TokenLog};
pub use postgres_log::PostgresLog;
use table::Table;
pub use table::{Counts, Kind, Principal, Refusal, TokenInfo};

/// 32 fresh bytes from the operating system's random source.
pub fn generate_token() -> io::Result<Token> {
    let mut token = [0u8; TOKEN_LEN];
    getrandom::fill(&mut token).map_err(|e| io::Error::other(format!("random source: {e}")))?;
    Ok(token)
}

/// A fresh access token id (64 random bits).
fn generate_id() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| io::Error::other(format!("random source: {e}")))?;
    Ok(casweb::protocol::access::new_id(bytes))
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A freshly minted access token.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: AccessToken,
    /// When it was minted (Unix seconds).
    pub created: u64,
}

/// The server's (or the CLI's) view of the token log.
pub struct TokenStore {
    log: Box<dyn TokenLog>,
    table: RwLock<Table>,
    /// One refresh at a time (the others wait and find the work done).
    refreshing: tokio::sync::Mutex<()>,
    /// One writer at a time in this process: deciding what to append and appending it (e.g.
    /// creating a realm's signing key once) is one step.
    writing: tokio::sync::Mutex<()>,
}

impl TokenStore {
    /// Reads the whole log.
    pub async fn open(log: Box<dyn TokenLog>) -> io::Result<TokenStore> {
        let store = TokenStore {
            log,
            table: RwLock::default(),
            refreshing: tokio::sync::Mutex::default(),
            writing: tokio::sync::Mutex::default(),
        };
        store.read_changes(true).await?;
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters: lines are applied one by one and each is a whole fact.
        self.table
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads what was appended to the log since it was last read. An unreadable log keeps the
    /// table as it was, with a warning.
    pub async fn refresh(&self) {
        if let Err(error) = self.read_changes(false).await {
            tracing::warn!(%error, "cannot reread the token log");
        }
    }

    async fn read_changes(&self, fresh: bool) -> io::Result<()> {
        let _refreshing = self.refreshing.lock().await;
        match self.log.changes(fresh).await? {
            Changes::Unchanged => {}
            Changes::Appended(lines) => {
                let mut table = self.write();
                for line in lines {
                    table.apply(line);
                }
            }
            Changes::Replaced(lines) => {
                let mut table = Table::default();
                for line in lines {
                    table.apply(line);
                }
                *self.write() = table;
            }
        }
        Ok(())
    }

    /// Appends `lines` durably and reads them back into the table.
    async fn append(&self, lines: &[Line]) -> io::Result<()> {
        self.log.append(lines).await?;
        self.read_changes(true).await
    }

    /// Creates a realm token for `realm`, durably, and returns it. It becomes the realm's
    /// signing key for access tokens minted from now on.
    pub async fn create_realm_token(&self, realm: &str) -> io::Result<Token> {
        if !is_valid_realm(realm) {
            return Err(invalid_input(format!(
                "invalid realm name {realm:?}: use 1 to {MAX_REALM_LEN} of A-Z a-z 0-9 _ -"
            )));
        }
        let _writing = self.writing.lock().await;
        let token = generate_token()?;
        self.append(&[Line::RealmToken {
            realm: realm.to_owned(),
            token,
        }])
        .await?;
        Ok(token)
    }

    /// Creates an admin token, durably, and returns it.
    pub async fn create_admin_token(&self) -> io::Result<Token> {
        let _writing = self.writing.lock().await;
        let token = generate_token()?;
        self.append(&[Line::AdminToken { token }]).await?;
        Ok(token)
    }

    /// Mints an access token for `realm` valid `ttl_secs` from `now`, signed with the realm's
    /// newest realm token (created first if the realm has none), and records it (no secret)
    /// for listing and revocation. `ttl_secs` must be 1 to [`MAX_TTL_SECS`].
    pub async fn mint(
        &self,
        realm: &str,
        scope: Scope,
        ttl_secs: u64,
        now: u64,
    ) -> io::Result<Minted> {
        if !is_valid_realm(realm) {
            return Err(invalid_input(format!("invalid realm name {realm:?}")));
        }
        if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
            return Err(invalid_input(format!(
                "the lifetime must be 1 to {MAX_TTL_SECS} seconds, not {ttl_secs}"
            )));
        }
        let _writing = self.writing.lock().await;
        self.read_changes(true).await?;
        let mut lines = Vec::new();
        let signing_key = self.read().signing_key(realm);
        let key = match signing_key {
            Some(key) => key,
            None => {
                let token = generate_token()?;
                lines.push(Line::RealmToken {
                    realm: realm.to_owned(),
                    token,
                });
                token
            }
        };
        let claims = AccessClaims {
            realm: realm.to_owned(),
            scope,
            expires: now + ttl_secs,
            id: generate_id()?,
        };
        let token = AccessToken::sign(claims, &key)
            .map_err(|e| io::Error::other(format!("cannot sign: {e}")))?;
        lines.push(Line::Access {
            id: token.id().to_owned(),
            realm: realm.to_owned(),
            scope,
            expires: token.expires(),
            kid: token.kid().to_owned(),
            created: now,
        });
        self.append(&lines).await?;
        Ok(Minted {
            token,
            created: now,
        })
    }

    /// Revokes the token named `id` (any kind), durably; revoking a realm token also revokes
    /// every access token it signed. `None` if no token has this id; revoking twice is fine.
    pub async fn revoke(&self, id: &str) -> io::Result<Option<TokenInfo>> {
        let _writing = self.writing.lock().await;
        self.read_changes(true).await?;
        let (found, already) = {
            let table = self.read();
            (table.find(id), table.has_revocation(id))
        };
        let Some(mut info) = found else {
            return Ok(None);
        };
        if !already {
            self.append(&[Line::Revoke {
                id: id.to_owned(),
                until: info.expires.unwrap_or(0),
            }])
            .await?;
        }
        info.revoked = true;
        Ok(Some(info))
    }

    /// Admits a credential at `now` (after reading what changed in the log). A credential the
    /// table does not know makes the log be read now, whatever its refresh interval, so a token
    /// created through another process or replica works at once (revocations are what the
    /// interval bounds).
    pub async fn authenticate(
        &self,
        credential: &Credential,
        now: u64,
    ) -> Result<Principal, Refusal> {
        self.refresh().await;
        let admitted = self.read().authenticate(credential, now);
        if !matches!(admitted, Err(Refusal::Unknown(_))) {
            return admitted;
        }
        if let Err(error) = self.read_changes(true).await {
            tracing::warn!(%error, "cannot reread the token log");
        }
        self.read().authenticate(credential, now)
    }

    /// The token named `id`.
    pub async fn find(&self, id: &str) -> Option<TokenInfo> {
        self.refresh().await;
        self.read().find(id)
    }

    /// Tokens of `realm` (every token without), minus access tokens expired by `now`.
    pub async fn list(&self, realm: Option<&str>, now: u64) -> Vec<TokenInfo> {
        self.refresh().await;
        self.read().list(realm, now)
    }

    /// Live tokens by kind at `now`.
    pub async fn counts(&self, now: u64) -> Counts {
        self.refresh().await;
        self.read().counts(now)
    }

    /// The realm token that signs `realm`'s access tokens, if it has one (`--dev` reuses it).
    pub async fn realm_token_of(&self, realm: &str) -> Option<Token> {
        self.refresh().await;
        self.read().signing_key(realm)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::{self, OpenOptions};
    use std::io::Write;

    use super::*;

    /// The worked example of docs/protocol.md.
    #[test]
    fn documented_pop_vector() {
        let token = [1u8; 32];
        assert_eq!(
            encode_token(&token),
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
        );
        let node = casweb::node::encode_dict(&[]).expect("empty dict");
        assert_eq!(
            casweb::Key::for_bytes(&node).to_string(),
            "240B5PHBGEC2A705WTKKMVRS30"
        );
        assert_eq!(
            blake3::hash(&token).to_hex().as_str(),
            "9515049071ed913149a80d3bb7891fcd4c6c1e3d14ad878939a80f9b9a91e08c"
        );
        let pop = casweb::pop::proof(&token, &node);
        assert_eq!(pop, "pop:HQZZ45Z2CDP59XZJG2T6NEF9TM");
        assert!(casweb::pop::verify(&token, &node, &pop));
        let key = Credential::Realm(token).pop_key();
        assert_eq!(casweb::pop::proof_with_key(&key, &node), pop);
    }

    #[tokio::test]
    async fn tokens_persist_and_are_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        let cli = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        let token = cli.create_realm_token("alpha").await.expect("create");
        // The other instance sees it at its next admission.
        assert!(matches!(
            server.authenticate(&Credential::Realm(token), 0).await,
            Ok(Principal::Realm { realm, .. }) if realm == "alpha"
        ));
        assert_eq!(server.realm_token_of("alpha").await, Some(token));
        assert!(server
            .authenticate(&Credential::Realm([0; 32]), 0)
            .await
            .is_err());
        assert!(cli.create_realm_token("bad realm").await.is_err());
        let reopened = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("reopen");
        assert!(reopened
            .authenticate(&Credential::Realm(token), 0)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_revocation_by_another_process_is_seen_at_the_next_admission() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        let minted = server
            .mint("alpha", Scope::Write, 60, 1_000)
            .await
            .expect("mint");
        let credential = Credential::Access(minted.token.clone());
        assert!(server.authenticate(&credential, 1_000).await.is_ok());
        let cli = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        let revoked = cli
            .revoke(minted.token.id())
            .await
            .expect("revoke")
            .expect("known");
        assert_eq!(revoked.kind, Kind::Access);
        assert!(matches!(
            server.authenticate(&credential, 1_000).await,
            Err(Refusal::Revoked(_))
        ));
        assert!(cli
            .revoke("ffffffffffffffff")
            .await
            .expect("revoke")
            .is_none());
        // Revoking the signing key revokes what it signed, and a new key signs from then on.
        let second = server
            .mint("alpha", Scope::Read, 60, 1_000)
            .await
            .expect("mint");
        let kid = second.token.kid().to_owned();
        cli.revoke(&kid).await.expect("revoke").expect("known");
        assert!(matches!(
            server
                .authenticate(&Credential::Access(second.token), 1_000)
                .await,
            Err(Refusal::Revoked(_))
        ));
        let third = server
            .mint("alpha", Scope::Read, 60, 1_000)
            .await
            .expect("mint");
        assert_ne!(third.token.kid(), kid);
        assert!(server
            .authenticate(&Credential::Access(third.token), 1_000)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn a_partial_line_is_read_once_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        let token = [5u8; 32];
        let line = Line::RealmToken {
            realm: "alpha".into(),
            token,
        }
        .render();
        let path = dir.path().join(TOKEN_FILE);
        fs::write(&path, &line[..10]).expect("write");
        assert!(store
            .authenticate(&Credential::Realm(token), 0)
            .await
            .is_err());
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&line.as_bytes()[10..]).expect("write");
        assert!(store
            .authenticate(&Credential::Realm(token), 0)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn minting_checks_its_arguments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::open(Box::new(FileLog::new(dir.path())))
            .await
            .expect("open");
        assert!(store.mint("bad realm", Scope::Read, 60, 0).await.is_err());
        assert!(store.mint("a", Scope::Read, 0, 0).await.is_err());
        assert!(store
            .mint("a", Scope::Read, MAX_TTL_SECS + 1, 0)
            .await
            .is_err());
        let minted = store
            .mint("a", Scope::Read, MAX_TTL_SECS, 7)
            .await
            .expect("mint");
        assert_eq!(minted.token.expires(), 7 + MAX_TTL_SECS);
        assert_eq!(store.counts(8).await.access, 1);
        assert_eq!(
            store.counts(8).await.realm,
            1,
            "the realm's key was created"
        );
    }
}
