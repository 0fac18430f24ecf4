//! Files as DAGs: split bytes into nodes (children first) and reassemble them from a root key.
//!
//! Layout made by [`chunk_file`], for a maximum node length `N` (the chunk size):
//! - a file that fits (`16 + 64 + len <= N`) is a single file node holding all its data;
//! - otherwise the data is cut into successor leaves of `N - 16` bytes, grouped under successor
//!   nodes of up to `(N - 16) / 16` children each, level by level, until the root file node
//!   (FileInfo, no data) can hold the top level's keys: at most `(N - 80) / 16` of them.
//!
//! [`read_file`] accepts any DAG of that shape and more: a node's content is its own data
//! followed by the content of each child in order (pre-order), which also reads CASFA-style
//! trees that keep data in inner nodes.

use std::collections::HashMap;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::key::Key;
use crate::node::{self, FileInfo, NodeKind, FILE_INFO_LEN, HEADER_LEN};
use crate::storage::StorageProvider;

/// Default maximum node length: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1024 * 1024;
/// Smallest chunk size: enough for a root with at least two children.
pub const MIN_CHUNK_SIZE: usize = 128;
/// Largest chunk size (the payload length field is 32 bits; servers advertise far less).
pub const MAX_CHUNK_SIZE: usize = 1 << 30;
/// How many nodes [`read_file`] fetches at once.
const READ_CONCURRENCY: usize = 16;

/// How to cut a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Maximum length of every node, header included.
    pub chunk_size: usize,
    /// MIME type recorded in the root's FileInfo (printable ASCII, at most 56 bytes).
    pub content_type: String,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            content_type: String::new(),
        }
    }
}

/// The nodes of one file, children before parents; the root comes last.
#[derive(Debug, Clone)]
pub struct FileDag {
    pub root: Key,
    /// Every node, level by level: leaves first, root last.
    pub nodes: Vec<(Key, Bytes)>,
    /// Where each level ends in `nodes`.
    level_ends: Vec<usize>,
}

impl FileDag {
    fn from_levels(levels: Vec<Vec<(Key, Bytes)>>) -> FileDag {
        let mut level_ends = Vec::with_capacity(levels.len());
        let mut nodes = Vec::new();
        for level in levels {
            nodes.extend(level);
            level_ends.push(nodes.len());
        }
        let root = nodes.last().expect("a file has a root").0;
        FileDag {
            root,
            nodes,
            level_ends,
        }
    }

    /// The levels, leaves first: no node has a child in its own or a later level.
    pub fn levels(&self) -> impl Iterator<Item = &[(Key, Bytes)]> {
        let starts = std::iter::once(0).chain(self.level_ends.iter().copied());
        starts
            .zip(self.level_ends.iter().copied())
            .map(|(start, end)| &self.nodes[start..end])
    }
}

/// A file read back from its DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Splits `data` into nodes, children first. Deterministic: the same bytes and options always
/// give the same keys.
pub fn chunk_file(data: &[u8], options: &ChunkOptions) -> Result<FileDag> {
    let n = options.chunk_size;
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&n) {
        return Err(Error::InvalidArgument(format!(
            "chunk size must be a whole number from {MIN_CHUNK_SIZE} to {MAX_CHUNK_SIZE}, got {n}"
        )));
    }
    let content_type = &options.content_type;
    if content_type.len() > node::MAX_CONTENT_TYPE_LEN
        || !content_type.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Err(Error::InvalidArgument(format!(
            "content type {content_type:?} must be printable ASCII of at most {} bytes",
            node::MAX_CONTENT_TYPE_LEN
        )));
    }
    let info = FileInfo {
        size: data.len() as u64,
        content_type: content_type.clone(),
    };
    let exponent = block_size_exponent(n);
    let encoded = |bytes: Vec<u8>| (Key::for_bytes(&bytes), Bytes::from(bytes));
    let keys = |level: &[(Key, Bytes)]| level.iter().map(|(key, _)| *key).collect::<Vec<_>>();

    let mut levels: Vec<Vec<(Key, Bytes)>> = Vec::new();
    if HEADER_LEN + FILE_INFO_LEN + data.len() <= n {
        levels.push(vec![encoded(node::encode_file(
            &[],
            &info,
            data,
            exponent,
        )?)]);
        return Ok(FileDag::from_levels(levels));
    }
    let leaves = data
        .chunks(n - HEADER_LEN)
        .map(|piece| node::encode_successor(&[], piece, exponent).map(encoded))
        .collect::<Result<Vec<_>, _>>()?;
    levels.push(leaves);
    let root_fanout = (n - HEADER_LEN - FILE_INFO_LEN) / 16;
    let inner_fanout = (n - HEADER_LEN) / 16;
    let mut top = keys(&levels[0]);
    while top.len() > root_fanout {
        let parents = top
            .chunks(inner_fanout)
            .map(|children| node::encode_successor(children, &[], exponent).map(encoded))
            .collect::<Result<Vec<_>, _>>()?;
        top = keys(&parents);
        levels.push(parents);
    }
    levels.push(vec![encoded(node::encode_file(
        &top,
        &info,
        &[],
        exponent,
    )?)]);
    Ok(FileDag::from_levels(levels))
}

/// How many puts [`store_file`] keeps in flight within one level.
const STORE_CONCURRENCY: usize = 256;

/// Chunks `data` and puts every node into `storage`, a level at a time (leaves first, so a
/// parent is never stored before its children); the nodes of a level are put concurrently, which
/// lets an `IndexedDbStorage` write them in one transaction. Returns the root key.
pub async fn store_file<S: StorageProvider>(
    storage: &S,
    data: &[u8],
    options: &ChunkOptions,
) -> Result<Key> {
    let dag = chunk_file(data, options)?;
    for level in dag.levels() {
        stream::iter(level)
            .map(|(key, bytes)| storage.put(*key, bytes.clone()))
            .buffer_unordered(STORE_CONCURRENCY)
            .try_collect::<()>()
            .await?;
    }
    Ok(dag.root)
}

