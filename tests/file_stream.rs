#![cfg(not(target_arch = "wasm32"))]
//! Tests for streaming files in and out: the incremental `FileWriter` against `chunk_file`,
//! `store_stream` (same nodes as `store_file`, progress, the parent barrier, cancellation,
//! backpressure) and the range reader `read_stream` (every boundary, fetch counts, prefetch,
//! corrupt and hostile DAGs refused before any byte, tampered and missing nodes).

#[path = "support/file_fixtures.rs"]
mod file_fixtures;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use casweb::chunker::{
    self, ChunkOptions, FileDag, FileWriter, Progress, ReadOptions, StoreOptions, Window,
};
use casweb::node::{self, FileInfo, NodeKind};
use casweb::{Error, Key, MemoryStorage, StorageProvider};
use file_fixtures::{casfa_file, data, doubling_dag, options, put, LenientStorage};
use futures::executor::block_on;
use futures::stream::{self, StreamExt};

/// A small seeded generator (xorshift64*) for write splits and ranges.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

fn store_dag(storage: &impl StorageProvider, dag: &FileDag) {
    for (key, bytes) in &dag.nodes {
        block_on(storage.put(*key, bytes.clone())).unwrap();
    }
}

fn sorted(nodes: &[(Key, Bytes)]) -> Vec<(Key, Bytes)> {
    let mut nodes = nodes.to_vec();
    nodes.sort_by_key(|(key, _)| *key);
    nodes
}

/// Leaf data, inline data, fanouts of a chunk size.
struct Shape {
    inline: usize,
    leaf: usize,
    root_fanout: usize,
    inner_fanout: usize,
}

fn shape(chunk_size: usize) -> Shape {
    Shape {
        inline: chunk_size - 80,
        leaf: chunk_size - 16,
        root_fanout: (chunk_size - 80) / 16,
        inner_fanout: (chunk_size - 16) / 16,
    }
}

/// Every length around a boundary of the layout for `chunk_size`, up to `max` bytes.
fn boundary_lengths(chunk_size: usize, max: usize) -> Vec<usize> {
    let s = shape(chunk_size);
    let mut bases = vec![0, 1, s.inline, s.leaf];
    let (r, f) = (s.root_fanout, s.inner_fanout);
    for leaves in [2, r, f, r * f, f * f, r * f * f, r * f * f * f] {
        bases.push(leaves * s.leaf);
    }
    let mut lengths: Vec<usize> = bases
        .iter()
        .flat_map(|&base| [base.saturating_sub(1), base, base + 1])
        .filter(|&len| len <= max)
        .collect();
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// Runs the writer over `input` cut at `cuts` (ascending offsets); returns the nodes in the
/// order made and the root.
fn write_in_pieces(input: &[u8], cuts: &[usize], opts: &ChunkOptions) -> (Vec<(Key, Bytes)>, Key) {
    let mut writer = FileWriter::new(opts).unwrap();
    let mut nodes = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([&input.len()]) {
        nodes.extend(writer.write(&input[at..cut]));
        at = cut;
    }
    assert_eq!(writer.bytes_written(), input.len() as u64);
    let (rest, root) = writer.finish();
    nodes.extend(rest);
    (nodes, root)
}

/// Children strictly before parents, the root last.
fn check_order(nodes: &[(Key, Bytes)], root: Key) {
    assert_eq!(nodes.last().unwrap().0, root);
    let mut seen = HashSet::new();
    for (key, bytes) in nodes {
        for child in node::child_keys(bytes).unwrap() {
            assert!(seen.contains(&child), "{child} made after its parent");
        }
        seen.insert(*key);
    }
}

fn random_cuts(len: usize, rng: &mut Rng) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..rng.below(12))
        .map(|_| rng.below(len as u64 + 1) as usize)
        .collect();
    if rng.below(3) == 0 {
        // Many tiny writes too.
        let step = 1 + rng.below(40) as usize;
        cuts.extend((0..len).step_by(step));
    }
    cuts.sort_unstable();
    cuts
}

#[test]
fn writer_equals_chunk_file_at_every_boundary() {
    let mut rng = Rng(0x9e37_79b9);
    for chunk_size in [128usize, 256, 4096] {
        let opts = ChunkOptions {
            chunk_size,
            content_type: "application/x-test".into(),
        };
        let max = if chunk_size == 4096 { 1 << 20 } else { 700_000 };
        let input = data(max + 1, chunk_size as u8);
        let mut heights = HashSet::new();
        for len in boundary_lengths(chunk_size, max) {
            let dag = chunker::chunk_file(&input[..len], &opts).unwrap();
            heights.insert(dag.levels().count());
            for round in 0..3 {
                let cuts = match round {
                    0 => vec![],
                    _ => random_cuts(len, &mut rng),
                };
                let (nodes, root) = write_in_pieces(&input[..len], &cuts, &opts);
                assert_eq!(
                    root, dag.root,
                    "chunk {chunk_size}, len {len}, cuts {cuts:?}"
                );
                assert_eq!(
                    sorted(&nodes),
                    sorted(&dag.nodes),
                    "chunk {chunk_size}, len {len}"
                );
                check_order(&nodes, root);
            }
        }
        if chunk_size <= 256 {
            assert!(
                heights.contains(&5),
                "chunk {chunk_size}: heights {heights:?}"
            );
        }
    }
}

