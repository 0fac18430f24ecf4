//! The ownership rules, once for every backend: a realm owns every child of every node it
//! owns, so a node is accepted (put or claimed) only when the realm already owns its children or
//! accepted them earlier in the same request; a claim needs a proof of possession; a realm reads
//! only what it owns.
//!
//! Each function takes a whole request and asks the store in as few calls as the rule allows
//! (one `status` for a put batch, one `bytes` and one `status` for a claim batch), then writes
//! the accepted nodes in one durable `apply`. Nodes and ownership are never deleted, so what a
//! read showed stays true when the write lands, even with other requests (or replicas) in
//! between.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use casweb::protocol::get_answer::affordable;
use casweb::{node, pop, Key};

use super::{NodeStore, Rejection, Status, StoreError, Write};

/// A node that passed the pure checks (`validate::check_node`): its key, bytes and distinct
/// children.
#[derive(Debug, Clone)]
pub struct Upload {
    pub key: Key,
    pub bytes: Bytes,
    pub children: Vec<Key>,
}

/// What became of each item of a request, in order.
pub type Outcomes<T> = Vec<Result<T, Rejection>>;

/// What [`store_nodes`] did, in totals (for the metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub nodes: u64,
    pub bytes: u64,
}

/// Stores uploads for `realm`, in order: an upload is accepted if the realm owns each child or
/// accepted it earlier in this list. Per item: `Ok(true)` if the realm became its owner now,
/// `Ok(false)` if it already was (nothing written), or the refusal. Items refused by the pure
/// checks come in as `Err` and stay so.
pub async fn store_nodes(
    store: &dyn NodeStore,
    realm: &str,
    uploads: Vec<Result<Upload, Rejection>>,
) -> Result<(Outcomes<bool>, Stored), StoreError> {
    let mut asked: Vec<Key> = Vec::new();
    for upload in uploads.iter().flatten() {
        asked.push(upload.key);
        asked.extend(&upload.children);
    }
    let owned = owned_among(store, realm, asked).await?;
    let mut available: HashSet<Key> = HashSet::new();
    let mut writes = Vec::new();
    let mut outcomes: Outcomes<bool> = uploads
        .into_iter()
        .enumerate()
        .map(|(index, upload)| {
            let upload = upload?;
            if available.contains(&upload.key) || owned.contains(&upload.key) {
                available.insert(upload.key);
                return Ok(false);
            }
            let missing: Vec<Key> = upload
                .children
                .iter()
                .filter(|child| !available.contains(child) && !owned.contains(child))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Err(Rejection::MissingChildren(missing));
            }
            available.insert(upload.key);
            writes.push((index, upload));
            Ok(false)
        })
        .collect();
    let (indices, writes): (Vec<usize>, Vec<Write>) = writes
        .into_iter()
        .map(|(index, upload)| {
            let write = Write {
                realm: realm.to_owned(),
                key: upload.key,
                bytes: Some(upload.bytes),
            };
            (index, write)
        })
        .unzip();
    let sizes: Vec<u64> = writes
        .iter()
        .map(|w| w.bytes.as_ref().map_or(0, |b| b.len() as u64))
        .collect();
    let newly_owned = store.apply(writes).await?;
    let mut stored = Stored::default();
    for ((index, newly), size) in indices.into_iter().zip(newly_owned).zip(sizes) {
        if newly {
            stored.nodes += 1;
            stored.bytes += size;
        }
        outcomes[index] = Ok(newly);
    }
    Ok((outcomes, stored))
}

/// One claim: the key and the proof of possession the client sent.
#[derive(Debug, Clone)]
pub struct Claim {
    pub key: Key,
    pub proof: String,
}

