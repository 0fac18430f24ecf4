//! The limits a server advertises at `GET /api/info` and enforces; clients split their batches
//! and checks to fit them.

use serde::{Deserialize, Serialize};

use crate::batch::PREFIX_LEN;

/// Default largest node: 4 MiB.
pub const DEFAULT_MAX_NODE_SIZE: u64 = 4 * 1024 * 1024;
/// Default largest batch body: 16 MiB (framing included).
pub const DEFAULT_MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// What a server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest node, in bytes.
    pub max_node_size: u64,
    /// Most keys in one `check` request.
    pub max_check_keys: usize,
    /// Largest `batch` body, in bytes (4-byte length prefixes included).
    pub max_batch_bytes: u64,
    /// Most nodes in one `batch` request.
    pub max_batch_nodes: usize,
    /// Most claims in one claim-many request.
    pub max_claim_batch: usize,
    /// Largest JSON request body, in bytes (absent from servers before it was advertised).
    #[serde(default = "default_max_json_bytes")]
    pub max_json_bytes: u64,
    /// Most keys in one `get` (many nodes) request; 0 from a server without that endpoint
    /// (clients then read one node per request).
    #[serde(default)]
    pub max_get_keys: usize,
    /// Most node bytes in one `get` answer (the server answers a prefix of the keys that fits).
    #[serde(default = "default_max_get_bytes")]
    pub max_get_bytes: u64,
}

fn default_max_get_bytes() -> u64 {
    Limits::default().max_get_bytes
}

fn default_max_json_bytes() -> u64 {
    Limits::default().max_json_bytes
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_node_size: DEFAULT_MAX_NODE_SIZE,
            max_check_keys: 1000,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_batch_nodes: 1000,
            max_claim_batch: 1000,
            max_json_bytes: 1024 * 1024,
            max_get_keys: 1000,
            max_get_bytes: DEFAULT_MAX_BATCH_BYTES,
        }
    }
}

impl Limits {
    /// The name of the first limit that is 0 (a server advertising it could accept nothing).
    /// `maxGetKeys` may be 0: the server has no `get` endpoint.
    pub fn first_zero(&self) -> Option<&'static str> {
        [
            ("maxNodeSize", self.max_node_size == 0),
            ("maxCheckKeys", self.max_check_keys == 0),
            ("maxBatchBytes", self.max_batch_bytes == 0),
            ("maxBatchNodes", self.max_batch_nodes == 0),
            ("maxClaimBatch", self.max_claim_batch == 0),
            ("maxJsonBytes", self.max_json_bytes == 0),
            ("maxGetBytes", self.max_get_bytes == 0),
        ]
        .into_iter()
        .find_map(|(name, zero)| zero.then_some(name))
    }

    /// The longest node that can be sent (as a batch frame and as a PUT).
    pub fn largest_node(&self) -> usize {
        let by_node = usize::try_from(self.max_node_size).unwrap_or(usize::MAX);
        let by_batch = usize::try_from(self.max_batch_bytes)
            .unwrap_or(usize::MAX)
            .saturating_sub(PREFIX_LEN);
        by_node.min(by_batch)
    }

    /// The largest batch body, as a length in memory.
    pub fn batch_bytes(&self) -> usize {
        usize::try_from(self.max_batch_bytes).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_and_checks() {
        let limits = Limits::default();
        let json = serde_json::to_value(limits).unwrap();
        assert_eq!(json["maxNodeSize"], 4 * 1024 * 1024);
        assert_eq!(json["maxClaimBatch"], 1000);
        let mut older = json.clone();
        older.as_object_mut().unwrap().remove("maxJsonBytes");
        older.as_object_mut().unwrap().remove("maxGetBytes");
        assert_eq!(
            serde_json::from_value::<Limits>(older.clone()).unwrap(),
            limits
        );
        older.as_object_mut().unwrap().remove("maxGetKeys");
        let without_get = serde_json::from_value::<Limits>(older).unwrap();
        assert_eq!(without_get.max_get_keys, 0);
        assert_eq!(without_get.first_zero(), None);
        assert_eq!(limits.first_zero(), None);
        let zero = Limits {
            max_batch_nodes: 0,
            ..limits
        };
        assert_eq!(zero.first_zero(), Some("maxBatchNodes"));
        let tight = Limits {
            max_batch_bytes: 100,
            ..limits
        };
        assert_eq!(tight.largest_node(), 100 - PREFIX_LEN);
    }
}
