//! The range reader: [`read_stream`] emits a byte range of a file as it fetches the nodes that
//! cover it, in order, every node verified before any of its bytes are emitted, with a bounded
//! read-ahead whose gets start together (so a storage that batches the gets of one tick, HTTP or
//! IndexedDB, gets them in one batch).

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::task::Poll;

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};

use super::generator::{generate, Emitter};
use super::progress::{Progress, Reporter};
use super::shape::{choose, Place, Shape};
use super::verify::{fetch_verified, root_info, size_mismatch};
use super::Window;
use crate::error::{Error, Result};
use crate::key::{Key, KeyMap};
use crate::node;
use crate::storage::StorageProvider;

/// Which bytes of a file [`read_stream`] reads, and how far ahead it fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// First byte to read; at most the file's size.
    pub offset: u64,
    /// How many bytes to read (fewer if the file ends first); `None`: to the end.
    pub length: Option<u64>,
    /// Gets in flight or fetched but not yet emitted, by each key's size flag.
    pub window: Window,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            offset: 0,
            length: None,
            window: Window::READ,
        }
    }
}

/// Reads `options.length` bytes (or to the end) of the file under `root`, from
/// `options.offset`, as a stream of byte chunks; exactly `min(length, size - offset)` bytes in
/// all. An offset past the end is `invalid_argument` (at the end: an empty stream).
///
/// - Verification: every node is checked before any of its bytes are emitted: hash and size
///   flag against its key, full decoding, a file node at the root and successors below, and
///   lengths that add up. The root and the paths to the range's first and last bytes are checked
///   before the first byte (a whole-file read checks the FileInfo's size against the last leaf
///   then); a node inside the range is checked when reached, so its corruption ends the stream
///   after the bytes before it.
/// - Fetches: for a DAG with the chunker's layout only the nodes covering the range (the root,
///   the path down, the leaves), each leaf's position following from the layout; any other DAG
///   (data in inner nodes, uneven leaves, shared subtrees) is measured first, each distinct node
///   fetched once, and refused with `corrupt_dag` if its length is not the FileInfo's or it takes
///   more than `2 * size + 64` node visits. See `docs/files.md` for how the layout is recognised.
/// - Memory: bounded by the window, the paths to the range's ends and one fanout of keys per
///   level, whatever the file's size (plus one length per distinct node for measured DAGs).
/// - `progress` gets the bytes emitted, the range's length and the nodes fetched.
/// - Dropping the stream cancels the gets in flight.
///
/// `storage` is taken by value: pass `&storage` to borrow it, or an `Rc` for a `'static`
/// stream.
#[must_use = "streams do nothing unless polled"]
pub fn read_stream<S: StorageProvider>(
    storage: S,
    root: Key,
    options: ReadOptions,
    progress: impl FnMut(Progress),
) -> impl Stream<Item = Result<Bytes>> {
    generate(move |out| async move {
        let storage = Counted {
            inner: storage,
            gets: Cell::new(0),
        };
        let mut sink = Sink {
            out,
            reporter: Reporter::new(progress),
            now: Progress::default(),
        };
        read_range(&storage, root, &options, &mut sink).await
    })
}

async fn read_range<S: StorageProvider>(
    storage: &Counted<S>,
    root: Key,
    options: &ReadOptions,
    sink: &mut Sink<impl FnMut(Progress)>,
) -> Result<()> {
    let root_bytes = fetch_verified(storage, root).await?;
    let view = node::decode(&root_bytes)?;
    let size = root_info(root, &view)?.size;
    let start = options.offset;
    if start > size {
        return Err(Error::InvalidArgument(format!(
            "offset {start} is past the end of the {size}-byte file {root}"
        )));
    }
    let end = start + options.length.unwrap_or(u64::MAX).min(size - start);
    sink.now.total_bytes = Some(end - start);
    if view.child_count() == 0 {
        let data = view.data();
        if data.len() as u64 != size {
            return Err(size_mismatch(root, data.len() as u64, size));
        }
        if start < end {
            let part = &data[start as usize..end as usize];
            sink.emit(storage, root_bytes.slice_ref(part)).await;
        }
    } else {
        // An empty range still checks the DAG where it points, as a one-byte range there would.
        let at = start.min(size.saturating_sub(1));
        let checked = if start < end {
            (start, end)
        } else {
            (at, at + 1)
        };
        let mut fetched = KeyMap::default();
        let shape = choose(storage, root, &root_bytes, size, checked, &mut fetched).await?;
        if start < end {
            let mut reader = RangeReader {
                file: root,
                queue: VecDeque::from([Entry::Node(Pending {
                    place: shape.root(root, size),
                    skip: start,
                    take: end - start,
                    state: State::Ready(root_bytes),
                    held: None,
                })]),
                shape,
                window: options.window,
                fetched,
                scanned: 0,
                next_id: 0,
                arrived: HashMap::new(),
                in_flight: (0, 0),
            };
            reader.run(storage, sink).await?;
        }
    }
    sink.now.nodes = storage.gets.get();
    sink.reporter.report(sink.now);
    Ok(())
}

