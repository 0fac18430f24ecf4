//! Measuring any DAG of a file: every distinct node fetched once (a level at a time, the nodes
//! of a level concurrently) and checked, then the expanded length and visit count of every
//! subtree, each distinct node measured once. [`read_file`](super::read_file) measures every
//! DAG; the range reader measures DAGs that do not have the chunker's layout.
//!
//! A hostile DAG cannot make this loop or allocate without bound: the distinct nodes and then
//! the visits (node references, with repetition) must stay under
//! [`max_visits`](super::verify::max_visits) of the FileInfo's size, and the expanded length
//! must equal it.

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::verify::{check_successor, fetch_verified, max_visits, size_mismatch, too_many_visits};
use crate::error::Result;
use crate::key::{Key, KeyMap};
use crate::node;
use crate::storage::StorageProvider;

/// What reading a subtree whole gives and costs, saturating.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Subtree {
    /// Bytes of content.
    pub len: u64,
    /// Nodes visited (the subtree's root included).
    pub visits: u64,
    pub has_children: bool,
}

/// What the measure keeps of a node (not its bytes).
struct Summary {
    data_len: u64,
    children: Box<[Key]>,
}

/// Fetches and checks every distinct node of the file under `root` (whose verified bytes the
/// caller fetched and decoded: a file node declaring `size` bytes), up to `concurrency` at once,
/// handing each non-root node's bytes to `keep`; measures every subtree and checks the whole
/// against `size`. Returns the subtree of every distinct node.
pub(super) async fn measure<S: StorageProvider>(
    storage: &S,
    root: Key,
    root_bytes: &[u8],
    size: u64,
    concurrency: usize,
    mut keep: impl FnMut(Key, Bytes),
) -> Result<KeyMap<Subtree>> {
    let limit = max_visits(size);
    let mut summaries: KeyMap<Summary> = KeyMap::default();
    let root_view = node::decode(root_bytes)?;
    summaries.insert(root, summary(&root_view));
    let mut frontier: Vec<Key> = root_view.children().collect();
    while !frontier.is_empty() {
        frontier.retain(|key| !summaries.contains_key(key));
        frontier.sort_unstable();
        frontier.dedup();
        if (summaries.len() + frontier.len()) as u64 > limit {
            return Err(too_many_visits(root, size));
        }
        let level: Vec<(Key, Bytes)> = stream::iter(std::mem::take(&mut frontier))
            .map(|key| async move { fetch_verified(storage, key).await.map(|b| (key, b)) })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        for (key, bytes) in level {
            let view = node::decode(&bytes)?;
            check_successor(root, key, &view)?;
            frontier.extend(view.children());
            summaries.insert(key, summary(&view));
            keep(key, bytes);
        }
    }

    let subtrees = measure_subtrees(root, &summaries);
    let whole = subtrees[&root];
    if whole.visits > limit {
        return Err(too_many_visits(root, size));
    }
    if whole.len != size {
        return Err(size_mismatch(root, whole.len, size));
    }
    Ok(subtrees)
}

fn summary(view: &node::NodeView<'_>) -> Summary {
    Summary {
        data_len: view.data().len() as u64,
        children: view.children().collect(),
    }
}

/// The [`Subtree`] of every node under `root`, each distinct node measured once (post-order
/// over the DAG, iterative, so deep DAGs do not exhaust the stack).
fn measure_subtrees(root: Key, summaries: &KeyMap<Summary>) -> KeyMap<Subtree> {
    let mut memo: KeyMap<Subtree> = KeyMap::default();
    memo.reserve(summaries.len());
    let mut stack = vec![(root, false)];
    while let Some((key, children_done)) = stack.pop() {
        if memo.contains_key(&key) {
            continue;
        }
        let summary = &summaries[&key];
        if children_done {
            let mut total = Subtree {
                len: summary.data_len,
                visits: 1,
                has_children: !summary.children.is_empty(),
            };
            for child in summary.children.iter() {
                let child = memo[child];
                total.len = total.len.saturating_add(child.len);
                total.visits = total.visits.saturating_add(child.visits);
            }
            memo.insert(key, total);
        } else {
            stack.push((key, true));
            stack.extend(
                summary
                    .children
                    .iter()
                    .filter(|c| !memo.contains_key(*c))
                    .map(|c| (*c, false)),
            );
        }
    }
    memo
}