#[test]
fn writer_makes_nodes_as_it_goes() {
    let opts = options(128);
    let mut writer = FileWriter::new(&opts).unwrap();
    let input = data(20_000, 9);
    let mut made = 0;
    for (i, piece) in input.chunks(1000).enumerate() {
        made += writer.write(piece).len();
        // Every full leaf is out as soon as its bytes are in.
        let written = (i + 1) * 1000;
        assert!(made >= written / 112, "{made} nodes after {written} bytes");
    }
    let (rest, _) = writer.finish();
    // What finish adds is bounded by the depth (partial groups) plus the last leaf and root.
    assert!(rest.len() <= 8, "{} nodes left for finish", rest.len());
    assert!(FileWriter::new(&options(64)).is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Any input, any chunk size, any way of splitting it into writes.
        #[test]
        fn writer_equals_chunk_file(
            len in 0usize..30_000,
            chunk_size in prop_oneof![Just(128usize), Just(144), Just(256), 128usize..600],
            cuts in proptest::collection::vec(0usize..30_000, 0..20),
            seed in any::<u8>(),
        ) {
            let input = data(len, seed);
            let opts = options(chunk_size);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
            cuts.sort_unstable();
            let dag = chunker::chunk_file(&input, &opts).unwrap();
            let (nodes, root) = write_in_pieces(&input, &cuts, &opts);
            prop_assert_eq!(root, dag.root);
            prop_assert_eq!(sorted(&nodes), sorted(&dag.nodes));
        }
    }
}

