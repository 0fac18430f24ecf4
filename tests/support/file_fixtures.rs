//! Files for the chunker's native tests: chunking options, deterministic data, and hand-made
//! DAGs the chunker never makes (data in inner nodes, shared subtrees). Include it with
//! `#[path = "support/file_fixtures.rs"] mod file_fixtures;`.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;
use casweb::chunker::ChunkOptions;
use casweb::node::{self, FileInfo};
use casweb::{Key, MemoryStorage, StorageProvider};
use futures::executor::block_on;

/// Chunking with `chunk_size` and no content type.
pub fn options(chunk_size: usize) -> ChunkOptions {
    ChunkOptions {
        chunk_size,
        content_type: String::new(),
    }
}

/// Deterministic, incompressible-looking test data.
pub fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut out = vec![0; len];
    let mut state = blake3::Hasher::new();
    state.update(&[seed]);
    state.finalize_xof().fill(&mut out);
    out
}

/// Stores `bytes` under their key; returns the key.
pub fn put(storage: &impl StorageProvider, bytes: Vec<u8>) -> Key {
    let key = Key::for_bytes(&bytes);
    block_on(storage.put(key, Bytes::from(bytes))).unwrap();
    key
}

/// A CASFA-style file: data in inner nodes, one node (`ef`) named twice. Its content, read in
/// pre-order, is `abcdefgefh`; its content type `text/plain`.
pub fn casfa_file(storage: &MemoryStorage) -> (Key, &'static [u8]) {
    let e = put(storage, node::encode_successor(&[], b"ef", 0).unwrap());
    let g = put(storage, node::encode_successor(&[], b"g", 0).unwrap());
    let c = put(storage, node::encode_successor(&[e, g], b"cd", 0).unwrap());
    let h = put(storage, node::encode_successor(&[], b"h", 0).unwrap());
    let info = FileInfo {
        size: 10,
        content_type: "text/plain".into(),
    };
    let root = put(
        storage,
        node::encode_file(&[c, e, h], &info, b"ab", 0).unwrap(),
    );
    (root, b"abcdefgefh")
}

/// A DAG where each level names the level below twice: `levels` distinct nodes, 2^levels paths.
pub fn doubling_dag(
    storage: &MemoryStorage,
    levels: usize,
    leaf: &[u8],
    declared_size: u64,
) -> Key {
    let mut below = put(storage, node::encode_successor(&[], leaf, 0).unwrap());
    for _ in 0..levels {
        below = put(
            storage,
            node::encode_successor(&[below, below], b"", 0).unwrap(),
        );
    }
    let info = FileInfo {
        size: declared_size,
        content_type: String::new(),
    };
    put(storage, node::encode_file(&[below], &info, b"", 0).unwrap())
}

/// A store that keeps whatever it is given, as a corrupted disk or an app's own store may (casweb's
/// own stores refuse bytes that are not their key's).
#[derive(Default)]
pub struct LenientStorage(pub RefCell<HashMap<Key, Bytes>>);

impl StorageProvider for LenientStorage {
    async fn get(&self, key: Key) -> casweb::Result<Option<Bytes>> {
        Ok(self.0.borrow().get(&key).cloned())
    }
    async fn put(&self, key: Key, bytes: Bytes) -> casweb::Result<()> {
        self.0.borrow_mut().insert(key, bytes);
        Ok(())
    }
}
