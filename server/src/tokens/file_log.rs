//! The token log in the append-only text file `<data-dir>/tokens` (mode 0600; `line` has its
//! format), the embedded default. The CLI appends to it while a server runs on the same data
//! directory; a reader compares the file's length, modification time and inode with what it
//! read, and reads only the lines appended since (the whole file again if it was replaced).
//!
//! Appends are one `write` of whole lines (concurrent appenders never interleave within a line)
//! followed by an fsync: a token is never handed out, nor a revocation confirmed, before it is
//! durable. A partial last line (an append in progress) is read once it is complete.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use async_trait::async_trait;

use super::line::Line;
use super::log::{Changes, TokenLog};

/// Name of the token file inside the data directory.
pub const TOKEN_FILE: &str = "tokens";

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

/// How far the file was read.
#[derive(Debug, Default, Clone, Copy)]
struct Cursor {
    /// The file as last read completely; `None` if it did not exist (or was never read).
    stamp: Option<Stamp>,
    /// Bytes of the file read so far (whole lines).
    read_to: u64,
    /// False until the first read.
    started: bool,
}

/// `<data-dir>/tokens`.
pub struct FileLog {
    path: PathBuf,
    cursor: Mutex<Cursor>,
}

impl FileLog {
    /// The token file of `data_dir` (absent means no tokens yet).
    pub fn new(data_dir: &Path) -> FileLog {
        FileLog {
            path: data_dir.join(TOKEN_FILE),
            cursor: Mutex::default(),
        }
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, Cursor> {
        self.cursor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_changes(&self) -> io::Result<Changes> {
        let known = *self.cursor();
        let now = stamp_of(&self.path);
        if known.started && known.stamp == now {
            return Ok(Changes::Unchanged);
        }
        let Some(stamp) = now else {
            *self.cursor() = Cursor {
                started: true,
                ..Cursor::default()
            };
            return Ok(Changes::Replaced(Vec::new()));
        };
        // Appended to: read from where we stopped. Replaced or shrunk: read it all again.
        let appended = known
            .stamp
            .is_some_and(|k| k.inode == stamp.inode && stamp.len >= known.read_to);
        let start = if appended { known.read_to } else { 0 };
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
        let read_to = start + whole as u64;
        *self.cursor() = Cursor {
            // A partial last line leaves the stamp stale, so the next call reads it.
            stamp: (read_to == stamp.len).then_some(stamp),
            read_to,
            started: true,
        };
        Ok(if appended {
            Changes::Appended(lines)
        } else {
            Changes::Replaced(lines)
        })
    }

    fn append_lines(path: &Path, lines: &[Line]) -> io::Result<()> {
        let existed = path.exists();
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        let text: String = lines.iter().map(Line::render).collect();
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if !existed {
            sync_dir(path.parent())?;
        }
        Ok(())
    }
}

#[async_trait]
impl TokenLog for FileLog {
    async fn changes(&self, _fresh: bool) -> io::Result<Changes> {
        // A stat when nothing changed: cheap enough for every request.
        self.read_changes()
    }

    async fn append(&self, lines: &[Line]) -> io::Result<()> {
        // The fsync waits for the disk: off the async workers.
        let (path, lines) = (self.path.clone(), lines.to_vec());
        tokio::task::spawn_blocking(move || FileLog::append_lines(&path, &lines))
            .await
            .map_err(io::Error::other)?
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