/// A storage that answers in the next tick: each get and put completes once the driver
/// ([`drive`]) has moved past the tick it started in. It logs puts and tracks how many gets are
/// outstanding at once (those started in the same tick).
#[derive(Default)]
struct Slow {
    inner: MemoryStorage,
    tick: Cell<u64>,
    waiting: RefCell<Vec<std::task::Waker>>,
    /// ("start" | "done", key) for every put, in order.
    puts: RefCell<Vec<(&'static str, Key)>>,
    gets_outstanding: Cell<usize>,
    max_gets_outstanding: Cell<usize>,
}

impl Slow {
    async fn next_tick(&self) {
        let started = self.tick.get();
        std::future::poll_fn(|cx| {
            if self.tick.get() > started {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Moves to the next tick, waking whatever waits for it.
    fn advance(&self) {
        self.tick.set(self.tick.get() + 1);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }
}

impl StorageProvider for Slow {
    async fn get(&self, key: Key) -> casweb::Result<Option<Bytes>> {
        let outstanding = self.gets_outstanding.get() + 1;
        self.gets_outstanding.set(outstanding);
        let max = self.max_gets_outstanding.get().max(outstanding);
        self.max_gets_outstanding.set(max);
        self.next_tick().await;
        self.gets_outstanding.set(self.gets_outstanding.get() - 1);
        self.inner.get(key).await
    }

    async fn put(&self, key: Key, bytes: Bytes) -> casweb::Result<()> {
        self.puts.borrow_mut().push(("start", key));
        self.next_tick().await;
        self.inner.put(key, bytes).await?;
        self.puts.borrow_mut().push(("done", key));
        Ok(())
    }
}

/// Runs `future` to completion, one poll per tick of `storage`.
fn drive<T>(storage: &Slow, future: impl Future<Output = T>) -> T {
    let mut future = pin!(future);
    let mut context = Context::from_waker(futures::task::noop_waker_ref());
    for _ in 0..1_000_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        storage.advance();
    }
    panic!("the future did not finish");
}

/// Stores `input` fed as `piece`-byte items; returns the root and the progress reports.
fn store_in_pieces(
    storage: &Slow,
    input: &[u8],
    piece: usize,
    options: &StoreOptions,
) -> casweb::Result<(Key, Vec<Progress>)> {
    let reports = RefCell::new(Vec::new());
    let items = stream::iter(
        input
            .chunks(piece.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c))),
    );
    let root = drive(
        storage,
        chunker::store_stream(storage, items, options, |p| reports.borrow_mut().push(p)),
    )?;
    Ok((root, reports.into_inner()))
}

fn check_progress(reports: &[Progress], bytes: u64, total: Option<u64>, nodes: u64) {
    assert!(!reports.is_empty());
    for pair in reports.windows(2) {
        assert!(pair[0].bytes <= pair[1].bytes && pair[0].nodes <= pair[1].nodes);
        assert_ne!(pair[0], pair[1], "a report repeats the previous one");
    }
    assert!(reports.iter().all(|p| p.total_bytes == total));
    let last = reports.last().unwrap();
    assert_eq!((last.bytes, last.nodes), (bytes, nodes));
}

#[test]
fn store_stream_stores_what_store_file_does() {
    let mut rng = Rng(7);
    for chunk_size in [128usize, 256] {
        for len in [0, 1, 47, 48, 49, 112, 113, 2000, 2353, 20_000] {
            let input = data(len, 3);
            let opts = options(chunk_size);
            let dag = chunker::chunk_file(&input, &opts).unwrap();
            let by_file = MemoryStorage::new();
            let root = block_on(chunker::store_file(&by_file, &input, &opts)).unwrap();
            assert_eq!(root, dag.root);
            for window in [
                Window::STORE,
                Window { nodes: 1, bytes: 1 },
                Window {
                    nodes: 3,
                    bytes: 400,
                },
            ] {
                let storage = Slow::default();
                let store = StoreOptions {
                    chunk: opts.clone(),
                    total_bytes: Some(len as u64),
                    window,
                };
                let piece = 1 + rng.below(300) as usize;
                let (root, reports) = store_in_pieces(&storage, &input, piece, &store).unwrap();
                assert_eq!(root, dag.root, "chunk {chunk_size}, len {len}");
                assert_eq!(storage.inner.len(), by_file.len());
                for (key, bytes) in &dag.nodes {
                    assert_eq!(
                        block_on(storage.inner.get(*key)).unwrap().as_ref(),
                        Some(bytes)
                    );
                }
                check_progress(
                    &reports,
                    len as u64,
                    Some(len as u64),
                    dag.nodes.len() as u64,
                );
            }
        }
    }
}

#[test]
fn store_stream_starts_a_parent_only_after_its_children_are_stored() {
    // Small chunks: a barrier every 7 leaves. Large ones: many puts in one tick between them.
    for (chunk_size, len, concurrent) in [(128, 30_000, 7), (1024, 200_000, 63)] {
        let input = data(len, 4);
        let opts = options(chunk_size);
        let storage = Slow::default();
        let store = StoreOptions {
            chunk: opts.clone(),
            ..Default::default()
        };
        let (root, _) = store_in_pieces(&storage, &input, 1000, &store).unwrap();
        assert_eq!(root, chunker::chunk_file(&input, &opts).unwrap().root);
        let log = storage.puts.borrow();
        let mut done = HashSet::new();
        let mut in_flight = 0usize;
        let mut most_in_flight = 0;
        for (event, key) in log.iter() {
            if *event == "done" {
                done.insert(*key);
                in_flight -= 1;
                continue;
            }
            in_flight += 1;
            most_in_flight = most_in_flight.max(in_flight);
            let bytes = block_on(storage.inner.get(*key)).unwrap().unwrap();
            for child in node::child_keys(&bytes).unwrap() {
                assert!(
                    done.contains(&child),
                    "{key} started before its child {child} was stored"
                );
            }
        }
        assert!(
            most_in_flight >= concurrent,
            "chunk {chunk_size}: {most_in_flight} puts in one tick at most"
        );
    }
}

#[test]
fn store_stream_reports_errors() {
    let opts = StoreOptions {
        chunk: options(128),
        ..Default::default()
    };
    // From the input.
    let storage = MemoryStorage::new();
    let items = stream::iter([Ok(Bytes::from(data(500, 1))), Err(Error::Closed)]);
    let result = block_on(chunker::store_stream(&storage, items, &opts, |_| {}));
    assert_eq!(result, Err(Error::Closed));
    // From a put.
    struct Refusing;
    impl StorageProvider for Refusing {
        async fn get(&self, _: Key) -> casweb::Result<Option<Bytes>> {
            Ok(None)
        }
        async fn put(&self, _: Key, _: Bytes) -> casweb::Result<()> {
            Err(Error::QuotaExceeded("full".into()))
        }
    }
    let items = stream::iter([Ok(Bytes::from(data(5000, 1)))]);
    let result = block_on(chunker::store_stream(&Refusing, items, &opts, |_| {}));
    assert_eq!(result, Err(Error::QuotaExceeded("full".into())));
    // Options.
    let bad = StoreOptions {
        chunk: options(100),
        ..Default::default()
    };
    let result = block_on(chunker::store_stream(
        &storage,
        stream::empty::<casweb::Result<Bytes>>(),
        &bad,
        |_| {},
    ));
    assert!(matches!(result, Err(Error::InvalidArgument(_))));
}

/// Every stored node's children are stored.
fn assert_closed(storage: &MemoryStorage, keys: &HashSet<Key>) {
    for key in keys {
        if let Some(bytes) = block_on(storage.get(*key)).unwrap() {
            for child in node::child_keys(&bytes).unwrap() {
                assert!(
                    block_on(storage.get(child)).unwrap().is_some(),
                    "{key} is stored but its child {child} is not"
                );
            }
        }
    }
}

#[test]
fn dropping_a_store_at_any_poll_leaves_the_storage_consistent() {
    let input = data(3000, 5);
    let opts = options(128);
    let dag = chunker::chunk_file(&input, &opts).unwrap();
    let keys: HashSet<Key> = dag.nodes.iter().map(|(k, _)| *k).collect();
    let store = StoreOptions {
        chunk: opts,
        total_bytes: None,
        window: Window {
            nodes: 3,
            bytes: 1 << 20,
        },
    };
    let mut context = Context::from_waker(futures::task::noop_waker_ref());
    let mut completed = false;
    for polls in 0.. {
        let storage = Slow::default();
        {
            let items = stream::iter(input.chunks(250).map(|c| Ok(Bytes::copy_from_slice(c))));
            let mut future = pin!(chunker::store_stream(&storage, items, &store, |_| {}));
            for _ in 0..polls {
                if let Poll::Ready(root) = future.as_mut().poll(&mut context) {
                    assert_eq!(root.unwrap(), dag.root);
                    completed = true;
                    break;
                }
                storage.advance();
            }
        } // dropped here, puts in flight with it
        assert_closed(&storage.inner, &keys);
        // A fresh store of the same data completes over whatever the dropped one left.
        let items = stream::iter([Ok(Bytes::from(input.clone()))]);
        let root = drive(
            &storage,
            chunker::store_stream(&storage, items, &store, |_| {}),
        );
        let root = root.unwrap();
        assert_eq!(root, dag.root);
        assert_eq!(
            block_on(chunker::read_file(&storage.inner, root))
                .unwrap()
                .data,
            input
        );
        if completed {
            assert!(polls > 10, "the store finished in {polls} polls");
            break;
        }
    }
}

/// A storage whose puts never complete.
struct Stuck;

impl StorageProvider for Stuck {
    async fn get(&self, _: Key) -> casweb::Result<Option<Bytes>> {
        Ok(None)
    }
    async fn put(&self, _: Key, _: Bytes) -> casweb::Result<()> {
        futures::future::pending().await
    }
}

#[test]
fn a_stuck_storage_stops_the_input() {
    for (window, most) in [
        (
            Window {
                nodes: 4,
                bytes: 1 << 20,
            },
            4 * 112 / 50 + 3,
        ),
        (
            Window {
                nodes: 1000,
                bytes: 1000,
            },
            1000 / 50 + 5,
        ),
        (Window::STORE, 256 * 112 / 50 + 3),
    ] {
        let polled = Cell::new(0usize);
        let items = stream::poll_fn(|_| {
            polled.set(polled.get() + 1);
            Poll::Ready(Some(Ok(Bytes::from(vec![1u8; 50]))))
        });
        let store = StoreOptions {
            chunk: options(128),
            total_bytes: None,
            window,
        };
        let mut future = pin!(chunker::store_stream(&Stuck, items, &store, |_| {}));
        let mut context = Context::from_waker(futures::task::noop_waker_ref());
        for _ in 0..2000 {
            assert!(future.as_mut().poll(&mut context).is_pending());
        }
        let taken = polled.get();
        assert!(
            taken <= most,
            "{window:?}: the input was polled {taken} times"
        );
        for _ in 0..2000 {
            assert!(future.as_mut().poll(&mut context).is_pending());
        }
        assert_eq!(polled.get(), taken, "polling again took more input");
    }
}

/// Counts the gets a storage serves.
struct Counting<S> {
    inner: S,
    gets: Cell<usize>,
}

impl<S> Counting<S> {
    fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            gets: Cell::new(0),
        }
    }
}