/// Reads a file back from its root key, verifying every node's hash and structure and that the
/// length adds up to the FileInfo. Distinct nodes are fetched once, a level at a time,
/// concurrently.
///
/// A hostile DAG cannot make this loop or allocate without bound: before any byte is copied the
/// expanded length and the number of node visits are computed over the DAG (each distinct node
/// once); the length must equal the FileInfo's and the visits stay under `2 * size + 64`.
pub async fn read_file<S: StorageProvider>(storage: &S, root: Key) -> Result<File> {
    let root_bytes = fetch_verified(storage, root).await?;
    let root_view = node::decode(&root_bytes)?;
    let info = root_view.file_info().ok_or_else(|| {
        Error::CorruptDag(format!(
            "{root} is a {:?} node, not a file",
            root_view.kind()
        ))
    })?;
    let max_visits = info.size.saturating_mul(2).saturating_add(64);
    let too_many = || {
        Error::CorruptDag(format!(
            "{root} references more nodes than a {}-byte file can need",
            info.size
        ))
    };

    let mut fetched: HashMap<Key, Bytes> = HashMap::from([(root, root_bytes.clone())]);
    let mut frontier: Vec<Key> = root_view.children().collect();
    while !frontier.is_empty() {
        frontier.retain(|key| !fetched.contains_key(key));
        frontier.sort_unstable();
        frontier.dedup();
        if (fetched.len() + frontier.len()) as u64 > max_visits {
            return Err(too_many());
        }
        let level: Vec<(Key, Bytes)> = stream::iter(std::mem::take(&mut frontier))
            .map(|key| async move { fetch_verified(storage, key).await.map(|b| (key, b)) })
            .buffer_unordered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        for (key, bytes) in &level {
            let view = node::decode(bytes)?;
            if view.kind() != NodeKind::Successor {
                return Err(Error::CorruptDag(format!(
                    "{key} inside file {root} is a {:?} node, not a successor",
                    view.kind()
                )));
            }
            frontier.extend(view.children());
        }
        fetched.extend(level);
    }

    let expanded = measure(root, &fetched)?;
    if expanded.visits > max_visits {
        return Err(too_many());
    }
    if expanded.len != info.size {
        return Err(Error::CorruptDag(format!(
            "file {root} has {} bytes but its FileInfo says {}",
            expanded.len, info.size
        )));
    }
    let mut data = Vec::with_capacity(expanded.len as usize);
    append_content(root, &fetched, &mut data)?;
    Ok(File {
        content_type: info.content_type,
        data,
    })
}

/// What reading a node whole costs: bytes of content and nodes visited, saturating.
#[derive(Debug, Clone, Copy, Default)]
struct Expanded {
    len: u64,
    visits: u64,
}

/// Computes [`Expanded`] for `root` with each distinct node measured once (post-order over the
/// DAG, iterative, so deep DAGs do not exhaust the stack).
fn measure(root: Key, nodes: &HashMap<Key, Bytes>) -> Result<Expanded> {
    let mut memo: HashMap<Key, Expanded> = HashMap::with_capacity(nodes.len());
    let mut stack = vec![(root, false)];
    while let Some((key, children_done)) = stack.pop() {
        if memo.contains_key(&key) {
            continue;
        }
        let view = node::decode(&nodes[&key])?;
        if children_done {
            let mut total = Expanded {
                len: view.data().len() as u64,
                visits: 1,
            };
            for child in view.children() {
                let child = memo[&child];
                total.len = total.len.saturating_add(child.len);
                total.visits = total.visits.saturating_add(child.visits);
            }
            memo.insert(key, total);
        } else {
            stack.push((key, true));
            stack.extend(
                view.children()
                    .filter(|c| !memo.contains_key(c))
                    .map(|c| (c, false)),
            );
        }
    }
    Ok(memo[&root])
}

/// Appends the pre-order content of `key` (own data, then each child's) to `out`.
fn append_content(key: Key, nodes: &HashMap<Key, Bytes>, out: &mut Vec<u8>) -> Result<()> {
    let mut stack = vec![key];
    while let Some(key) = stack.pop() {
        let view = node::decode(&nodes[&key])?;
        out.extend_from_slice(view.data());
        let children: Vec<Key> = view.children().collect();
        stack.extend(children.into_iter().rev());
    }
    Ok(())
}

async fn fetch_verified<S: StorageProvider>(storage: &S, key: Key) -> Result<Bytes> {
    let bytes = storage.get(key).await?.ok_or(Error::NotFound { key })?;
    if !key.matches(&bytes) {
        return Err(Error::HashMismatch { key });
    }
    Ok(bytes)
}

/// The block-size exponent recorded in headers: `n` with `2^n KiB <= chunk size`, at most 15.
fn block_size_exponent(chunk_size: usize) -> u8 {
    let kib = (chunk_size / 1024).max(1);
    (usize::BITS - 1 - kib.leading_zeros()).min(15) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_exponents() {
        assert_eq!(block_size_exponent(128), 0);
        assert_eq!(block_size_exponent(1024), 0);
        assert_eq!(block_size_exponent(4096), 2);
        assert_eq!(block_size_exponent(DEFAULT_CHUNK_SIZE), 10);
    }

    #[test]
    fn chunk_size_bounds() {
        let too_small = ChunkOptions {
            chunk_size: MIN_CHUNK_SIZE - 1,
            ..Default::default()
        };
        assert!(matches!(
            chunk_file(b"x", &too_small),
            Err(Error::InvalidArgument(_))
        ));
    }
}
