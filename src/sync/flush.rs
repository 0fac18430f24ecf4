//! One sync pass over a snapshot of buffered nodes: levels children first, then per level one
//! check, claims for unowned nodes, uploads for missing ones, nothing for owned ones. Each
//! level's check after the first goes out while the level below it is claimed and uploaded.
//!
//! No timers, no persistence, no web APIs: the buffered engine decides when to call it and what
//! to do with the outcome, and native tests drive it with an in-memory server. Every node of
//! the snapshot ends in exactly one of `synced`, `skipped` or `failed`; the caller keeps failed
//! nodes pending, so nothing is lost whatever fails.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use futures::future::{join3, OptionFuture};
use futures::{stream, StreamExt};

use super::remote::{CheckResult, SyncRemote};
use super::topo::topo_sort_levels;
use crate::error::{Error, Result};
use crate::key::Key;

/// Where a key is in a sync pass, as reported to `onKeySync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// About to be claimed or uploaded.
    Uploading,
    /// Owned by the realm (claimed, uploaded, or already owned).
    Done,
    /// Failed this pass; stays pending.
    Error,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Uploading => "uploading",
            KeyStatus::Done => "done",
            KeyStatus::Error => "error",
        }
    }
}

/// The outcome of a sync pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncResult {
    /// Claimed or uploaded in this pass.
    pub synced: Vec<Key>,
    /// Already owned by the realm: nothing sent.
    pub skipped: Vec<Key>,
    /// Not synced, with the reason; these stay pending.
    pub failed: Vec<(Key, Error)>,
    /// Not attempted because a child of theirs was held back from this pass; still pending.
    pub deferred: Vec<Key>,
}

impl SyncResult {
    /// True when the pass looks like an outage: something was attempted, every attempt failed
    /// transiently (network, timeout, 5xx, 429, hooks) and nothing was synced or found owned.
    /// The engine then holds new nodes back too, with backoff, instead of starting a pass for
    /// each of them.
    pub fn looks_like_outage(&self) -> bool {
        !self.failed.is_empty()
            && self.synced.is_empty()
            && self.skipped.is_empty()
            && self.failed.iter().all(|(_, error)| error.is_transient())
    }

    /// Merges another pass's outcome into this one.
    pub fn absorb(&mut self, other: SyncResult) {
        self.synced.extend(other.synced);
        self.skipped.extend(other.skipped);
        self.failed.extend(other.failed);
        self.deferred.extend(other.deferred);
    }
}

/// Computes a node's child keys (the built-in codec, or the user's `getChildKeys`).
pub type ChildKeysFn<'a> = &'a dyn Fn(Key, &[u8]) -> Result<Vec<Key>>;
/// Observes per-key progress.
pub type KeyObserver<'a> = &'a dyn Fn(Key, KeyStatus, Option<&Error>);

/// Tracks one pass: the outcome so far and which keys have failed.
struct Pass<'a> {
    result: SyncResult,
    failed: HashMap<Key, Error>,
    observe: KeyObserver<'a>,
}

impl Pass<'_> {
    fn done(&mut self, key: Key, skipped: bool) {
        if skipped {
            self.result.skipped.push(key);
        } else {
            self.result.synced.push(key);
        }
        (self.observe)(key, KeyStatus::Done, None);
    }

    /// Records the outcome of sending `key`.
    fn sent(&mut self, key: Key, outcome: Result<()>) {
        match outcome {
            Ok(()) => self.done(key, false),
            Err(error) => self.fail(key, error),
        }
    }

    fn fail(&mut self, key: Key, error: Error) {
        (self.observe)(key, KeyStatus::Error, Some(&error));
        self.failed.insert(key, error.clone());
        self.result.failed.push((key, error));
    }
}

/// Called with the keys that became owned, as soon as the request that made them owned is
/// acknowledged (the engine frees their buffer space and drops them from its pending store,
/// in the background, while the pass goes on).
pub type OwnedReporter<'a> = &'a dyn Fn(Vec<Key>);

/// Syncs `nodes` to `remote`. A parent is never sent before every child of it that is in the
/// snapshot is owned: a node whose child failed fails too (`child_not_synced`, which is not an
/// attempt of its own), and so does every node above a level whose check failed. `held_back`
/// are nodes the caller keeps but left out of this pass (e.g. waiting for a retry): a node with
/// a held-back child (or a deferred one) is deferred, not sent and not failed.
pub async fn sync_nodes<R: SyncRemote>(
    remote: &R,
    nodes: &[(Key, Bytes)],
    held_back: &HashSet<Key>,
    child_keys: ChildKeysFn<'_>,
    observe: KeyObserver<'_>,
) -> SyncResult {
    sync_nodes_reporting(remote, nodes, held_back, child_keys, observe, &|_| {}).await
}