impl<S: StorageProvider> StorageProvider for Counting<S> {
    async fn get(&self, key: Key) -> casweb::Result<Option<Bytes>> {
        self.gets.set(self.gets.get() + 1);
        self.inner.get(key).await
    }
    async fn put(&self, key: Key, bytes: Bytes) -> casweb::Result<()> {
        self.inner.put(key, bytes).await
    }
}

/// Reads a range: the items of the stream, stopping after the first error.
fn read_items(
    storage: impl StorageProvider,
    root: Key,
    offset: u64,
    length: Option<u64>,
    window: Window,
) -> (Vec<Bytes>, Option<Error>) {
    let options = ReadOptions {
        offset,
        length,
        window,
    };
    let mut stream = pin!(chunker::read_stream(storage, root, options, |_| {}));
    let mut chunks = Vec::new();
    while let Some(item) = block_on(stream.next()) {
        match item {
            Ok(bytes) => chunks.push(bytes),
            Err(error) => {
                assert!(
                    block_on(stream.next()).is_none(),
                    "the stream ends after an error"
                );
                return (chunks, Some(error));
            }
        }
    }
    (chunks, None)
}

fn read_range(
    storage: impl StorageProvider,
    root: Key,
    offset: u64,
    length: Option<u64>,
) -> casweb::Result<Vec<u8>> {
    match read_items(storage, root, offset, length, Window::READ) {
        (chunks, None) => Ok(chunks.concat()),
        (_, Some(error)) => Err(error),
    }
}

