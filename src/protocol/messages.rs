//! The JSON bodies of the realm endpoints, as both sides read and write them: `check`, `get`
//! (many nodes), `claim` and claim-many requests, and the `check` answer. (Batch uploads and
//! `get` answers are framed binary, see [`crate::batch`] and [`super::get_answer`].) Keys travel as their 26-character text; requests keep them as text so the
//! server can name a malformed one in its error.

use serde::{Deserialize, Serialize};

use crate::key::Key;

/// `POST .../nodes/check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRequest {
    pub keys: Vec<String>,
}

/// `POST .../nodes/get`: the nodes to read, in the order the answer lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    pub keys: Vec<String>,
}

/// The answer of `POST .../nodes/check`: the server's view of some keys, for the realm asking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// No such node on the server.
    pub missing: Vec<Key>,
    /// The node exists (another realm uploaded it) but this realm does not own it.
    pub unowned: Vec<Key>,
    /// This realm owns the node.
    pub owned: Vec<Key>,
}

/// `POST .../nodes/{key}/claim`: a proof of possession (`pop:...`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub pop: String,
}

/// `POST .../nodes/claim`: several claims at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimManyRequest {
    pub claims: Vec<ClaimItem>,
}

/// One claim of a claim-many request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    pub key: String,
    pub pop: String,
}