/// [`sync_nodes`], reporting to `owned_reporter` the keys each request made owned as soon as it
/// is acknowledged: the uploads of a level are sent one server batch after the other, each
/// reported at once, so the engine can take new puts while the rest of the level uploads.
pub async fn sync_nodes_reporting<R: SyncRemote>(
    remote: &R,
    nodes: &[(Key, Bytes)],
    held_back: &HashSet<Key>,
    child_keys: ChildKeysFn<'_>,
    observe: KeyObserver<'_>,
    owned_reporter: OwnedReporter<'_>,
) -> SyncResult {
    let mut pass = Pass {
        result: SyncResult::default(),
        failed: HashMap::new(),
        observe,
    };
    let bytes: HashMap<Key, Bytes> = nodes.iter().cloned().collect();
    let mut edges: Vec<(Key, Vec<Key>)> = Vec::with_capacity(bytes.len());
    let mut seen = HashSet::with_capacity(bytes.len());
    for (key, node) in nodes {
        if !seen.insert(*key) {
            continue;
        }
        match child_keys(*key, node) {
            Ok(children) => edges.push((*key, children)),
            Err(error) => pass.fail(*key, error),
        }
    }
    let sorted = topo_sort_levels(&edges);
    if !sorted.cyclic.is_empty() {
        let sample: Vec<Key> = sorted.cyclic.iter().take(8).copied().collect();
        for key in &sorted.cyclic {
            pass.fail(
                *key,
                Error::Cycle {
                    keys: sample.clone(),
                },
            );
        }
    }
    let children: HashMap<Key, Vec<Key>> = edges.into_iter().collect();
    let mut deferred: HashSet<Key> = HashSet::new();
    let waits_for_child = |key: &Key, deferred: &HashSet<Key>| {
        children[key]
            .iter()
            .any(|child| held_back.contains(child) || deferred.contains(child))
    };
    // The check of a level, sent while the level below it uploaded.
    let mut checked_ahead: Option<Result<CheckResult>> = None;

    for (index, level) in sorted.levels.iter().enumerate() {
        let ahead = checked_ahead.take();
        let mut ready = Vec::with_capacity(level.len());
        for key in level {
            if waits_for_child(key, &deferred) {
                deferred.insert(*key);
                pass.result.deferred.push(*key);
                continue;
            }
            let failed_child = children[key]
                .iter()
                .find_map(|child| pass.failed.get(child).map(|e| (*child, e.is_transient())));
            match failed_child {
                Some((child, transient)) => pass.fail(
                    *key,
                    Error::ChildNotSynced {
                        key: *key,
                        child,
                        transient,
                    },
                ),
                None => ready.push(*key),
            }
        }
        if ready.is_empty() {
            continue;
        }
        let check = match ahead {
            Some(check) => check,
            None => remote.check_many(&ready).await,
        };
        let check = match check {
            Ok(check) => check,
            Err(error) => {
                // Nothing of this level or above can be sent: all of it stays pending. This
                // level's nodes failed their own request; those above wait for a child.
                for key in &ready {
                    pass.fail(*key, error.clone());
                }
                for key in sorted.levels[index + 1..].iter().flatten() {
                    if pass.failed.contains_key(key) || deferred.contains(key) {
                        continue;
                    }
                    let child = children[key]
                        .iter()
                        .find(|child| pass.failed.contains_key(child) || deferred.contains(child))
                        .copied()
                        .unwrap_or(*key);
                    let transient = pass.failed.get(&child).is_none_or(Error::is_transient);
                    pass.fail(
                        *key,
                        Error::ChildNotSynced {
                            key: *key,
                            child,
                            transient,
                        },
                    );
                }
                break;
            }
        };
        let mut owned_now = Vec::new();
        let owned: HashSet<Key> = check.owned.into_iter().collect();
        let unowned: HashSet<Key> = check.unowned.into_iter().collect();
        let mut claims = Vec::new();
        let mut uploads = Vec::new();
        for key in ready {
            if owned.contains(&key) {
                pass.done(key, true);
                owned_now.push(key);
                continue;
            }
            (pass.observe)(key, KeyStatus::Uploading, None);
            let entry = (key, bytes[&key].clone());
            if unowned.contains(&key) {
                claims.push(entry);
            } else {
                uploads.push(entry);
            }
        }
        if !owned_now.is_empty() {
            owned_reporter(std::mem::take(&mut owned_now));
        }
        // The next level is checked while this one is claimed and uploaded: whether a node is
        // stored or owned does not depend on its children being sent first. Its nodes that
        // then fail (a child failed here) were checked for nothing, which costs no request.
        let next_level: Vec<Key> = sorted.levels.get(index + 1).map_or_else(Vec::new, |next| {
            next.iter()
                .filter(|key| !waits_for_child(key, &deferred))
                .copied()
                .collect()
        });
        let next_check: OptionFuture<_> = (!next_level.is_empty())
            .then(|| remote.check_many(&next_level))
            .into();
        let claim_call: OptionFuture<_> = (!claims.is_empty())
            .then(|| remote.claim_many(&claims))
            .into();
        let upload_calls = upload_in_batches(remote, &uploads, &mut pass, owned_reporter);
        let (claimed, (), next_checked) = join3(claim_call, upload_calls, next_check).await;
        checked_ahead = next_checked;

        // A claim the server refuses item by item (e.g. the node vanished meanwhile) is retried
        // as an upload: we hold the bytes.
        let mut reupload = Vec::new();
        for ((key, node), outcome) in claims.iter().zip(per_item(claimed, claims.len())) {
            match outcome {
                Err(Error::Rejected { .. }) => reupload.push((*key, node.clone())),
                Ok(()) => {
                    pass.sent(*key, Ok(()));
                    owned_now.push(*key);
                }
                outcome => pass.sent(*key, outcome),
            }
        }
        if !owned_now.is_empty() {
            owned_reporter(owned_now);
        }
        upload_in_batches(remote, &reupload, &mut pass, owned_reporter).await;
    }
    pass.result
}