/// The first item of the stream is this error: nothing was emitted before it.
fn assert_refused(
    storage: impl StorageProvider,
    root: Key,
    offset: u64,
    length: Option<u64>,
) -> Error {
    let (chunks, error) = read_items(storage, root, offset, length, Window::READ);
    assert!(
        chunks.is_empty(),
        "{} bytes emitted before the error",
        chunks.concat().len()
    );
    error.expect("the read fails")
}

/// Offsets and lengths at every boundary of a file of `len` bytes in `chunk_size` chunks.
fn boundary_ranges(len: u64, chunk_size: usize) -> Vec<(u64, Option<u64>)> {
    let s = shape(chunk_size);
    let leaf = s.leaf as u64;
    let mut points = vec![0, 1, len.saturating_sub(1), len];
    for unit in [
        leaf,
        leaf * s.inner_fanout as u64,
        leaf * (s.inner_fanout as u64).pow(2),
    ] {
        for k in [1, 2, len / unit / 2, len / unit] {
            let at = k * unit;
            points.extend([at.saturating_sub(1), at, at + 1]);
        }
    }
    points.retain(|&p| p <= len);
    points.sort_unstable();
    points.dedup();
    let lengths = [
        Some(0),
        Some(1),
        Some(leaf - 1),
        Some(leaf),
        Some(leaf + 1),
        Some(2 * leaf + 1),
        Some(len),
        None,
    ];
    points
        .iter()
        .flat_map(|&offset| lengths.iter().map(move |&length| (offset, length)))
        .collect()
}

#[test]
fn ranges_at_every_boundary_equal_the_slice() {
    for chunk_size in [128usize, 256] {
        let s = shape(chunk_size);
        let opts = options(chunk_size);
        // One node; two levels; three; four or five.
        let lengths = [
            0,
            1,
            s.inline,
            s.inline + 1,
            2 * s.leaf + 5,
            3 * s.leaf + 7,
            50 * s.leaf + 3,
            200 * s.leaf + 1,
        ];
        for len in lengths {
            let input = data(len, 11);
            let dag = chunker::chunk_file(&input, &opts).unwrap();
            let storage = MemoryStorage::new();
            store_dag(&storage, &dag);
            for (offset, length) in boundary_ranges(len as u64, chunk_size) {
                let start = offset as usize;
                let end = length.map_or(len, |l| len.min(start + l as usize));
                let read = read_range(&storage, dag.root, offset, length);
                assert_eq!(
                    read.as_deref(),
                    Ok(&input[start..end]),
                    "chunk {chunk_size}, len {len}, range {offset}+{length:?}"
                );
            }
            // The whole file through the layout fetches each node it reads once.
            let counting = Counting::new(&storage);
            assert_eq!(read_range(&counting, dag.root, 0, None).unwrap(), input);
            assert!(
                counting.gets.get() <= dag.nodes.len(),
                "chunk {chunk_size}, len {len}: {} gets",
                counting.gets.get()
            );
        }
    }
}

#[test]
fn random_ranges_with_any_window() {
    let mut rng = Rng(99);
    let input = data(40_000, 12);
    let dag = chunker::chunk_file(&input, &options(144)).unwrap();
    let storage = MemoryStorage::new();
    store_dag(&storage, &dag);
    for _ in 0..300 {
        let offset = rng.below(input.len() as u64 + 1);
        let length = rng.below(3000);
        let window = Window {
            nodes: 1 + rng.below(40) as usize,
            bytes: rng.below(8000),
        };
        let (chunks, error) = read_items(&storage, dag.root, offset, Some(length), window);
        assert_eq!(error, None);
        let end = input.len().min((offset + length) as usize);
        assert!(
            chunks.concat() == input[offset as usize..end],
            "{offset}+{length}, {window:?}"
        );
    }
}

#[test]
fn a_leaf_sized_range_fetches_only_its_path() {
    // 18 leaves of 112 bytes under 3 inner nodes: root, inner, leaf = depth 3.
    let input = data(2000, 13);
    let dag = chunker::chunk_file(&input, &options(128)).unwrap();
    assert_eq!(dag.levels().count(), 3);
    let storage = MemoryStorage::new();
    store_dag(&storage, &dag);
    for offset in 0..=(input.len() - 112) as u64 {
        let counting = Counting::new(&storage);
        let read = read_range(&counting, dag.root, offset, Some(112)).unwrap();
        assert!(read == input[offset as usize..offset as usize + 112]);
        assert!(
            counting.gets.get() <= 3 + 2,
            "{offset}: {} gets",
            counting.gets.get()
        );
    }
    // Five levels: two leaves, two paths at most.
    let input = data(20_000, 14);
    let dag = chunker::chunk_file(&input, &options(128)).unwrap();
    let depth = dag.levels().count();
    assert_eq!(depth, 5);
    let storage = MemoryStorage::new();
    store_dag(&storage, &dag);
    for offset in (0..=(input.len() - 112) as u64).step_by(37) {
        let counting = Counting::new(&storage);
        read_range(&counting, dag.root, offset, Some(112)).unwrap();
        assert!(
            counting.gets.get() < 2 * depth,
            "{offset}: {} gets",
            counting.gets.get()
        );
    }
}