/// Claims nodes for `realm` with proofs of possession keyed with `pop_key` (the request's own
/// token's, see `casweb::protocol::Credential::pop_key`), in order. Per item:
/// `Ok(true)` if the realm already owned the node, `Ok(false)` if it owns it now, or the refusal
/// (`NotFound`, `InvalidProof`, `MissingChildren`: a child neither owned nor claimed earlier in
/// this list). Returns also how many nodes became owned.
pub async fn claim_nodes(
    store: &dyn NodeStore,
    realm: &str,
    pop_key: &[u8; 32],
    claims: Vec<Result<Claim, Rejection>>,
) -> Result<(Outcomes<bool>, u64), StoreError> {
    let keys: Vec<Key> = claims.iter().flatten().map(|claim| claim.key).collect();
    let stored: HashMap<Key, Bytes> = keys
        .iter()
        .copied()
        .zip(store.bytes(&keys).await?)
        .filter_map(|(key, bytes)| Some((key, bytes?)))
        .collect();
    let mut children: HashMap<Key, Vec<Key>> = HashMap::with_capacity(stored.len());
    for (key, bytes) in &stored {
        let list = node::child_keys(bytes)
            .map_err(|e| StoreError::new(format!("stored node {key} does not decode: {e}")))?;
        children.insert(*key, list);
    }
    let mut asked = keys.clone();
    asked.extend(children.values().flatten());
    let owned = owned_among(store, realm, asked).await?;

    let mut owned_here: HashSet<Key> = HashSet::new();
    let mut writes = Vec::new();
    let mut outcomes: Outcomes<bool> = claims
        .into_iter()
        .enumerate()
        .map(|(index, claim)| {
            let Claim { key, proof } = claim?;
            let bytes = stored.get(&key).ok_or(Rejection::NotFound(key))?;
            if !pop::verify_with_key(pop_key, bytes, &proof) {
                return Err(Rejection::InvalidProof(key));
            }
            if owned_here.contains(&key) || owned.contains(&key) {
                owned_here.insert(key);
                return Ok(true);
            }
            let missing: Vec<Key> = children[&key]
                .iter()
                .filter(|child| !owned_here.contains(child) && !owned.contains(child))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Err(Rejection::MissingChildren(missing));
            }
            owned_here.insert(key);
            writes.push((index, key));
            Ok(false)
        })
        .collect();
    let batch = writes
        .iter()
        .map(|&(_, key)| Write {
            realm: realm.to_owned(),
            key,
            bytes: None,
        })
        .collect();
    let newly_owned = store.apply(batch).await?;
    let mut accepted = 0;
    for (&(index, _), newly) in writes.iter().zip(newly_owned) {
        accepted += u64::from(newly);
        outcomes[index] = Ok(!newly);
    }
    Ok((outcomes, accepted))
}

/// Reads nodes for `realm`: per key its bytes if the realm owns it, else `NotFound` (no realm
/// stored it) or `NotOwned`.
///
/// At most `max_bytes` are read: the answer covers the prefix of `keys` that
/// [`affordable`] allows (always at least one key); the caller asks again for the rest.
pub async fn read_nodes(
    store: &dyn NodeStore,
    realm: &str,
    keys: &[Key],
    max_bytes: u64,
) -> Result<Outcomes<Bytes>, StoreError> {
    let keys = &keys[..affordable(keys, max_bytes)];
    let status = store.status(realm, keys).await?;
    let owned: Vec<Key> = keys
        .iter()
        .zip(&status)
        .filter(|(_, status)| **status == Status::Owned)
        .map(|(key, _)| *key)
        .collect();
    let mut bytes = store.bytes(&owned).await?.into_iter();
    keys.iter()
        .zip(status)
        .map(|(key, status)| match status {
            Status::Missing => Ok(Err(Rejection::NotFound(*key))),
            Status::Unowned => Ok(Err(Rejection::NotOwned(*key))),
            Status::Owned => match bytes.next().flatten() {
                Some(bytes) => Ok(Ok(bytes)),
                None => Err(StoreError::new(format!(
                    "node {key} is owned but its bytes are not stored"
                ))),
            },
        })
        .collect()
}

