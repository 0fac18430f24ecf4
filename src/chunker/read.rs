//! Reading a whole file into memory: [`read_file`].

use bytes::Bytes;

use super::measure::measure;
use super::progress::{Progress, Reporter};
use super::verify::{fetch_verified, root_info};
use super::Window;
use crate::error::Result;
use crate::key::{Key, KeyMap};
use crate::node::{self, FileInfo};
use crate::storage::StorageProvider;

/// How many nodes [`read_file`] fetches at once: a level's gets start together, so a storage
/// that batches the gets of one tick (HTTP, IndexedDB) serves a level in few requests. The
/// whole file is kept in memory anyway.
const READ_CONCURRENCY: usize = Window::READ.nodes;

/// A file read back from its DAG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub content_type: String,
    pub data: Vec<u8>,
}

/// The FileInfo (size and content type) of the file under `root`, from its root node alone,
/// fetched and verified: `not_found`, `hash_mismatch`, `invalid_node`, or `corrupt_dag` if the
/// root is not a file node. The size is what the root declares; readers check it against the
/// content.
pub async fn file_info<S: StorageProvider>(storage: &S, root: Key) -> Result<FileInfo> {
    let root_bytes = fetch_verified(storage, root).await?;
    root_info(root, &node::decode(&root_bytes)?)
}

/// Reads a file back from its root key, verifying every node's hash and structure and that the
/// length adds up to the FileInfo. Distinct nodes are fetched once, a level at a time,
/// concurrently.
///
/// A hostile DAG cannot make this loop or allocate without bound: before any byte is copied the
/// expanded length and the number of node visits are computed over the DAG (each distinct node
/// once); the length must equal the FileInfo's and the visits stay under `2 * size + 64`.
pub async fn read_file<S: StorageProvider>(storage: &S, root: Key) -> Result<File> {
    read_file_reporting(storage, root, |_| {}).await
}

/// [`read_file`], reporting as nodes arrive: the file data they hold (`bytes`; the size once
/// all is verified), the file's size (`total_bytes`) and the distinct nodes fetched.
pub async fn read_file_reporting<S: StorageProvider>(
    storage: &S,
    root: Key,
    progress: impl FnMut(Progress),
) -> Result<File> {
    let root_bytes = fetch_verified(storage, root).await?;
    let root_view = node::decode(&root_bytes)?;
    let info = root_info(root, &root_view)?;
    let mut reporter = Reporter::new(progress);
    let mut now = Progress {
        bytes: root_view.data().len() as u64,
        total_bytes: Some(info.size),
        nodes: 1,
    };
    reporter.report(now);
    let mut nodes: KeyMap<Bytes> = KeyMap::default();
    let subtrees = measure(
        storage,
        root,
        &root_bytes,
        info.size,
        READ_CONCURRENCY,
        |key, bytes| {
            if let Ok(view) = node::decode(&bytes) {
                now.bytes = now.bytes.saturating_add(view.data().len() as u64);
            }
            now.nodes += 1;
            reporter.report(now);
            nodes.insert(key, bytes);
        },
    )
    .await?;
    // Repeated content is fetched once: the data counted so far may fall short of the size.
    now.bytes = info.size;
    reporter.report(now);
    nodes.insert(root, root_bytes);
    let mut data = Vec::with_capacity(subtrees[&root].len as usize);
    append_content(root, &nodes, &mut data);
    Ok(File {
        content_type: info.content_type,
        data,
    })
}

/// Appends the pre-order content of `key` (own data, then each child's) to `out`; every node
/// was decoded by the measure.
fn append_content(key: Key, nodes: &KeyMap<Bytes>, out: &mut Vec<u8>) {
    let mut stack = vec![key];
    while let Some(key) = stack.pop() {
        let view = node::decode(&nodes[&key]).expect("measured nodes decode");
        out.extend_from_slice(view.data());
        let children: Vec<Key> = view.children().collect();
        stack.extend(children.into_iter().rev());
    }
}
