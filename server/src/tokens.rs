//! Realm tokens on the server: the token file and the lookup of a token's realm (no HTTP here;
//! the extractor that admits a request is `auth`).
//!
//! A token is 32 random bytes, written as standard base64 (44 characters). Tokens live in the
//! append-only text file `<data-dir>/tokens`, one `<realm> <base64 token>` line each, so that
//! `casweb-server token create` works while a server runs on the same data directory: the server
//! rereads the file when it sees a token it does not know and the file has changed.
//! The token bytes are kept (not only a hash) because proofs of possession are computed from them.
//! In memory, tokens are looked up by their BLAKE3 hash, so lookups do not compare secrets.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

pub use casweb::protocol::{
    decode_token, encode_token, is_valid_realm, Token, MAX_REALM_LEN, TOKEN_LEN,
};

/// Name of the token file inside the data directory.
pub const TOKEN_FILE: &str = "tokens";

/// 32 fresh bytes from the operating system's random source.
pub fn generate_token() -> io::Result<Token> {
    let mut token = [0u8; TOKEN_LEN];
    getrandom::fill(&mut token).map_err(|e| io::Error::other(format!("random source: {e}")))?;
    Ok(token)
}

/// Tokens known to the server: realm and bytes, by BLAKE3 hash of the bytes.
pub struct TokenStore {
    path: PathBuf,
    loaded: RwLock<Loaded>,
}

#[derive(Default)]
struct Loaded {
    /// Modification time and length of the file when it was read; `None` if it did not exist.
    stamp: Option<(SystemTime, u64)>,
    by_hash: HashMap<[u8; 32], (String, Token)>,
}

impl TokenStore {
    /// Reads `<data_dir>/tokens` (absent means no tokens yet).
    pub fn open(data_dir: &Path) -> io::Result<TokenStore> {
        let store = TokenStore {
            path: data_dir.join(TOKEN_FILE),
            loaded: RwLock::new(Loaded::default()),
        };
        store.reload()?;
        Ok(store)
    }

    /// Creates a token for `realm`, appends it to the file durably, and returns it.
    pub fn create(&self, realm: &str) -> io::Result<Token> {
        if !is_valid_realm(realm) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid realm name {realm:?}: use 1 to {MAX_REALM_LEN} of A-Z a-z 0-9 _ -"
                ),
            ));
        }
        let token = generate_token()?;
        let existed = self.path.exists();
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path)?;
        // One write call per line, so that concurrent appenders never interleave within a line.
        file.write_all(format!("{realm} {}\n", encode_token(&token)).as_bytes())?;
        file.sync_all()?;
        if !existed {
            sync_dir(self.path.parent())?;
        }
        self.reload()?;
        Ok(token)
    }

    /// The realm a token belongs to. Rereads the file if the token is unknown and the file
    /// changed since it was last read.
    pub fn realm_of(&self, token: &Token) -> Option<String> {
        let hash = *blake3::hash(token).as_bytes();
        if let Some(realm) = self.lookup(&hash) {
            return Some(realm);
        }
        let current = file_stamp(&self.path);
        let stale = self.read().stamp != current;
        if stale {
            if let Err(error) = self.reload() {
                tracing::warn!(path = %self.path.display(), %error, "cannot reread the token file");
            }
        }
        self.lookup(&hash)
    }

    /// How many tokens are known (as last read from the file).
    pub fn count(&self) -> usize {
        self.read().by_hash.len()
    }

    /// Any token of `realm`, if there is one (used by `--dev` to reuse the demo token).
    pub fn token_of(&self, realm: &str) -> Option<Token> {
        self.read()
            .by_hash
            .values()
            .find(|(r, _)| r == realm)
            .map(|(_, token)| *token)
    }

    fn lookup(&self, hash: &[u8; 32]) -> Option<String> {
        self.read()
            .by_hash
            .get(hash)
            .map(|(realm, _)| realm.clone())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        // A panic while holding the lock cannot leave the map half-written (it is swapped whole).
        self.loaded
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn reload(&self) -> io::Result<()> {
        let stamp = file_stamp(&self.path);
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error),
        };
        let mut by_hash = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line
                .split_once(' ')
                .filter(|(realm, _)| is_valid_realm(realm))
                .and_then(|(realm, token)| Some((realm, decode_token(token.trim())?)));
            match parsed {
                Some((realm, token)) => {
                    by_hash.insert(*blake3::hash(&token).as_bytes(), (realm.to_owned(), token));
                }
                None => tracing::warn!(
                    path = %self.path.display(),
                    line = number + 1,
                    "not a `<realm> <base64 token>` line, ignored"
                ),
            }
        }
        let mut loaded = self
            .loaded
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *loaded = Loaded { stamp, by_hash };
        Ok(())
    }
}

fn file_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
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
    }

    #[test]
    fn tokens_persist_and_are_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = TokenStore::open(dir.path()).expect("open");
        let cli = TokenStore::open(dir.path()).expect("open");
        let token = cli.create("alpha").expect("create");
        // The other instance has not read it yet but finds it on a miss.
        assert_eq!(server.realm_of(&token).as_deref(), Some("alpha"));
        assert_eq!(server.token_of("alpha"), Some(token));
        assert_eq!(server.realm_of(&[0u8; 32]), None);
        assert!(cli.create("bad realm").is_err());
        let reopened = TokenStore::open(dir.path()).expect("reopen");
        assert_eq!(reopened.realm_of(&token).as_deref(), Some("alpha"));
    }
}