#[test]
fn odd_chunk_sizes_are_recognised_too() {
    // 1000 is no size flag bound: the hint is wrong, the first leaf gives the capacity.
    let input = data(200_000, 15);
    let dag = chunker::chunk_file(&input, &options(1000)).unwrap();
    let storage = MemoryStorage::new();
    store_dag(&storage, &dag);
    let counting = Counting::new(&storage);
    let read = read_range(&counting, dag.root, 100_000, Some(984)).unwrap();
    assert!(read == input[100_000..100_984]);
    assert!(counting.gets.get() <= 8, "{} gets", counting.gets.get());
}

#[test]
fn reads_prefetch_concurrently_within_the_window() {
    let input = data(60_000, 16);
    let dag = chunker::chunk_file(&input, &options(256)).unwrap();
    for window in [
        Window::READ,
        Window {
            nodes: 5,
            bytes: 1 << 20,
        },
        Window {
            nodes: 64,
            bytes: 2048,
        },
    ] {
        let storage = Slow::default();
        store_dag(&storage.inner, &dag);
        let options = ReadOptions {
            window,
            ..Default::default()
        };
        let stream = chunker::read_stream(&storage, dag.root, options, |_| {});
        let read: casweb::Result<Vec<Bytes>> = drive(&storage, stream.collect::<Vec<_>>())
            .into_iter()
            .collect();
        assert!(read.unwrap().concat() == input);
        let most = storage.max_gets_outstanding.get();
        let by_bytes = (window.bytes / 256) as usize;
        assert!(most >= 2, "{window:?}: gets were not concurrent");
        assert!(
            most <= window.nodes.min(by_bytes.max(1)).max(2),
            "{window:?}: {most} gets at once"
        );
    }
}

#[test]
fn read_progress_is_monotonic_and_ends_at_the_range() {
    let input = data(10_000, 17);
    let dag = chunker::chunk_file(&input, &options(256)).unwrap();
    let storage = Counting::new(MemoryStorage::new());
    store_dag(&storage.inner, &dag);
    for (offset, length) in [(0, None), (1000, Some(3000)), (10_000, None), (5, Some(0))] {
        let reports = RefCell::new(Vec::new());
        let options = ReadOptions {
            offset,
            length,
            ..Default::default()
        };
        storage.gets.set(0);
        let stream = chunker::read_stream(&storage, dag.root, options, |p| {
            reports.borrow_mut().push(p)
        });
        let read: Vec<u8> = block_on(stream.map(|item| item.unwrap().to_vec()).concat());
        let len = read.len() as u64;
        assert_eq!(len, length.unwrap_or(u64::MAX).min(10_000 - offset));
        check_progress(&reports.borrow(), len, Some(len), storage.gets.get() as u64);
    }
}

#[test]
fn offsets_past_the_end_are_invalid() {
    let storage = MemoryStorage::new();
    for len in [10usize, 5000] {
        let input = data(len, 18);
        let root = block_on(chunker::store_file(&storage, &input, &options(128))).unwrap();
        assert_eq!(read_range(&storage, root, len as u64, None), Ok(vec![]));
        assert_eq!(read_range(&storage, root, len as u64, Some(5)), Ok(vec![]));
        let error = assert_refused(&storage, root, len as u64 + 1, None);
        assert!(matches!(error, Error::InvalidArgument(_)), "{error:?}");
    }
}

#[test]
fn streams_can_own_their_storage() {
    fn is_static<T: 'static>(_: &T) {}
    let storage = Rc::new(MemoryStorage::new());
    let input = data(3000, 19);
    let root = block_on(chunker::store_file(&*storage, &input, &options(128))).unwrap();
    let stream = chunker::read_stream(storage.clone(), root, ReadOptions::default(), |_| {});
    is_static(&stream);
    drop(storage);
    let read: Vec<u8> = block_on(stream.map(|item| item.unwrap().to_vec()).concat());
    assert_eq!(read, input);
}

#[test]
fn dags_without_the_layout_read_like_read_file() {
    // CASFA-style: data in inner nodes, a node shared; content "abcdefgefh".
    let storage = MemoryStorage::new();
    let (root, content) = casfa_file(&storage);
    for offset in 0..=10u64 {
        for length in 0..=11u64 {
            let end = 10.min(offset + length) as usize;
            let read = read_range(&storage, root, offset, Some(length)).unwrap();
            assert_eq!(read, &content[offset as usize..end], "{offset}+{length}");
        }
    }
    // Uneven leaves whose FileInfo adds up: a DAG `read_file` reads, so the stream does too.
    let leaves: Vec<Vec<u8>> = [112, 100, 112, 50]
        .iter()
        .map(|&n| data(n, n as u8))
        .collect();
    let root = layout_like(&storage, &leaves, 128, None);
    let file = block_on(chunker::read_file(&storage, root)).unwrap();
    assert_eq!(read_range(&storage, root, 0, None).unwrap(), file.data);
    // Shared subtrees: 2^10 paths to one byte.
    let root = doubling_dag(&storage, 10, b"x", 1024);
    for (offset, length) in [(0, None), (1, Some(1)), (500, Some(300)), (1023, None)] {
        let expected = 1024 - offset as usize;
        let read = read_range(&storage, root, offset, length).unwrap();
        assert_eq!(read, vec![b'x'; length.map_or(expected, |l| l as usize)]);
    }
}

