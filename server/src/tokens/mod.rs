//! Credentials on the server: the token file and the table read from it (no HTTP here; the
//! extractors that admit requests are `auth`).
//!
//! Everything lives in the append-only text file `<data-dir>/tokens` (mode 0600; [`line`] has
//! its format): realm tokens, admin tokens, records of minted access tokens, revocations. The
//! CLI (`casweb-server token create|list|revoke`) appends to it while a server runs on the same
//! data directory, and the server sees the change on its next request: every admission first
//! compares the file's length and modification time with what it read, and reads the lines
//! appended since (the whole file again if it was replaced). So a revocation takes effect at the
//! next request, from the CLI as from the admin API.
//!
//! Appends are one `write` of whole lines (concurrent appenders never interleave within a line)
//! followed by an fsync: a token is never handed out, nor a revocation confirmed, before it is
//! durable. The file is never rewritten: records of expired tokens stay in it (they are skipped
//! when listing).

pub mod line;
pub mod table;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::SystemTime;

pub use casweb::protocol::{
    decode_token, encode_admin_token, encode_token, is_valid_realm, token_id, AccessClaims,
    AccessToken, Credential, Scope, Token, MAX_REALM_LEN, MAX_TTL_SECS, TOKEN_LEN,
};
pub use line::Line;
use table::Table;
pub use table::{Counts, Kind, Principal, Refusal, TokenInfo};

/// Name of the token file inside the data directory.
pub const TOKEN_FILE: &str = "tokens";

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

/// What identifies the file's content as read: a change means lines to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Unix: a replaced file (new inode) is read again whole.
    inode: u64,
}

fn stamp_of(path: &Path) -> Option<Stamp> {
    let meta = fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
        inode,
    })
}

#[derive(Default)]
struct Loaded {
    /// The file as last read completely; `None` if it did not exist.
    stamp: Option<Stamp>,
    /// Bytes of the file read so far (whole lines).
    read_to: u64,
    table: Table,
}

/// A freshly minted access token.
#[derive(Debug, Clone)]
pub struct Minted {
    pub token: AccessToken,
    /// When it was minted (Unix seconds).
    pub created: u64,
}

