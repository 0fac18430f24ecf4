//! How the range reader knows where every byte of a file is: the content length of each subtree
//! it may skip, and what each node it fetches must look like before its bytes are used.
//!
//! - [`Shape::Layout`]: the DAG has the chunker's layout for some leaf capacity `C`. The root's
//!   FileInfo gives the size, every subtree but the last child of a node is full (a full subtree
//!   of height `h` holds `C * F^h` bytes, `F = C / 16`), so lengths are arithmetic and a range
//!   needs only the nodes covering it. Each fetched node must match the layout exactly: a leaf
//!   holds exactly its expected length, an inner node has no data and exactly the expected number
//!   of children.
//! - [`Shape::Measured`]: any other DAG (data in inner nodes, uneven leaves, shared subtrees) is
//!   measured first, every distinct node fetched once, and the length of each subtree memoized.
//!
//! [`choose`] picks the shape before any byte is emitted. `C` is not recorded anywhere, so it is
//! learned: the hint is the size flag of the first child of the first node with more than one
//! child (a full leaf or inner node of `N = C + 16` bytes, which the flag gives exactly for every
//! power-of-two chunk size); if the layout for that `C` does not fit, the first leaf (reached by
//! first children) gives it. The layout is then checked along the paths to the range's first
//! and last bytes: a full leaf on them pins `C`, and a range that reaches the end checks the
//! FileInfo's size against the last leaf. Only if no layout fits those nodes is the DAG measured.
//!
//! In layout mode the nodes outside the range are not fetched: their lengths are the layout's.
//! A DAG the chunker made always matches; a hand-made DAG that matches the layout on every node
//! a range fetches but departs from it elsewhere (uneven leaves away from the range) gets that
//! range read at the layout's positions, which can differ from [`read_file`](super::read_file)'s
//! reading of the same bytes. A read of the whole file fetches every node and fails instead.

use bytes::Bytes;
use futures::future::try_join_all;

use super::layout::Layout;
use super::measure::{measure, Subtree};
use super::verify::{check_successor, fetch_verified, root_info};
use crate::error::{Error, Result};
use crate::key::{Key, KeyMap};
use crate::node::{self, NodeView};
use crate::storage::StorageProvider;

/// How many nodes the measure of a DAG without the layout fetches at once.
const MEASURE_CONCURRENCY: usize = 16;

/// How the reader knows subtree lengths.
pub(super) enum Shape {
    Layout(Layout),
    Measured(KeyMap<Subtree>),
}

/// A node's place in the file, as the reader expects it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Place {
    pub key: Key,
    /// Content length of the node's subtree.
    pub len: u64,
    /// Layout: the node's height (0 = leaf). Measured: unused.
    pub height: u32,
    pub is_root: bool,
}

/// Why a node was refused.
pub(super) enum Refusal {
    /// Wrong under any reading (not a successor, not a valid node): the read fails.
    Corrupt(Error),
    /// Not what the layout expects here: while choosing, another shape is tried; once bytes
    /// were emitted, the read fails with `corrupt_dag`.
    Departs(String),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Error {
        match refusal {
            Refusal::Corrupt(error) => error,
            Refusal::Departs(message) => Error::CorruptDag(message),
        }
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Refusal {
        Refusal::Corrupt(error)
    }
}

/// A child of a node and the part of its content a range needs: `skip..skip + take`.
pub(super) struct Part {
    pub place: Place,
    pub skip: u64,
    pub take: u64,
}

impl Shape {
    /// The root's place in a file of `size` bytes.
    pub fn root(&self, root: Key, size: u64) -> Place {
        let height = match self {
            Shape::Layout(layout) => layout.tree(size).map_or(0, |tree| tree.height + 1),
            Shape::Measured(_) => 0,
        };
        Place {
            key: root,
            len: size,
            height,
            is_root: true,
        }
    }

    /// True if the node at `place` has no children.
    pub fn is_leaf(&self, place: &Place) -> bool {
        match self {
            Shape::Layout(_) => place.height == 0,
            Shape::Measured(subtrees) => !subtrees[&place.key].has_children,
        }
    }