/// Upload requests of one level in flight at once (a level's nodes do not depend on each
/// other). Chromium uploaded 40 MiB in 1,000-node `Blob` batches 1.3 times faster two at a time
/// than one after the other (BENCHMARKS.md, sync): the page and the server take turns otherwise.
pub const UPLOADS_IN_FLIGHT: usize = 2;

/// Uploads `nodes` (one level's) in server batches, [`UPLOADS_IN_FLIGHT`] requests at a time,
/// recording each node's outcome in `pass` and reporting what each request made owned as soon
/// as it is acknowledged. Once a request fails as a whole (network, timeout, status), the
/// batches not sent yet fail with its error unsent: they would most likely fail the same way,
/// each after its own wait.
async fn upload_in_batches<R: SyncRemote>(
    remote: &R,
    nodes: &[(Key, Bytes)],
    pass: &mut Pass<'_>,
    owned_reporter: OwnedReporter<'_>,
) {
    let lengths: Vec<usize> = nodes.iter().map(|(_, node)| node.len()).collect();
    let failed_request: RefCell<Option<Error>> = RefCell::new(None);
    let failed_request = &failed_request;
    let mut requests = stream::iter(remote.upload_batches(&lengths))
        .map(|range| async move {
            if let Some(error) = failed_request.borrow().clone() {
                return (range, Err(error));
            }
            let outcome = remote.put_many(&nodes[range.clone()]).await;
            if let Err(error) = &outcome {
                failed_request
                    .borrow_mut()
                    .get_or_insert_with(|| error.clone());
            }
            (range, outcome)
        })
        .buffered(UPLOADS_IN_FLIGHT);
    while let Some((range, outcome)) = requests.next().await {
        let batch = &nodes[range];
        let mut owned = Vec::with_capacity(batch.len());
        for ((key, _), outcome) in batch.iter().zip(per_item(Some(outcome), batch.len())) {
            if outcome.is_ok() {
                owned.push(*key);
            }
            pass.sent(*key, outcome);
        }
        if !owned.is_empty() {
            owned_reporter(owned);
        }
    }
}

/// Spreads a batch call's outcome over its items: a whole-request failure fails every item, a
/// short answer fails the items it left out.
fn per_item(outcome: Option<Result<Vec<Result<()>>>>, len: usize) -> Vec<Result<()>> {
    match outcome {
        None => Vec::new(),
        Some(Err(error)) => vec![Err(error); len],
        Some(Ok(mut items)) => {
            items.truncate(len);
            while items.len() < len {
                items.push(Err(Error::Network(
                    "the server answered fewer items than were sent".into(),
                )));
            }
            items
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        Key::for_bytes(&[n])
    }

    #[test]
    fn an_outage_is_a_pass_where_everything_failed_transiently() {
        let network = Error::Network("connection refused".into());
        let rejected = Error::Http {
            status: 400,
            code: "invalid_node".into(),
            message: String::new(),
        };
        let failed = |errors: &[Error]| SyncResult {
            failed: errors
                .iter()
                .enumerate()
                .map(|(i, e)| (key(i as u8), e.clone()))
                .collect(),
            ..SyncResult::default()
        };
        assert!(failed(&[network.clone(), Error::Hook("later".into())]).looks_like_outage());
        assert!(!failed(&[network.clone(), rejected.clone()]).looks_like_outage());
        assert!(!failed(&[rejected]).looks_like_outage());
        assert!(
            !SyncResult::default().looks_like_outage(),
            "nothing attempted"
        );
        let mut partly = failed(&[network]);
        partly.synced.push(key(9));
        assert!(
            !partly.looks_like_outage(),
            "the server answered for one node"
        );
    }
}