/// A DAG grouped like the chunker's layout for `chunk_size` over the given leaves (of any
/// length), with the FileInfo's size `declared` (default: the leaves' total).
fn layout_like(
    storage: &impl StorageProvider,
    leaves: &[Vec<u8>],
    chunk_size: usize,
    declared: Option<u64>,
) -> Key {
    let s = shape(chunk_size);
    let mut level: Vec<Key> = leaves
        .iter()
        .map(|leaf| put(storage, node::encode_successor(&[], leaf, 0).unwrap()))
        .collect();
    while level.len() > s.root_fanout {
        level = level
            .chunks(s.inner_fanout)
            .map(|group| put(storage, node::encode_successor(group, &[], 0).unwrap()))
            .collect();
    }
    let size = leaves.iter().map(|l| l.len() as u64).sum();
    let info = FileInfo {
        size: declared.unwrap_or(size),
        content_type: String::new(),
    };
    put(storage, node::encode_file(&level, &info, &[], 0).unwrap())
}

fn is_corrupt(error: &Error) -> bool {
    matches!(error, Error::CorruptDag(_))
}

#[test]
fn a_file_info_size_that_lies_is_refused_before_any_byte() {
    let storage = MemoryStorage::new();
    for (declared, actual) in [(5u64, 4usize), (3, 4), (0, 1), (1, 0), (u64::MAX, 4)] {
        let info = FileInfo {
            size: declared,
            content_type: String::new(),
        };
        let root = put(
            &storage,
            node::encode_file(&[], &info, &b"data"[..actual], 0).unwrap(),
        );
        assert!(
            is_corrupt(&assert_refused(&storage, root, 0, None)),
            "{declared}"
        );
        let leaf = put(
            &storage,
            node::encode_successor(&[], &b"data"[..actual], 0).unwrap(),
        );
        let root = put(
            &storage,
            node::encode_file(&[leaf, leaf], &info, b"", 0).unwrap(),
        );
        if declared != 2 * actual as u64 {
            assert!(
                is_corrupt(&assert_refused(&storage, root, 0, None)),
                "{declared}"
            );
        }
    }
    // A DAG in the layout, its size off by a byte or a leaf either way.
    let leaves: Vec<Vec<u8>> = data(2000, 20).chunks(112).map(<[u8]>::to_vec).collect();
    for declared in [1999, 2001, 2000 - 112, 2000 + 112, 1] {
        let root = layout_like(&storage, &leaves, 128, Some(declared));
        assert!(block_on(chunker::read_file(&storage, root)).is_err());
        assert!(
            is_corrupt(&assert_refused(&storage, root, 0, None)),
            "{declared}"
        );
        let tail = declared.saturating_sub(10);
        assert!(
            is_corrupt(&assert_refused(&storage, root, tail, None)),
            "{declared}"
        );
    }
}

#[test]
fn wrong_kinds_are_refused_before_any_byte() {
    let storage = MemoryStorage::new();
    let leaf = put(&storage, node::encode_successor(&[], b"data", 0).unwrap());
    let set = put(&storage, node::encode_set(&[leaf]).unwrap());
    let dict = put(&storage, node::encode_dict(&[("a", leaf)]).unwrap());
    for root in [leaf, set, dict] {
        assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
    }
    let info = FileInfo {
        size: 4,
        content_type: String::new(),
    };
    let inner_file = put(&storage, node::encode_file(&[], &info, b"data", 0).unwrap());
    for child in [inner_file, set] {
        let root = put(
            &storage,
            node::encode_file(&[child], &info, b"", 0).unwrap(),
        );
        assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
    }
    // A set in place of the first inner node of a layout DAG.
    let input = data(2000, 21);
    let dag = chunker::chunk_file(&input, &options(128)).unwrap();
    store_dag(&storage, &dag);
    let root_view = node::decode(&dag.nodes.last().unwrap().1).unwrap();
    let mut top: Vec<Key> = root_view.children().collect();
    let first = block_on(storage.get(top[0])).unwrap().unwrap();
    top[0] = put(
        &storage,
        node::encode_set(&node::child_keys(&first).unwrap()).unwrap(),
    );
    let info = root_view.file_info().unwrap();
    let root = put(&storage, node::encode_file(&top, &info, b"", 0).unwrap());
    assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
}