    /// Checks that `view`, the verified bytes of the node at `place` in the file under `file`,
    /// is what the shape expects there.
    pub fn check(&self, file: Key, place: &Place, view: &NodeView<'_>) -> Result<(), Refusal> {
        if place.is_root {
            root_info(file, view)?;
        } else {
            check_successor(file, place.key, view)?;
        }
        let key = place.key;
        let data = view.data().len() as u64;
        let children = view.child_count() as u64;
        let layout = match self {
            Shape::Layout(layout) => layout,
            Shape::Measured(subtrees) => {
                // The measure read these same bytes (the key says so), so this holds unless
                // BLAKE3 collides; checked anyway, as cheaply as the slices it protects.
                let len = view.children().fold(data, |len, child| {
                    len.saturating_add(subtrees.get(&child).map_or(u64::MAX, |s| s.len))
                });
                if len != place.len {
                    return Err(Refusal::Departs(format!(
                        "{key} in file {file} holds {len} bytes where it measured {}",
                        place.len
                    )));
                }
                return Ok(());
            }
        };
        if place.height == 0 {
            if children != 0 || data != place.len {
                return Err(Refusal::Departs(format!(
                    "{key} in file {file} has {children} children and {data} bytes where the \
                     layout has a leaf of {} bytes",
                    place.len
                )));
            }
            return Ok(());
        }
        let expected = place.len.div_ceil(layout.full_len(place.height - 1));
        if data != 0 || children != expected {
            return Err(Refusal::Departs(format!(
                "{key} in file {file} has {children} children and {data} bytes where the layout \
                 has {expected} children and no data"
            )));
        }
        Ok(())
    }