/// Where emitted bytes go, with the progress they make.
struct Sink<F> {
    out: Emitter<Bytes>,
    reporter: Reporter<F>,
    now: Progress,
}

impl<F: FnMut(Progress)> Sink<F> {
    async fn emit<S>(&mut self, storage: &Counted<S>, bytes: Bytes) {
        self.now.bytes += bytes.len() as u64;
        self.now.nodes = storage.gets.get();
        self.reporter.report(self.now);
        self.out.emit(bytes).await;
    }
}

/// A storage that counts the nodes it returned, for progress.
struct Counted<S> {
    inner: S,
    gets: Cell<u64>,
}

impl<S: StorageProvider> StorageProvider for Counted<S> {
    async fn get(&self, key: Key) -> Result<Option<Bytes>> {
        let got = self.inner.get(key).await;
        if matches!(got, Ok(Some(_))) {
            self.gets.set(self.gets.get() + 1);
        }
        got
    }

    async fn put(&self, key: Key, bytes: Bytes) -> Result<()> {
        self.inner.put(key, bytes).await
    }
}

/// One step of the range in content order.
enum Entry {
    /// A node whose content `skip..skip + take` is needed.
    Node(Pending),
    /// Checked bytes to emit: an inner node's own data (`held`: its share of the window).
    Data { bytes: Bytes, held: Option<u64> },
    /// A node that could not be fetched or checked: the read fails when it is reached.
    Failed(Error),
}

struct Pending {
    place: Place,
    skip: u64,
    take: u64,
    state: State,
    /// The window's share this node holds (`None`: fetched while choosing the shape).
    held: Option<u64>,
}

enum State {
    Idle,
    Requested(u64),
    Ready(Bytes),
}

/// What the front of the range needs.
enum Front {
    Emit(Bytes),
    Wait,
    Done,
}

/// The range still to emit, in content order, and the read-ahead.
///
/// The queue holds, per level of the DAG, the remaining children of the node being read (one
/// fanout of keys each). A scan walks it from `scanned` and requests nodes while the window
/// admits them; it stops at an inner node until that node has arrived and been replaced by its
/// children, so at most one inner node is ahead of the scan and the queue stays small.
struct RangeReader {
    file: Key,
    shape: Shape,
    window: Window,
    /// Nodes fetched while choosing the shape (the range's end paths), used instead of fetching.
    fetched: KeyMap<Bytes>,
    queue: VecDeque<Entry>,
    /// Entries before this one are scanned: emitted data, or leaves requested or ready.
    scanned: usize,
    next_id: u64,
    /// Requested nodes that arrived but are not used yet, by request id.
    arrived: HashMap<u64, Result<Bytes>>,
    /// Nodes and bytes (size-flag bounds) of the window in use.
    in_flight: (usize, u64),
}

impl RangeReader {
    async fn run<S: StorageProvider>(
        &mut self,
        storage: &Counted<S>,
        sink: &mut Sink<impl FnMut(Progress)>,
    ) -> Result<()> {
        let fetch = |id: u64, key: Key| async move { (id, fetch_verified(storage, key).await) };
        let mut requests = FuturesUnordered::new();
        loop {
            self.scan(&mut |id, key| requests.push(fetch(id, key)));
            // Start the new requests (all of this tick's gets together) and take in the ones
            // done, without waiting.
            let arrived = poll_fn(|cx| {
                let mut any = false;
                while let Poll::Ready(Some((id, result))) = requests.poll_next_unpin(cx) {
                    self.arrived.insert(id, result);
                    any = true;
                }
                Poll::Ready(any)
            })
            .await;
            if arrived {
                continue;
            }
            match self.front()? {
                Front::Emit(bytes) => sink.emit(storage, bytes).await,
                Front::Done => return Ok(()),
                Front::Wait => {
                    let (id, result) = requests.next().await.expect("a request is in flight");
                    self.arrived.insert(id, result);
                }
            }
        }
    }

