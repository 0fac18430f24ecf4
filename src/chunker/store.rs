//! Putting a file into a storage as it is read: [`store_stream`] runs the [`FileWriter`] over an
//! input stream and puts nodes as they complete, within a [`Window`], never starting a parent's
//! put before all its children's puts succeeded. [`store_file`] is the same over a slice.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;

use futures::stream::{self, FuturesUnordered};
use futures::{Stream, StreamExt};

use super::progress::{Progress, Reporter};
use super::writer::{FileWriter, Made};
use super::{ChunkOptions, Window};
use crate::error::Result;
use crate::key::Key;
use crate::storage::StorageProvider;

/// How [`store_stream`] cuts and puts a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How to cut the file.
    pub chunk: ChunkOptions,
    /// The input's length if the caller knows it, reported as [`Progress::total_bytes`]
    /// (informational: the input is not checked against it).
    pub total_bytes: Option<u64>,
    /// Puts in flight at once: at most `nodes` puts and `bytes` bytes.
    pub window: Window,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            chunk: ChunkOptions::default(),
            total_bytes: None,
            window: Window::STORE,
        }
    }
}

/// Chunks `data` and puts every node into `storage`, children before parents; returns the root
/// key. [`store_stream`] over the slice with the default window.
pub async fn store_file<S: StorageProvider>(
    storage: &S,
    data: &[u8],
    options: &ChunkOptions,
) -> Result<Key> {
    let options = StoreOptions {
        chunk: options.clone(),
        total_bytes: Some(data.len() as u64),
        ..StoreOptions::default()
    };
    store_stream(storage, stream::iter([Ok(data)]), &options, |_| {}).await
}

/// Chunks the bytes of `input` as they come and puts every node into `storage`; returns the root
/// key, the same as [`chunk_file`](super::chunk_file) of the whole input gives.
///
/// - Puts start as nodes complete, up to the options' window (so an `IndexedDbStorage` gets many
///   puts in one tick and writes them in one transaction).
/// - A parent's put starts only once every put before it (its children's among them) succeeded:
///   a barrier, but a rare one (one parent per inner fanout of leaves).
/// - Backpressure: `input` is not polled while the window is full, and a long input item is fed
///   to the writer a leaf at a time, so memory stays bounded by the window, one chunk and one
///   input item, whatever the file's size.
/// - `progress` gets the input bytes taken and the nodes put whenever they change.
/// - An error from `input` or a put ends the store with that error. Dropping the future cancels
///   it: puts in flight are dropped, and since no parent's put started before its children were
///   stored, the storage never holds a parent without its children.
pub async fn store_stream<S, I, B>(
    storage: &S,
    input: I,
    options: &StoreOptions,
    progress: impl FnMut(Progress),
) -> Result<Key>
where
    S: StorageProvider,
    I: Stream<Item = Result<B>>,
    B: AsRef<[u8]>,
{
    let mut writer = Some(FileWriter::new(&options.chunk)?);
    let window = options.window;
    let mut input = pin!(input);
    let mut input_done = false;
    // The input item being fed to the writer, and how much of it was fed.
    let mut item: Option<(B, usize)> = None;
    // Nodes made but not yet put, in the order made (children first).
    let mut made: VecDeque<Made> = VecDeque::new();
    let put = |node: Made| async move {
        let len = node.bytes.len() as u64;
        storage.put(node.key, node.bytes).await.map(|()| len)
    };
    let mut puts = FuturesUnordered::new();
    let mut in_flight_bytes = 0u64;
    let mut root = None;
    let mut now = Progress {
        bytes: 0,
        total_bytes: options.total_bytes,
        nodes: 0,
    };
    let mut reporter = Reporter::new(progress);

    poll_fn(|cx| -> Poll<Result<Key>> {
        loop {
            let mut moved = false;
            // Settle finished puts (this also polls puts started in the previous round).
            while let Poll::Ready(Some(done)) = puts.poll_next_unpin(cx) {
                in_flight_bytes -= done?;
                now.nodes += 1;
                moved = true;
            }
            // Start what the window and the barrier allow.
            while let Some(next) = made.front() {
                let len = next.bytes.len() as u64;
                let admitted = if next.height == 0 {
                    window.admits(puts.len(), in_flight_bytes, len)
                } else {
                    puts.is_empty()
                };
                if !admitted {
                    break;
                }
                let next = made.pop_front().expect("front exists");
                in_flight_bytes += len;
                puts.push(put(next));
                moved = true;
            }
            // Make more nodes only when every made one is in flight and the window has room.
            if made.is_empty() && window.has_room(puts.len(), in_flight_bytes) {
                if let Some((bytes, fed)) = &mut item {
                    let writer = writer
                        .as_mut()
                        .expect("the writer finishes after the input");
                    let rest = &bytes.as_ref()[*fed..];
                    let piece = &rest[..rest.len().min(writer.room())];
                    writer.write_with(piece, &mut |node| made.push_back(node));
                    *fed += piece.len();
                    now.bytes += piece.len() as u64;
                    if piece.len() == rest.len() {
                        item = None;
                    }
                    moved = true;
                } else if !input_done {
                    match input.as_mut().poll_next(cx) {
                        Poll::Ready(Some(next)) => item = Some((next?, 0)),
                        Poll::Ready(None) => input_done = true,
                        Poll::Pending => {}
                    }
                    moved |= item.is_some() || input_done;
                } else if let Some(writer) = writer.take() {
                    root = Some(writer.finish_with(&mut |node| made.push_back(node)));
                    moved = true;
                } else if puts.is_empty() {
                    reporter.report(now);
                    return Poll::Ready(Ok(root.expect("finished")));
                }
            }
            reporter.report(now);
            if !moved {
                return Poll::Pending;
            }
        }
    })
    .await
}
