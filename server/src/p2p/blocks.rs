//! Serving the block exchange (`/casweb/block/1.0.0`, `casweb::exchange`) from the server's own
//! node store: only with `serve --serve-blocks`, off by default, because HTTP reads are per
//! realm and this is public (any peer that knows a key reads its node, whatever realm owns it).
//! Without it the node refuses block requests as `not_serving` (it still relays the exchange
//! between browsers).

use std::sync::Arc;

use casweb::exchange::{answer_of, answered_prefix, BlockResponse, MAX_ANSWER_BYTES};
use casweb::Key;

use crate::nodes::NodeStore;

/// The node store the block exchange answers from.
#[derive(Clone)]
pub struct ServedNodes(pub Arc<dyn NodeStore>);

impl std::fmt::Debug for ServedNodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServedNodes")
    }
}

impl ServedNodes {
    /// The answer to a request for `keys`: the planned prefix's nodes in one store read (a key
    /// the store does not have is not found; a failed read answers every key not found).
    pub async fn answer(&self, keys: Vec<Key>) -> BlockResponse {
        let prefix = answered_prefix(&keys, MAX_ANSWER_BYTES);
        let found = match self.0.bytes(prefix).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "cannot read nodes for a block request");
                vec![None; prefix.len()]
            }
        };
        answer_of(found, MAX_ANSWER_BYTES)
    }
}
