//! Content no earlier test run stored: unique names and file DAGs for browser tests against a
//! server that keeps its data between tests. Include it with
//! `#[path = "support/unique_dag.rs"] mod unique_dag;`.
#![allow(dead_code)]

use casweb::chunker::{chunk_file, ChunkOptions, FileDag};

/// `tag` made unique to this moment and page.
pub fn unique(tag: &str) -> String {
    format!("{tag}-{}-{}", js_sys::Date::now(), js_sys::Math::random())
}

/// A file DAG of unique content: `len` bytes in 128-byte nodes (about `len / 112` leaves).
pub fn unique_dag(len: usize) -> FileDag {
    let seed = unique("dag");
    let mut data = Vec::with_capacity(len);
    while data.len() < len {
        data.extend_from_slice(format!("{seed}:{}|", data.len()).as_bytes());
    }
    data.truncate(len);
    let options = ChunkOptions {
        chunk_size: 128,
        ..Default::default()
    };
    chunk_file(&data, &options).unwrap()
}