    /// Advances the scan: requests nodes the window admits (through `request`) and replaces
    /// inner nodes that arrived by their children.
    fn scan(&mut self, request: &mut impl FnMut(u64, Key)) {
        while let Some(entry) = self.queue.get_mut(self.scanned) {
            let node = match entry {
                Entry::Data { .. } => {
                    self.scanned += 1;
                    continue;
                }
                Entry::Failed(_) => return,
                Entry::Node(node) => node,
            };
            let leaf = self.shape.is_leaf(&node.place);
            match &node.state {
                State::Idle => {
                    if let Some(bytes) = self.fetched.get(&node.place.key) {
                        node.state = State::Ready(bytes.clone());
                        continue;
                    }
                    let bound = node.place.key.max_node_len();
                    let (nodes, bytes) = self.in_flight;
                    if !self.window.admits(nodes, bytes, bound) {
                        return;
                    }
                    self.in_flight = (nodes + 1, bytes + bound);
                    node.held = Some(bound);
                    node.state = State::Requested(self.next_id);
                    request(self.next_id, node.place.key);
                    self.next_id += 1;
                }
                State::Requested(_) | State::Ready(_) if leaf => self.scanned += 1,
                State::Requested(id) => match self.arrived.remove(id) {
                    None => return,
                    Some(Ok(bytes)) => node.state = State::Ready(bytes),
                    Some(Err(error)) => {
                        let held = node.held;
                        *entry = Entry::Failed(error);
                        self.release(held);
                        return;
                    }
                },
                State::Ready(_) => self.expand(),
            }
        }
    }

    /// Replaces the inner node at `scanned` (ready) by its own data and its children in range,
    /// after checking it; or by the failure.
    fn expand(&mut self) {
        let Some(Entry::Node(node)) = self.queue.remove(self.scanned) else {
            unreachable!("expand is called on a node");
        };
        let State::Ready(bytes) = &node.state else {
            unreachable!("expand is called on a ready node");
        };
        let mut replacement = Vec::new();
        match self.checked_parts(&node, bytes) {
            Ok((data, parts)) => {
                match data {
                    Some(data) => replacement.push(Entry::Data {
                        bytes: data,
                        held: node.held,
                    }),
                    None => self.release(node.held),
                }
                replacement.extend(parts);
            }
            Err(error) => {
                self.release(node.held);
                replacement.push(Entry::Failed(error));
            }
        }
        let tail = self.queue.split_off(self.scanned);
        self.queue.extend(replacement);
        self.queue.extend(tail);
    }

    /// The needed part of an inner node's own data (if any) and its children in range.
    fn checked_parts(&self, node: &Pending, bytes: &Bytes) -> Result<(Option<Bytes>, Vec<Entry>)> {
        let view = node::decode(bytes)?;
        self.shape.check(self.file, &node.place, &view)?;
        let data = view.data();
        let from = node.skip.min(data.len() as u64) as usize;
        let to = (node.skip + node.take).min(data.len() as u64) as usize;
        let own = (from < to).then(|| bytes.slice_ref(&data[from..to]));
        let parts = self.shape.parts(&node.place, &view, node.skip, node.take);
        let children = parts.into_iter().map(|part| {
            Entry::Node(Pending {
                place: part.place,
                skip: part.skip,
                take: part.take,
                state: State::Idle,
                held: None,
            })
        });
        Ok((own, children.collect()))
    }

    /// Takes the front of the range if it can be emitted now.
    fn front(&mut self) -> Result<Front> {
        let Some(entry) = self.queue.front_mut() else {
            return Ok(Front::Done);
        };
        let (bytes, held) = match entry {
            // The scan stops at a failure: the read ends here.
            Entry::Failed(error) => return Err(error.clone()),
            Entry::Data { .. } => {
                let Some(Entry::Data { bytes, held }) = self.queue.pop_front() else {
                    unreachable!("the front is data");
                };
                self.scanned -= 1;
                self.release(held);
                return Ok(Front::Emit(bytes));
            }
            // An inner node at the front waits for the scan to replace it by its children.
            Entry::Node(node) if !self.shape.is_leaf(&node.place) => return Ok(Front::Wait),
            Entry::Node(node) => match &node.state {
                State::Ready(bytes) => (bytes.clone(), node.held),
                State::Requested(id) => match self.arrived.remove(id) {
                    Some(Ok(bytes)) => (bytes, node.held),
                    Some(Err(error)) => return Err(error),
                    None => return Ok(Front::Wait),
                },
                State::Idle => return Ok(Front::Wait),
            },
        };
        let Some(Entry::Node(node)) = self.queue.pop_front() else {
            unreachable!("the front is a node");
        };
        self.scanned -= 1;
        self.release(held);
        let view = node::decode(&bytes)?;
        self.shape.check(self.file, &node.place, &view)?;
        let from = node.skip as usize;
        let part = &view.data()[from..from + node.take as usize];
        Ok(Front::Emit(bytes.slice_ref(part)))
    }

    fn release(&mut self, held: Option<u64>) {
        if let Some(bytes) = held {
            self.in_flight.0 -= 1;
            self.in_flight.1 -= bytes;
        }
    }
}
