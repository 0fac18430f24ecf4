//! The incremental builder: bytes in, completed nodes out (children strictly before parents),
//! in memory bounded by one chunk plus the keys still waiting for a parent, whatever the file's
//! size. [`chunk_file`](super::chunk_file) and the stores are built on it, so the layout has one
//! implementation.

use bytes::Bytes;

use super::layout::Layout;
use super::ChunkOptions;
use crate::error::Result;
use crate::key::Key;
use crate::node::{self, FileInfo};

/// Builds a file's DAG from its bytes as they come, for any way of splitting them into
/// [`write`](FileWriter::write) calls: the root key and the nodes are those of
/// [`chunk_file`](super::chunk_file) on the whole input.
///
/// The layout's root fanout is smaller than its inner fanout, so once a level holds a full group
/// of inner-fanout keys it is certain to be grouped, and the group's parent can be made at once;
/// only the last partial group of each level, and the root (whose FileInfo needs the total
/// size), wait for [`finish`](FileWriter::finish).
#[derive(Debug)]
pub struct FileWriter {
    layout: Layout,
    content_type: String,
    /// Data not yet in a leaf: less than a leaf's capacity.
    buffer: Vec<u8>,
    written: u64,
    /// Per height (0 = leaves), the keys made but not yet under a parent.
    levels: Vec<Level>,
}

#[derive(Debug, Default)]
struct Level {
    keys: Vec<Key>,
    /// A parent was already made from this level: it is not the top.
    grouped: bool,
}

/// A node the writer completed, with its height (0 for leaves and for a lone file node).
#[derive(Debug, Clone)]
pub(super) struct Made {
    pub height: usize,
    pub key: Key,
    pub bytes: Bytes,
}

impl FileWriter {
    /// A writer for a new file. `invalid_argument` if the chunk size or content type is invalid.
    pub fn new(options: &ChunkOptions) -> Result<FileWriter> {
        Ok(FileWriter {
            layout: Layout::for_options(options)?,
            content_type: options.content_type.clone(),
            buffer: Vec::new(),
            written: 0,
            levels: Vec::new(),
        })
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Adds `data` to the file; returns the nodes it completed, children before parents.
    pub fn write(&mut self, data: &[u8]) -> Vec<(Key, Bytes)> {
        let mut out = Vec::new();
        self.write_with(data, &mut |made| out.push((made.key, made.bytes)));
        out
    }

    /// Completes the file: returns the remaining nodes, children before parents and the root
    /// last, and the root key.
    pub fn finish(self) -> (Vec<(Key, Bytes)>, Key) {
        let mut out = Vec::new();
        let root = self.finish_with(&mut |made| out.push((made.key, made.bytes)));
        (out, root)
    }

    /// How many more bytes the next leaf takes: writing at most this much makes at most one
    /// leaf (and the parents it completes).
    pub(super) fn room(&self) -> usize {
        self.layout.leaf_capacity() - self.buffer.len()
    }

    /// [`write`](FileWriter::write), handing each node to `sink`.
    pub(super) fn write_with(&mut self, mut data: &[u8], sink: &mut impl FnMut(Made)) {
        self.written += data.len() as u64;
        let capacity = self.layout.leaf_capacity();
        while !data.is_empty() {
            if self.buffer.is_empty() && data.len() >= capacity {
                // A whole leaf straight from the input, without copying it into the buffer.
                let (leaf, rest) = data.split_at(capacity);
                self.add_leaf(leaf, sink);
                data = rest;
                continue;
            }
            let take = data.len().min(capacity - self.buffer.len());
            self.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffer.len() == capacity {
                let leaf = std::mem::take(&mut self.buffer);
                self.add_leaf(&leaf, sink);
                self.buffer = leaf;
                self.buffer.clear();
            }
        }
    }

    /// [`finish`](FileWriter::finish), handing each node to `sink`.
    pub(super) fn finish_with(mut self, sink: &mut impl FnMut(Made)) -> Key {
        let exponent = self.layout.block_size_exponent();
        let info = FileInfo {
            size: self.written,
            content_type: std::mem::take(&mut self.content_type),
        };
        if self.levels.is_empty() && self.buffer.len() <= self.layout.inline_capacity() {
            let bytes = node::encode_file(&[], &info, &self.buffer, exponent)
                .expect("the content type was validated and the data fits one node");
            return emit(0, bytes, sink);
        }
        if !self.buffer.is_empty() {
            let leaf = std::mem::take(&mut self.buffer);
            self.add_leaf(&leaf, sink);
        }
        // Bottom-up: every level with more keys than the root can hold gets its last, partial
        // group; the first level that fits is the root's.
        let root_fanout = self.layout.root_fanout();
        let mut height = 0;
        loop {
            let level = &mut self.levels[height];
            if !level.grouped && level.keys.len() <= root_fanout {
                let top = std::mem::take(&mut level.keys);
                let bytes = node::encode_file(&top, &info, &[], exponent)
                    .expect("the content type was validated and the keys fit one node");
                return emit(height + 1, bytes, sink);
            }
            if !level.keys.is_empty() {
                let bytes = self.add_parent(height);
                let key = emit(height + 1, bytes, sink);
                self.add_key(height + 1, key, sink);
            }
            height += 1;
        }
    }

    fn add_leaf(&mut self, data: &[u8], sink: &mut impl FnMut(Made)) {
        let bytes = node::encode_successor(&[], data, self.layout.block_size_exponent())
            .expect("a leaf fits one node");
        let key = emit(0, bytes, sink);
        self.add_key(0, key, sink);
    }

    /// Files `key` at `height`. A full group there can only be a parent's (the level holds more
    /// keys than the root can), so it is made at once, and its key filed a level up.
    fn add_key(&mut self, mut height: usize, mut key: Key, sink: &mut impl FnMut(Made)) {
        loop {
            if self.levels.len() == height {
                self.levels.push(Level::default());
            }
            let level = &mut self.levels[height];
            level.keys.push(key);
            if level.keys.len() < self.layout.inner_fanout() {
                return;
            }
            let bytes = self.add_parent(height);
            key = emit(height + 1, bytes, sink);
            height += 1;
        }
    }

    /// Encodes the parent of the keys waiting at `height` and empties that level.
    fn add_parent(&mut self, height: usize) -> Vec<u8> {
        let level = &mut self.levels[height];
        let bytes = node::encode_successor(&level.keys, &[], self.layout.block_size_exponent())
            .expect("a group of keys fits one node");
        level.keys.clear();
        level.grouped = true;
        bytes
    }
}

fn emit(height: usize, bytes: Vec<u8>, sink: &mut impl FnMut(Made)) -> Key {
    let key = Key::for_bytes(&bytes);
    sink(Made {
        height,
        key,
        bytes: Bytes::from(bytes),
    });
    key
}
