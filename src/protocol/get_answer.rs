//! The body of a `POST .../nodes/get` answer: the batch framing (`[u32 LE length][bytes]`,
//! [`crate::batch`]), one frame per answered key in request order.
//!
//! A frame of a node is the node (at least [`HEADER_LEN`] bytes). A frame shorter than a node
//! header is a status: empty means no realm stored the key (`not_found`), the single byte
//! [`NOT_OWNED`] means it is stored but this realm does not own it (`not_owned`). The answer may
//! cover only a prefix of the keys (the server stops before `maxGetBytes`); the client asks
//! again for the rest.

use bytes::Bytes;

use crate::batch::{self, FramingError};
use crate::key::Key;
use crate::node::HEADER_LEN;

/// The status frame of a node this realm does not own.
pub const NOT_OWNED: u8 = 1;

/// What the answer says about one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetItem {
    /// The node's bytes (not yet checked against the key: the reader does that).
    Node(Bytes),
    /// No realm stored it.
    NotFound,
    /// Stored, but this realm does not own it.
    NotOwned,
}

/// Why an answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetAnswerError {
    #[error("the get answer's framing is broken: {0}")]
    Framing(#[from] FramingError),
    #[error("the get answer holds {answered} items for {asked} keys")]
    TooMany { answered: usize, asked: usize },
    #[error("the get answer's item {index} is an unknown status frame")]
    UnknownStatus { index: usize },
}

/// How many of `keys`, from the start, one answer holds under `max_bytes`: keys are taken while
/// the sum of their size flags' bounds (the most each node can weigh, known from the key alone)
/// fits, and always at least one. The server answers that prefix; a client that plans its
/// requests with the same function is never cut short.
pub fn affordable(keys: &[Key], max_bytes: u64) -> usize {
    let mut total: u64 = 0;
    let mut count = 0;
    for key in keys {
        total = total.saturating_add(key.max_node_len());
        if total > max_bytes && count > 0 {
            break;
        }
        count += 1;
    }
    count
}

/// Builds an answer body.
pub fn encode(items: &[GetItem]) -> Vec<u8> {
    let not_owned = [NOT_OWNED];
    batch::encode(items.iter().map(|item| match item {
        GetItem::Node(bytes) => &bytes[..],
        GetItem::NotFound => &[][..],
        GetItem::NotOwned => &not_owned[..],
    }))
}

/// Reads an answer to a request for `keys`: one item per answered key, a prefix of `keys`
/// (possibly empty only if the body is empty).
pub fn parse(body: &Bytes, keys: &[Key]) -> Result<Vec<GetItem>, GetAnswerError> {
    parse_items(body, keys.len())
}

/// Reads an answer of at most `max_items` items (the peers' block exchange reads its answers
/// with this before it knows which request they answer).
pub fn parse_items(body: &Bytes, max_items: usize) -> Result<Vec<GetItem>, GetAnswerError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let frames = batch::parse(body, max_items.max(1)).map_err(|error| match error {
        FramingError::TooManyNodes { .. } => GetAnswerError::TooMany {
            answered: max_items + 1,
            asked: max_items,
        },
        other => GetAnswerError::Framing(other),
    })?;
    if frames.len() > max_items {
        return Err(GetAnswerError::TooMany {
            answered: frames.len(),
            asked: max_items,
        });
    }
    frames
        .into_iter()
        .enumerate()
        .map(|(index, frame)| match frame {
            [] => Ok(GetItem::NotFound),
            [NOT_OWNED] => Ok(GetItem::NotOwned),
            node if node.len() >= HEADER_LEN => Ok(GetItem::Node(body.slice_ref(node))),
            _ => Err(GetAnswerError::UnknownStatus { index }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let node = Bytes::from(crate::node::encode_successor(&[], b"data", 0).unwrap());
        let keys: Vec<Key> = (0u8..4).map(|i| Key::for_bytes(&[i])).collect();
        let items = vec![
            GetItem::Node(node.clone()),
            GetItem::NotFound,
            GetItem::NotOwned,
        ];
        let body = Bytes::from(encode(&items));
        assert_eq!(parse(&body, &keys).unwrap(), items);
        assert_eq!(parse(&Bytes::new(), &keys).unwrap(), vec![]);
        assert!(matches!(
            parse(&body, &keys[..2]),
            Err(GetAnswerError::TooMany { .. })
        ));
        let odd = Bytes::from(batch::encode([&[7u8, 7][..]]));
        assert_eq!(
            parse(&odd, &keys),
            Err(GetAnswerError::UnknownStatus { index: 0 })
        );
        let bound = keys[0].max_node_len();
        assert_eq!(affordable(&keys, 0), 1);
        assert_eq!(affordable(&keys, 2 * bound), 2);
        assert_eq!(affordable(&[], 0), 0);
        let truncated = body.slice(..body.len() - 1);
        assert!(matches!(
            parse(&truncated, &keys),
            Err(GetAnswerError::Framing(_))
        ));
    }
}