/// Whether `realm` owns `key`: `Ok(())`, or `NotFound` (no realm stored it) or `NotOwned`.
pub async fn require_owned(
    store: &dyn NodeStore,
    realm: &str,
    key: Key,
) -> Result<Result<(), Rejection>, StoreError> {
    Ok(match store.status(realm, &[key]).await?.first() {
        Some(Status::Owned) => Ok(()),
        Some(Status::Unowned) => Err(Rejection::NotOwned(key)),
        _ => Err(Rejection::NotFound(key)),
    })
}

/// The keys among `keys` that `realm` owns (one `status` call; duplicates asked once).
async fn owned_among(
    store: &dyn NodeStore,
    realm: &str,
    mut keys: Vec<Key>,
) -> Result<HashSet<Key>, StoreError> {
    keys.sort_unstable();
    keys.dedup();
    let status = store.status(realm, &keys).await?;
    Ok(keys
        .into_iter()
        .zip(status)
        .filter(|(_, status)| *status == Status::Owned)
        .map(|(key, _)| key)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;

    /// A store in memory that counts the calls the rules make.
    #[derive(Default)]
    struct CountingStore {
        nodes: Mutex<HashMap<Key, Bytes>>,
        owners: Mutex<BTreeSet<(String, Key)>>,
        calls: Mutex<Vec<&'static str>>,
    }

    #[async_trait]
    impl NodeStore for CountingStore {
        async fn status(&self, realm: &str, keys: &[Key]) -> Result<Vec<Status>, StoreError> {
            self.calls.lock().unwrap().push("status");
            let nodes = self.nodes.lock().unwrap();
            let owners = self.owners.lock().unwrap();
            Ok(keys
                .iter()
                .map(|key| {
                    if owners.contains(&(realm.to_owned(), *key)) {
                        Status::Owned
                    } else if nodes.contains_key(key) {
                        Status::Unowned
                    } else {
                        Status::Missing
                    }
                })
                .collect())
        }
        async fn bytes(&self, keys: &[Key]) -> Result<Vec<Option<Bytes>>, StoreError> {
            self.calls.lock().unwrap().push("bytes");
            let nodes = self.nodes.lock().unwrap();
            Ok(keys.iter().map(|key| nodes.get(key).cloned()).collect())
        }
        async fn apply(&self, writes: Vec<Write>) -> Result<Vec<bool>, StoreError> {
            self.calls.lock().unwrap().push("apply");
            let mut nodes = self.nodes.lock().unwrap();
            let mut owners = self.owners.lock().unwrap();
            Ok(writes
                .into_iter()
                .map(|write| {
                    if let Some(bytes) = write.bytes {
                        nodes.entry(write.key).or_insert(bytes);
                    }
                    owners.insert((write.realm, write.key))
                })
                .collect())
        }
        async fn node_count(&self) -> Result<u64, StoreError> {
            Ok(self.nodes.lock().unwrap().len() as u64)
        }
    }

    impl CountingStore {
        fn take_calls(&self) -> Vec<&'static str> {
            std::mem::take(&mut self.calls.lock().unwrap())
        }
    }

    fn upload(children: &[Key], data: &[u8]) -> Upload {
        let bytes = Bytes::from(node::encode_successor(children, data, 0).unwrap());
        Upload {
            key: Key::for_bytes(&bytes),
            bytes,
            children: children.to_vec(),
        }
    }

    #[tokio::test]
    async fn a_batch_is_one_status_and_one_apply() {
        let store = CountingStore::default();
        let a = upload(&[], b"a");
        let b = upload(&[], b"b");
        let parent = upload(&[a.key, b.key], b"");
        let orphan = upload(&[Key::for_bytes(b"nowhere")], b"");
        let items = vec![
            Ok(a.clone()),
            Ok(b.clone()),
            Ok(parent.clone()),
            Ok(orphan),
            Err(Rejection::InvalidNode("test".into())),
            Ok(a.clone()),
        ];
        let (outcomes, stored) = store_nodes(&store, "r", items).await.unwrap();
        assert_eq!(store.take_calls(), vec!["status", "apply"]);
        assert_eq!(outcomes[..3], [Ok(true), Ok(true), Ok(true)]);
        assert!(matches!(&outcomes[3], Err(Rejection::MissingChildren(m)) if m.len() == 1));
        assert_eq!(outcomes[4], Err(Rejection::InvalidNode("test".into())));
        assert_eq!(outcomes[5], Ok(false), "accepted earlier in the batch");
        assert_eq!(stored.nodes, 3);

        // Another realm may not rely on children it does not own.
        let (outcomes, _) = store_nodes(&store, "other", vec![Ok(parent.clone())])
            .await
            .unwrap();
        assert!(matches!(&outcomes[0], Err(Rejection::MissingChildren(m)) if m.len() == 2));
        // Already owned: nothing written.
        let (outcomes, stored) = store_nodes(&store, "r", vec![Ok(parent)]).await.unwrap();
        assert_eq!((outcomes[0].clone(), stored.nodes), (Ok(false), 0));
    }

    #[tokio::test]
    async fn claims_need_proofs_and_owned_children() {
        let store = CountingStore::default();
        let child = upload(&[], b"child");
        let parent = upload(&[child.key], b"");
        store_nodes(&store, "r", vec![Ok(child.clone()), Ok(parent.clone())])
            .await
            .unwrap();
        store.take_calls();
        let token = [7u8; 32];
        let pop_key = *blake3::hash(&token).as_bytes();
        let claim = |u: &Upload| {
            Ok(Claim {
                key: u.key,
                proof: pop::proof(&token, &u.bytes),
            })
        };
        // The parent before its child: refused; then the child, then the parent: accepted.
        let items = vec![
            claim(&parent),
            claim(&child),
            claim(&parent),
            Ok(Claim {
                key: child.key,
                proof: "pop:wrong".into(),
            }),
            Ok(Claim {
                key: Key::for_bytes(b"absent"),
                proof: String::new(),
            }),
        ];
        let (outcomes, accepted) = claim_nodes(&store, "other", &pop_key, items).await.unwrap();
        assert_eq!(store.take_calls(), vec!["bytes", "status", "apply"]);
        assert!(matches!(&outcomes[0], Err(Rejection::MissingChildren(_))));
        assert_eq!(outcomes[1..3], [Ok(false), Ok(false)]);
        assert_eq!(outcomes[3], Err(Rejection::InvalidProof(child.key)));
        assert!(matches!(outcomes[4], Err(Rejection::NotFound(_))));
        assert_eq!(accepted, 2);
        let (outcomes, accepted) = claim_nodes(&store, "other", &pop_key, vec![claim(&parent)])
            .await
            .unwrap();
        assert_eq!((outcomes[0].clone(), accepted), (Ok(true), 0));
    }

    #[tokio::test]
    async fn reads_answer_what_the_realm_owns_within_the_budget() {
        let store = CountingStore::default();
        let mine = upload(&[], b"mine");
        let theirs = upload(&[], b"theirs");
        store_nodes(&store, "r", vec![Ok(mine.clone())])
            .await
            .unwrap();
        store_nodes(&store, "s", vec![Ok(theirs.clone())])
            .await
            .unwrap();
        let absent = Key::for_bytes(b"absent");
        let keys = [mine.key, theirs.key, absent];
        let read = read_nodes(&store, "r", &keys, u64::MAX).await.unwrap();
        assert_eq!(
            read,
            vec![
                Ok(mine.bytes.clone()),
                Err(Rejection::NotOwned(theirs.key)),
                Err(Rejection::NotFound(absent)),
            ]
        );
        // Budget: each key's size-flag bound counts; at least one key is always answered.
        let bound = mine.key.max_node_len();
        assert_eq!(
            read_nodes(&store, "r", &keys, bound).await.unwrap().len(),
            1
        );
        assert_eq!(
            require_owned(&store, "r", theirs.key).await.unwrap(),
            Err(Rejection::NotOwned(theirs.key))
        );
    }
}
