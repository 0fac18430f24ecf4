//! The checks every reader makes: a node's bytes hash to its key, decode with full validation,
//! and have the kind their place needs; and the errors a DAG that does not add up gets.

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::key::Key;
use crate::node::{FileInfo, NodeKind, NodeView};
use crate::storage::StorageProvider;

/// The bytes stored under `key`: `not_found` if there are none, `hash_mismatch` unless they hash
/// to `key` (size flag included).
pub(super) async fn fetch_verified<S: StorageProvider>(storage: &S, key: Key) -> Result<Bytes> {
    let bytes = storage.get(key).await?.ok_or(Error::NotFound { key })?;
    if !key.matches(&bytes) {
        return Err(Error::HashMismatch { key });
    }
    Ok(bytes)
}

/// The FileInfo of the root of a file; `corrupt_dag` if the root is not a file node.
pub(super) fn root_info(root: Key, view: &NodeView<'_>) -> Result<FileInfo> {
    view.file_info()
        .ok_or_else(|| Error::CorruptDag(format!("{root} is a {:?} node, not a file", view.kind())))
}

/// `corrupt_dag` unless `key`, a node below `root`, is a successor.
pub(super) fn check_successor(root: Key, key: Key, view: &NodeView<'_>) -> Result<()> {
    if view.kind() == NodeKind::Successor {
        return Ok(());
    }
    Err(Error::CorruptDag(format!(
        "{key} inside file {root} is a {:?} node, not a successor",
        view.kind()
    )))
}

/// The most node visits a file of `size` bytes may take: `2 * size + 64`. A DAG that needs more
/// names nodes more often than real content can (an empty leaf repeated, subtrees shared
/// exponentially) and is refused before it is walked.
pub(super) fn max_visits(size: u64) -> u64 {
    size.saturating_mul(2).saturating_add(64)
}

/// The DAG under `root` needs more visits than [`max_visits`] of `size`.
pub(super) fn too_many_visits(root: Key, size: u64) -> Error {
    Error::CorruptDag(format!(
        "{root} references more nodes than a {size}-byte file can need"
    ))
}

/// The content under `root` is `actual` bytes long but its FileInfo says `declared`.
pub(super) fn size_mismatch(root: Key, actual: u64, declared: u64) -> Error {
    Error::CorruptDag(format!(
        "file {root} has {actual} bytes but its FileInfo says {declared}"
    ))
}
