//! Files as DAGs: split bytes into nodes (children first) and reassemble them from a root key.
//!
//! Layout made by [`FileWriter`] (and so by [`chunk_file`], [`store_file`], [`store_stream`]),
//! for a maximum node length `N` (the chunk size):
//! - a file that fits (`16 + 64 + len <= N`) is a single file node holding all its data;
//! - otherwise the data is cut into successor leaves of `N - 16` bytes, grouped under successor
//!   nodes of up to `(N - 16) / 16` children each, level by level, until the root file node
//!   (FileInfo, no data) can hold the top level's keys: at most `(N - 80) / 16` of them.
//!
//! Reading: a node's content is its own data followed by the content of each child in order
//! (pre-order), which also reads CASFA-style trees that keep data in inner nodes. [`read_file`]
//! reads a whole file into memory; [`read_stream`] reads a byte range as a stream, fetching only
//! the nodes that cover it when the DAG has the layout above (see `docs/files.md`).
//!
//! One concept per file: `layout` (the shape arithmetic writer and reader share), `writer` (the
//! incremental builder), `dag` (the in-memory [`chunk_file`]), `store` (putting a file into a
//! storage), `verify` and `measure` (node checks and the whole-DAG measure every reader uses),
//! `read` ([`read_file`]), `shape` (how a range reader knows subtree lengths), `stream` (the
//! range reader), `generator` (an async block as a `Stream`), `progress`.

mod dag;
mod generator;
mod layout;
mod measure;
mod progress;
mod read;
mod shape;
mod store;
mod stream;
mod verify;
mod writer;

pub use dag::{chunk_file, FileDag};
pub use progress::Progress;
pub use read::{file_info, read_file, read_file_reporting, File};
pub use store::{store_file, store_stream, StoreOptions};
pub use stream::{read_stream, ReadOptions};
pub use writer::FileWriter;

/// Default maximum node length: 1 MiB.
pub const DEFAULT_CHUNK_SIZE: usize = 1024 * 1024;
/// Smallest chunk size: enough for a root with at least two children.
pub const MIN_CHUNK_SIZE: usize = 128;
/// Largest chunk size (the payload length field is 32 bits; servers advertise far less).
pub const MAX_CHUNK_SIZE: usize = 1 << 30;

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

/// How much a streaming store or read keeps in flight: at most `nodes` requests and `bytes`
/// bytes of nodes at once, and always at least one request (a node larger than `bytes` still
/// goes, alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub nodes: usize,
    pub bytes: u64,
}

impl Window {
    /// [`store_stream`]'s default: enough puts per tick for an `IndexedDbStorage` to write them
    /// in one transaction, few enough bytes that a slow storage holds the reader back early.
    pub const STORE: Window = Window {
        nodes: 256,
        bytes: 16 << 20,
    };
    /// [`read_stream`]'s default read-ahead (bytes counted by each key's size flag, an upper
    /// bound of the node's length).
    pub const READ: Window = Window {
        nodes: 1024,
        bytes: 16 << 20,
    };

    /// True if one more request of `next` bytes may start while `nodes` requests of `bytes`
    /// bytes are in flight.
    fn admits(&self, nodes: usize, bytes: u64, next: u64) -> bool {
        nodes == 0 || (nodes < self.nodes && bytes.saturating_add(next) <= self.bytes)
    }

    /// True if anything more may start while `nodes` requests of `bytes` bytes are in flight.
    fn has_room(&self, nodes: usize, bytes: u64) -> bool {
        self.admits(nodes, bytes, 1)
    }
}
