//! The in-memory DAG of a file: [`chunk_file`] runs the [`FileWriter`] over all the bytes and
//! keeps every node, level by level.

use bytes::Bytes;

use super::writer::{FileWriter, Made};
use super::ChunkOptions;
use crate::error::Result;
use crate::key::Key;

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
    /// The levels, leaves first: no node has a child in its own or a later level.
    pub fn levels(&self) -> impl Iterator<Item = &[(Key, Bytes)]> {
        let starts = std::iter::once(0).chain(self.level_ends.iter().copied());
        starts
            .zip(self.level_ends.iter().copied())
            .map(|(start, end)| &self.nodes[start..end])
    }
}

/// Splits `data` into nodes, children first. Deterministic: the same bytes and options always
/// give the same keys.
pub fn chunk_file(data: &[u8], options: &ChunkOptions) -> Result<FileDag> {
    let mut writer = FileWriter::new(options)?;
    // The writer makes nodes in dependency order; regroup them by height (0 = leaves, the root's
    // is the last), keeping the order within each level.
    let mut levels: Vec<Vec<(Key, Bytes)>> = Vec::new();
    let mut file = |made: Made| {
        if levels.len() <= made.height {
            levels.resize_with(made.height + 1, Vec::new);
        }
        levels[made.height].push((made.key, made.bytes));
    };
    writer.write_with(data, &mut file);
    let root = writer.finish_with(&mut file);
    let mut level_ends = Vec::with_capacity(levels.len());
    let mut nodes = Vec::with_capacity(levels.iter().map(Vec::len).sum());
    for level in levels {
        nodes.extend(level);
        level_ends.push(nodes.len());
    }
    Ok(FileDag {
        root,
        nodes,
        level_ends,
    })
}
