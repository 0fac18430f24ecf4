//! What a node answers block requests with: a storage behind a type-erased answering function,
//! and the limits of serving ([`ServeLimits`]). Made by `P2pNode::serve`, handed to the node's
//! driver, which admits requests through its `PeerGate` and runs the answers.

use std::rc::Rc;

use futures::future::LocalBoxFuture;
use futures::FutureExt as _;

use crate::exchange::{answer, BlockResponse, ServeLimits};
use crate::key::Key;
use crate::storage::StorageProvider;

/// Reads the answer to a request for some keys.
type Answerer = Rc<dyn Fn(Vec<Key>) -> LocalBoxFuture<'static, BlockResponse>>;

/// A storage served to peers, within limits.
#[derive(Clone)]
pub struct Serving {
    answerer: Answerer,
    pub limits: ServeLimits,
}

impl Serving {
    /// Serves the nodes of `storage` (any `StorageProvider`, typically the IndexedDB cache).
    pub fn new<S: StorageProvider + 'static>(storage: S, limits: ServeLimits) -> Serving {
        let storage = Rc::new(storage);
        let max_answer_bytes = limits.max_answer_bytes;
        let answerer: Answerer = Rc::new(move |keys: Vec<Key>| {
            let storage = storage.clone();
            async move { answer(&*storage, &keys, max_answer_bytes).await }.boxed_local()
        });
        Serving { answerer, limits }
    }

    /// The answer to a request for `keys`.
    pub fn answer(&self, keys: Vec<Key>) -> LocalBoxFuture<'static, BlockResponse> {
        (self.answerer)(keys)
    }
}