    /// The children of a checked node whose content overlaps `skip..skip + take` of the node's
    /// content, in order, each with the part of its own content that is needed.
    pub fn parts(&self, place: &Place, view: &NodeView<'_>, skip: u64, take: u64) -> Vec<Part> {
        let end = skip + take;
        let mut parts = Vec::new();
        let mut add = |key: Key, start: u64, len: u64, height: u32| {
            let from = skip.max(start);
            let to = end.min(start.saturating_add(len));
            if from < to {
                parts.push(Part {
                    place: Place {
                        key,
                        len,
                        height,
                        is_root: false,
                    },
                    skip: from - start,
                    take: to - from,
                });
            }
        };
        match self {
            Shape::Layout(layout) => {
                // Every child but the last is full: go straight to the ones the range covers.
                let full = layout.full_len(place.height - 1);
                let count = view.child_count() as u64;
                let first = skip / full;
                let last = (end - 1) / full;
                for (index, key) in (first..=last).zip(view.children().skip(first as usize)) {
                    let start = index * full;
                    let len = if index + 1 == count {
                        place.len - start
                    } else {
                        full
                    };
                    add(key, start, len, place.height - 1);
                }
            }
            Shape::Measured(subtrees) => {
                let mut start = view.data().len() as u64;
                for key in view.children() {
                    if start >= end {
                        break;
                    }
                    let len = subtrees[&key].len;
                    add(key, start, len, 0);
                    start = start.saturating_add(len);
                }
            }
        }
        parts
    }
}

/// Chooses the shape of the file under `root` (verified bytes `root_bytes`, a file node with
/// children declaring `size` bytes) for reading `start..end` (not empty). Nodes fetched on the
/// way are left in `fetched` for the read to use.
pub(super) async fn choose<S: StorageProvider>(
    storage: &S,
    root: Key,
    root_bytes: &Bytes,
    size: u64,
    (start, end): (u64, u64),
    fetched: &mut KeyMap<Bytes>,
) -> Result<Shape> {
    let view = node::decode(root_bytes)?;
    fetched.insert(root, root_bytes.clone());
    // A multi-node root in the layout holds no data.
    if view.data().is_empty() {
        let children = view.child_count() as u64;
        let fits = |layout: &Layout| {
            layout
                .tree(size)
                .is_some_and(|tree| tree.children == children)
        };
        let targets = [start, end - 1];
        let hinted = leaf_capacity_hint(storage, root_bytes, size, fetched)
            .await?
            .and_then(Layout::for_leaf_capacity)
            .filter(fits);
        if let Some(layout) = hinted {
            if try_layout(storage, root, layout, size, targets, fetched).await? {
                return Ok(Shape::Layout(layout));
            }
        }
        let learned = first_leaf_capacity(storage, root_bytes, size, fetched)
            .await?
            .and_then(Layout::for_leaf_capacity)
            .filter(|layout| fits(layout) && Some(*layout) != hinted);
        if let Some(layout) = learned {
            if try_layout(storage, root, layout, size, targets, fetched).await? {
                return Ok(Shape::Layout(layout));
            }
        }
    }
    let subtrees = measure(
        storage,
        root,
        root_bytes,
        size,
        MEASURE_CONCURRENCY,
        |_, _| {},
    )
    .await?;
    Ok(Shape::Measured(subtrees))
}

/// Walks from the root to the leaves holding each of `targets` (content offsets), fetching the
/// nodes on the way a level at a time, and checks each against `layout`. True if they all match;
/// false if one departs from it; an error if a node is missing, tampered with or corrupt.
async fn try_layout<S: StorageProvider>(
    storage: &S,
    root: Key,
    layout: Layout,
    size: u64,
    targets: [u64; 2],
    fetched: &mut KeyMap<Bytes>,
) -> Result<bool> {
    let shape = Shape::Layout(layout);
    let mut walks: Vec<(Place, u64)> = targets
        .iter()
        .map(|&target| (shape.root(root, size), target))
        .collect();
    while !walks.is_empty() {
        fetch_missing(storage, walks.iter().map(|(place, _)| place.key), fetched).await?;
        let mut next = Vec::with_capacity(walks.len());
        for (place, target) in walks {
            let view = node::decode(&fetched[&place.key])?;
            match shape.check(root, &place, &view) {
                Ok(()) => {}
                Err(Refusal::Departs(_)) => return Ok(false),
                Err(Refusal::Corrupt(error)) => return Err(error),
            }
            if place.height > 0 {
                let part = shape.parts(&place, &view, target, 1).pop();
                let part = part.expect("a checked node covers its whole length");
                next.push((part.place, part.skip));
            }
        }
        walks = next;
    }
    Ok(true)
}

/// The leaf capacity the size flags suggest: that of the first child of the first node with
/// more than one child, a full subtree whose node (a full leaf, or an inner node of a full
/// fanout of keys) is `N = C + 16` bytes. The single-child nodes above it are on every path, so
/// fetching them costs a range nothing. `None` if there is no such node within any layout's
/// height for `size`.
///
/// Only a hint: [`try_layout`] checks every node against it, and a full leaf pins it.
async fn leaf_capacity_hint<S: StorageProvider>(
    storage: &S,
    root_bytes: &Bytes,
    size: u64,
    fetched: &mut KeyMap<Bytes>,
) -> Result<Option<u64>> {
    let Some(tallest) = Layout::smallest().tree(size) else {
        return Ok(None);
    };
    let mut bytes = root_bytes.clone();
    // From the root down to a leaf: `height + 2` nodes at most.
    for _ in 0..=tallest.height + 1 {
        let view = node::decode(&bytes)?;
        let (first, count) = (view.children().next(), view.child_count());
        match (first, count) {
            (Some(first), 1) => {
                fetch_missing(storage, [first], fetched).await?;
                bytes = fetched[&first].clone();
            }
            (Some(first), _) => {
                return Ok(first.max_node_len().checked_sub(node::HEADER_LEN as u64));
            }
            // A lone leaf below single children: in the layout, a file of one leaf directly
            // under the root, which any capacity from its length up describes; the smallest.
            (None, _) => return Ok(Some(size.max(Layout::smallest().leaf_capacity() as u64))),
        }
    }
    Ok(None)
}

/// The data length of the file's first leaf, reached by first children, if that leaf is not
/// also the last (then it is full, and its length is the layout's leaf capacity). `None` if the
/// path is deeper than any layout's tree for `size`.
async fn first_leaf_capacity<S: StorageProvider>(
    storage: &S,
    root_bytes: &Bytes,
    size: u64,
    fetched: &mut KeyMap<Bytes>,
) -> Result<Option<u64>> {
    // The smallest leaves make the tallest tree: no layout is deeper than this.
    let Some(tallest) = Layout::smallest().tree(size) else {
        return Ok(None);
    };
    let mut bytes = root_bytes.clone();
    let mut branched = false;
    for _ in 0..=tallest.height + 1 {
        let view = node::decode(&bytes)?;
        let Some(first) = view.children().next() else {
            return Ok(branched.then_some(view.data().len() as u64));
        };
        branched |= view.child_count() > 1;
        fetch_missing(storage, [first], fetched).await?;
        bytes = fetched[&first].clone();
    }
    Ok(None)
}

/// Fetches (verified, concurrently) those of `keys` that are not in `fetched` yet.
async fn fetch_missing<S: StorageProvider>(
    storage: &S,
    keys: impl IntoIterator<Item = Key>,
    fetched: &mut KeyMap<Bytes>,
) -> Result<()> {
    let mut missing: Vec<Key> = keys
        .into_iter()
        .filter(|key| !fetched.contains_key(key))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    let nodes = try_join_all(missing.iter().map(|&key| fetch_verified(storage, key))).await?;
    fetched.extend(missing.into_iter().zip(nodes));
    Ok(())
}