#[test]
fn a_leaf_of_the_wrong_length_is_refused() {
    let storage = MemoryStorage::new();
    let input = data(2000, 22);
    let leaves: Vec<Vec<u8>> = input.chunks(112).map(<[u8]>::to_vec).collect();
    let count = leaves.len();
    for (target, len) in [
        (0, 100),
        (0, 113),
        (count - 1, 95),
        (count - 1, 97),
        (8, 111),
    ] {
        let mut changed = leaves.clone();
        changed[target] = data(len, 23);
        // The FileInfo keeps the size the layout had: the lengths no longer add up.
        let root = layout_like(&storage, &changed, 128, Some(2000));
        assert!(block_on(chunker::read_file(&storage, root)).is_err());
        let at = (target * 112) as u64;
        assert!(
            is_corrupt(&assert_refused(&storage, root, at, None)),
            "leaf {target}"
        );
        if target == 0 || target == count - 1 {
            // At either end of the range: refused before the first byte.
            assert!(
                is_corrupt(&assert_refused(&storage, root, 0, None)),
                "leaf {target}"
            );
        } else {
            // Inside a long range: refused when reached, after the bytes before it.
            let (chunks, error) = read_items(&storage, root, 0, None, Window::READ);
            assert!(is_corrupt(&error.unwrap()));
            assert!(chunks.concat() == input[..target * 112]);
        }
    }
}

#[test]
fn shared_subtrees_are_refused_quickly() {
    let storage = MemoryStorage::new();
    let root = doubling_dag(&storage, 10, b"", 0);
    assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
    let root = doubling_dag(&storage, 40, b"", 100);
    let counting = Counting::new(&storage);
    assert!(is_corrupt(&assert_refused(&counting, root, 0, None)));
    assert!(counting.gets.get() < 100, "{} gets", counting.gets.get());
    // A legitimate 1 TiB file of 42 nodes: a range of it costs its paths, not its length.
    let root = doubling_dag(&storage, 40, b"x", 1 << 40);
    let counting = Counting::new(&storage);
    let read = read_range(&counting, root, 1 << 39, Some(10));
    assert_eq!(read, Ok(vec![b'x'; 10]));
    assert!(counting.gets.get() < 200, "{} gets", counting.gets.get());
    // An empty file naming an empty leaf a thousand times, read whole or not at all.
    let empty = put(&storage, node::encode_successor(&[], b"", 0).unwrap());
    let info = FileInfo {
        size: 0,
        content_type: String::new(),
    };
    let root = put(
        &storage,
        node::encode_file(&vec![empty; 1000], &info, b"", 0).unwrap(),
    );
    assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
    assert!(is_corrupt(&assert_refused(&storage, root, 0, Some(0))));
    let info = FileInfo { size: 10, ..info };
    let root = put(
        &storage,
        node::encode_file(&vec![empty; 1000], &info, b"", 0).unwrap(),
    );
    assert!(is_corrupt(&assert_refused(&storage, root, 0, None)));
}

#[test]
fn tampered_and_missing_nodes() {
    let input = data(2000, 24);
    let dag = chunker::chunk_file(&input, &options(128)).unwrap();
    let leaves: Vec<Key> = dag
        .levels()
        .next()
        .unwrap()
        .iter()
        .map(|(k, _)| *k)
        .collect();
    for (target, at, emitted) in [
        (dag.root, 0, 0),
        (leaves[0], 0, 0),
        (leaves[17], 0, 0),
        (leaves[9], 9 * 112, 0),
        (leaves[9], 0, 9 * 112),
    ] {
        let storage = LenientStorage::default();
        store_dag(&storage, &dag);
        let mut tampered = storage.0.borrow()[&target].to_vec();
        *tampered.last_mut().unwrap() ^= 0x80;
        storage.0.borrow_mut().insert(target, Bytes::from(tampered));
        let (chunks, error) = read_items(&storage, dag.root, at, None, Window::READ);
        assert_eq!(error, Some(Error::HashMismatch { key: target }));
        assert!(chunks.concat() == input[at as usize..at as usize + emitted]);

        storage.0.borrow_mut().remove(&target);
        let (chunks, error) = read_items(&storage, dag.root, at, None, Window::READ);
        assert_eq!(error, Some(Error::NotFound { key: target }));
        assert!(chunks.concat() == input[at as usize..at as usize + emitted]);
    }
    let storage = MemoryStorage::new();
    let garbage = put(&storage, b"not a node at all".to_vec());
    assert!(matches!(
        assert_refused(&storage, garbage, 0, None),
        Error::InvalidNode(_)
    ));
}

#[test]
fn content_types_and_kinds_round_trip_through_the_stream() {
    let storage = Slow::default();
    let input = data(5000, 25);
    let opts = StoreOptions {
        chunk: ChunkOptions {
            chunk_size: 256,
            content_type: "video/mp4".into(),
        },
        ..Default::default()
    };
    let (root, _) = store_in_pieces(&storage, &input, 77, &opts).unwrap();
    let file = block_on(chunker::read_file(&storage.inner, root)).unwrap();
    assert_eq!(
        (file.content_type.as_str(), file.data.as_slice()),
        ("video/mp4", &input[..])
    );
    let root_bytes = block_on(storage.inner.get(root)).unwrap().unwrap();
    assert_eq!(node::decode(&root_bytes).unwrap().kind(), NodeKind::File);
}