/// The server's (or the CLI's) view of the token file.
pub struct TokenStore {
    path: PathBuf,
    loaded: RwLock<Loaded>,
    /// One refresh at a time (the others wait and find the work done).
    refreshing: Mutex<()>,
    /// One writer at a time in this process: deciding what to append and appending it (e.g.
    /// creating a realm's signing key once) is one step.
    writing: Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl TokenStore {
    /// Reads `<data_dir>/tokens` (absent means no tokens yet).
    pub fn open(data_dir: &Path) -> io::Result<TokenStore> {
        let store = TokenStore {
            path: data_dir.join(TOKEN_FILE),
            loaded: RwLock::default(),
            refreshing: Mutex::default(),
            writing: Mutex::default(),
        };
        store.read_changes()?;
        Ok(store)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        // A panic while holding the lock cannot leave the table half-updated in a way that
        // matters: lines are applied one by one and each is a whole fact.
        self.loaded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Loaded> {
        self.loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads what changed in the file since it was last read (a stat when nothing did). An
    /// unreadable file keeps the table as it was, with a warning.
    pub fn refresh(&self) {
        if self.read().stamp == stamp_of(&self.path) {
            return;
        }
        if let Err(error) = self.read_changes() {
            tracing::warn!(path = %self.path.display(), %error, "cannot reread the token file");
        }
    }

    fn read_changes(&self) -> io::Result<()> {
        let _refreshing = lock(&self.refreshing);
        let (known, read_to) = {
            let loaded = self.read();
            (loaded.stamp, loaded.read_to)
        };
        let now = stamp_of(&self.path);
        if known == now {
            return Ok(()); // read meanwhile by another request
        }
        let Some(stamp) = now else {
            *self.write() = Loaded::default();
            return Ok(());
        };
        // Appended to: read from where we stopped. Replaced or shrunk: read it all again.
        let appended = known.is_some_and(|k| k.inode == stamp.inode && stamp.len >= read_to);
        let start = if appended { read_to } else { 0 };
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        // Only whole lines: an append in progress is read when it is complete.
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let mut lines = Vec::new();
        for text in bytes[..whole].split(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(text);
            let trimmed = text.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match Line::parse(trimmed) {
                Some(line) => lines.push(line),
                None => tracing::warn!(
                    path = %self.path.display(),
                    "a line of the token file is not a token, key or revocation: ignored"
                ),
            }
        }
        let mut loaded = self.write();
        if !appended {
            loaded.table = Table::default();
        }
        for line in lines {
            loaded.table.apply(line);
        }
        loaded.read_to = start + whole as u64;
        // A partial last line leaves the stamp stale, so the next request reads it.
        loaded.stamp = (loaded.read_to == stamp.len).then_some(stamp);
        Ok(())
    }

    /// Appends `lines` in one write, makes them durable, and reads them back into the table.
    fn append(&self, lines: &[Line]) -> io::Result<()> {
        let existed = self.path.exists();
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;
        let text: String = lines.iter().map(Line::render).collect();
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if !existed {
            sync_dir(self.path.parent())?;
        }
        self.read_changes()
    }

    /// Creates a realm token for `realm`, durably, and returns it. It becomes the realm's
    /// signing key for access tokens minted from now on.
    pub fn create_realm_token(&self, realm: &str) -> io::Result<Token> {
        if !is_valid_realm(realm) {
            return Err(invalid_input(format!(
                "invalid realm name {realm:?}: use 1 to {MAX_REALM_LEN} of A-Z a-z 0-9 _ -"
            )));
        }
        let _writing = lock(&self.writing);
        let token = generate_token()?;
        self.append(&[Line::RealmToken {
            realm: realm.to_owned(),
            token,
        }])?;
        Ok(token)
    }

    /// Creates an admin token, durably, and returns it.
    pub fn create_admin_token(&self) -> io::Result<Token> {
        let _writing = lock(&self.writing);
        let token = generate_token()?;
        self.append(&[Line::AdminToken { token }])?;
        Ok(token)
    }

    /// Mints an access token for `realm` valid `ttl_secs` from `now`, signed with the realm's
    /// newest realm token (created first if the realm has none), and records it (no secret)
    /// for listing and revocation. `ttl_secs` must be 1 to [`MAX_TTL_SECS`].
    pub fn mint(&self, realm: &str, scope: Scope, ttl_secs: u64, now: u64) -> io::Result<Minted> {
        if !is_valid_realm(realm) {
            return Err(invalid_input(format!("invalid realm name {realm:?}")));
        }
        if !(1..=MAX_TTL_SECS).contains(&ttl_secs) {
            return Err(invalid_input(format!(
                "the lifetime must be 1 to {MAX_TTL_SECS} seconds, not {ttl_secs}"
            )));
        }
        let _writing = lock(&self.writing);
        self.refresh();
        let mut lines = Vec::new();
        let key = match self.read().table.signing_key(realm) {
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
        self.append(&lines)?;
        Ok(Minted {
            token,
            created: now,
        })
    }

    /// Revokes the token named `id` (any kind), durably; revoking a realm token also revokes
    /// every access token it signed. `None` if no token has this id; revoking twice is fine.
    pub fn revoke(&self, id: &str) -> io::Result<Option<TokenInfo>> {
        let _writing = lock(&self.writing);
        self.refresh();
        let Some(mut info) = self.read().table.find(id) else {
            return Ok(None);
        };
        if !self.read().table.has_revocation(id) {
            self.append(&[Line::Revoke {
                id: id.to_owned(),
                until: info.expires.unwrap_or(0),
            }])?;
        }
        info.revoked = true;
        Ok(Some(info))
    }

    /// Admits a credential at `now` (after reading what changed in the file).
    pub fn authenticate(&self, credential: &Credential, now: u64) -> Result<Principal, Refusal> {
        self.refresh();
        self.read().table.authenticate(credential, now)
    }

    /// The token named `id`.
    pub fn find(&self, id: &str) -> Option<TokenInfo> {
        self.refresh();
        self.read().table.find(id)
    }

    /// Tokens of `realm` (every token without), minus access tokens expired by `now`.
    pub fn list(&self, realm: Option<&str>, now: u64) -> Vec<TokenInfo> {
        self.refresh();
        self.read().table.list(realm, now)
    }

    /// Live tokens by kind at `now`.
    pub fn counts(&self, now: u64) -> Counts {
        self.refresh();
        self.read().table.counts(now)
    }

    /// The realm token that signs `realm`'s access tokens, if it has one (`--dev` reuses it).
    pub fn realm_token_of(&self, realm: &str) -> Option<Token> {
        self.refresh();
        self.read().table.signing_key(realm)
    }
}

/// Makes a new directory entry durable (Unix: fsync the directory).
fn sync_dir(dir: Option<&Path>) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = dir {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn tokens_persist_and_are_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TokenStore::open(dir.path()).expect("open");
        let cli = TokenStore::open(dir.path()).expect("open");
        let token = cli.create_realm_token("alpha").expect("create");
        // The other instance sees it at its next admission.
        assert!(matches!(
            server.authenticate(&Credential::Realm(token), 0),
            Ok(Principal::Realm { realm, .. }) if realm == "alpha"
        ));
        assert_eq!(server.realm_token_of("alpha"), Some(token));
        assert!(server.authenticate(&Credential::Realm([0; 32]), 0).is_err());
        assert!(cli.create_realm_token("bad realm").is_err());
        let reopened = TokenStore::open(dir.path()).expect("reopen");
        assert!(reopened.authenticate(&Credential::Realm(token), 0).is_ok());
    }

    #[test]
    fn a_revocation_by_another_process_is_seen_at_the_next_admission() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TokenStore::open(dir.path()).expect("open");
        let minted = server.mint("alpha", Scope::Write, 60, 1_000).expect("mint");
        let credential = Credential::Access(minted.token.clone());
        assert!(server.authenticate(&credential, 1_000).is_ok());
        let cli = TokenStore::open(dir.path()).expect("open");
        let revoked = cli
            .revoke(minted.token.id())
            .expect("revoke")
            .expect("known");
        assert_eq!(revoked.kind, Kind::Access);
        assert!(matches!(
            server.authenticate(&credential, 1_000),
            Err(Refusal::Revoked(_))
        ));
        assert!(cli.revoke("ffffffffffffffff").expect("revoke").is_none());
        // Revoking the signing key revokes what it signed, and a new key signs from then on.
        let second = server.mint("alpha", Scope::Read, 60, 1_000).expect("mint");
        let kid = second.token.kid().to_owned();
        cli.revoke(&kid).expect("revoke").expect("known");
        assert!(matches!(
            server.authenticate(&Credential::Access(second.token), 1_000),
            Err(Refusal::Revoked(_))
        ));
        let third = server.mint("alpha", Scope::Read, 60, 1_000).expect("mint");
        assert_ne!(third.token.kid(), kid);
        assert!(server
            .authenticate(&Credential::Access(third.token), 1_000)
            .is_ok());
    }

    #[test]
    fn a_partial_line_is_read_once_complete() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::open(dir.path()).expect("open");
        let token = [5u8; 32];
        let line = Line::RealmToken {
            realm: "alpha".into(),
            token,
        }
        .render();
        let path = dir.path().join(TOKEN_FILE);
        fs::write(&path, &line[..10]).expect("write");
        assert!(store.authenticate(&Credential::Realm(token), 0).is_err());
        let mut file = OpenOptions::new().append(true).open(&path).expect("open");
        file.write_all(&line.as_bytes()[10..]).expect("write");
        assert!(store.authenticate(&Credential::Realm(token), 0).is_ok());
    }

    #[test]
    fn minting_checks_its_arguments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = TokenStore::open(dir.path()).expect("open");
        assert!(store.mint("bad realm", Scope::Read, 60, 0).is_err());
        assert!(store.mint("a", Scope::Read, 0, 0).is_err());
        assert!(store.mint("a", Scope::Read, MAX_TTL_SECS + 1, 0).is_err());
        let minted = store.mint("a", Scope::Read, MAX_TTL_SECS, 7).expect("mint");
        assert_eq!(minted.token.expires(), 7 + MAX_TTL_SECS);
        assert_eq!(store.counts(8).access, 1);
        assert_eq!(store.counts(8).realm, 1, "the realm's key was created");
    }
}
