//! The layout's shape arithmetic, shared by the writer (how to cut) and the range reader (what
//! to expect): capacities and fanouts for a chunk size, the block-size exponent, and the shape of
//! the tree a file of a given size gets.

use super::{ChunkOptions, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use crate::error::{Error, Result};
use crate::key::KEY_LEN;
use crate::node::{self, FILE_INFO_LEN, HEADER_LEN};

/// The layout for one chunk size `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    chunk_size: usize,
}

/// Where a multi-node file's root sits: its children are subtrees of `height` (0: leaves), and
/// there are `children` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tree {
    pub height: u32,
    pub children: u64,
}

impl Layout {
    /// Validates `options` (chunk size and content type) and gives their layout.
    pub fn for_options(options: &ChunkOptions) -> Result<Layout> {
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
        Ok(Layout { chunk_size: n })
    }

    /// The layout whose full leaves hold `capacity` bytes, if that is a valid chunk size.
    pub fn for_leaf_capacity(capacity: u64) -> Option<Layout> {
        let n = usize::try_from(capacity.checked_add(HEADER_LEN as u64)?).ok()?;
        (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE)
            .contains(&n)
            .then_some(Layout { chunk_size: n })
    }

    /// The layout with the smallest leaves, which gives any size its tallest tree.
    pub fn smallest() -> Layout {
        Layout {
            chunk_size: MIN_CHUNK_SIZE,
        }
    }

    /// Data a lone file node holds: `N - 80`.
    pub fn inline_capacity(&self) -> usize {
        self.chunk_size - HEADER_LEN - FILE_INFO_LEN
    }

    /// Data a successor leaf holds: `N - 16`.
    pub fn leaf_capacity(&self) -> usize {
        self.chunk_size - HEADER_LEN
    }

    /// Children of a successor node: `(N - 16) / 16`.
    pub fn inner_fanout(&self) -> usize {
        (self.chunk_size - HEADER_LEN) / KEY_LEN
    }

    /// Children of the root file node: `(N - 80) / 16`.
    pub fn root_fanout(&self) -> usize {
        (self.chunk_size - HEADER_LEN - FILE_INFO_LEN) / KEY_LEN
    }

    /// The block-size exponent recorded in headers: `n` with `2^n KiB <= chunk size`, at most 15.
    pub fn block_size_exponent(&self) -> u8 {
        let kib = (self.chunk_size / 1024).max(1);
        (usize::BITS - 1 - kib.leading_zeros()).min(15) as u8
    }

    /// The tree a file of `size` bytes gets, or `None` if it fits in one file node.
    pub fn tree(&self, size: u64) -> Option<Tree> {
        if size <= self.inline_capacity() as u64 {
            return None;
        }
        let mut count = size.div_ceil(self.leaf_capacity() as u64);
        let mut height = 0;
        while count > self.root_fanout() as u64 {
            count = count.div_ceil(self.inner_fanout() as u64);
            height += 1;
        }
        Some(Tree {
            height,
            children: count,
        })
    }

    /// Content length of a full subtree of `height` (a full leaf at 0), saturating: every
    /// subtree but the last child of a node is full.
    pub fn full_len(&self, height: u32) -> u64 {
        let fanout = self.inner_fanout() as u64;
        (0..height).fold(self.leaf_capacity() as u64, |len, _| {
            len.saturating_mul(fanout)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunker::{chunk_file, DEFAULT_CHUNK_SIZE};
    use crate::node::NodeKind;

    fn layout(chunk_size: usize) -> Layout {
        Layout { chunk_size }
    }

    #[test]
    fn block_size_exponents() {
        assert_eq!(layout(128).block_size_exponent(), 0);
        assert_eq!(layout(1024).block_size_exponent(), 0);
        assert_eq!(layout(4096).block_size_exponent(), 2);
        assert_eq!(layout(DEFAULT_CHUNK_SIZE).block_size_exponent(), 10);
    }

    #[test]
    fn chunk_size_bounds() {
        let too_small = ChunkOptions {
            chunk_size: MIN_CHUNK_SIZE - 1,
            ..Default::default()
        };
        assert!(matches!(
            Layout::for_options(&too_small),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(Layout::for_leaf_capacity(111), None);
        assert_eq!(Layout::for_leaf_capacity(112), Some(layout(128)));
        assert_eq!(Layout::for_leaf_capacity(u64::MAX), None);
    }

    /// The reader's arithmetic describes exactly what the writer builds.
    #[test]
    fn tree_matches_what_the_writer_builds() {
        for chunk_size in [128usize, 144, 256] {
            let layout = layout(chunk_size);
            let data = vec![7u8; 40 * chunk_size * chunk_size / 16];
            let leaf = layout.leaf_capacity();
            let mut sizes: Vec<usize> = (0..4 * chunk_size).collect();
            for leaves in 1..200usize {
                sizes.extend([leaves * leaf - 1, leaves * leaf, leaves * leaf + 1]);
            }
            sizes.push(data.len());
            for size in sizes {
                let options = ChunkOptions {
                    chunk_size,
                    ..Default::default()
                };
                let dag = chunk_file(&data[..size], &options).unwrap();
                let levels = dag.levels().count() as u32;
                let root = node::decode(&dag.nodes.last().unwrap().1).unwrap();
                assert_eq!(root.kind(), NodeKind::File);
                match layout.tree(size as u64) {
                    None => assert_eq!(levels, 1, "size {size}"),
                    Some(tree) => {
                        assert_eq!(tree.height + 2, levels, "size {size}");
                        assert_eq!(tree.children, root.child_count() as u64, "size {size}");
                        assert!(size as u64 <= tree.children * layout.full_len(tree.height));
                        assert!(size as u64 > (tree.children - 1) * layout.full_len(tree.height));
                    }
                }
            }
        }
    }
}
