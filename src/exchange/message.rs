//! The messages of `/casweb/block/1.0.0` and their bytes (pure, no I/O).
//!
//! - A request is the byte `1` (the format version) then 1 to `max_keys` keys, 16 raw bytes
//!   each.
//! - An answer is the byte [`ANSWER`] then the framing of HTTP many-nodes gets
//!   ([`crate::protocol::get_answer`]): one frame per answered key in request order, the node's
//!   bytes or an empty frame for a key the peer does not have. It may cover only a prefix of the
//!   keys (the peer stops before `max_answer_bytes`); the asker asks again for the rest.
//! - A refusal is the byte [`REFUSAL`] then one byte naming the [`Refusal`].

use bytes::Bytes;

use crate::key::{Key, KEY_LEN};
use crate::protocol::get_answer::{self, GetItem};

/// The format version, the first byte of every request.
pub const REQUEST_VERSION: u8 = 1;
/// The first byte of an answer carrying nodes.
pub const ANSWER: u8 = 0;
/// The first byte of a refusal.
pub const REFUSAL: u8 = 1;

/// The keys a peer asks for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRequest {
    pub keys: Vec<Key>,
}

/// A request as the serving side reads it: the keys, or why it cannot be served (answered with
/// that refusal instead of dropping the stream, so the asker learns why).
pub type InboundRequest = Result<BlockRequest, Refusal>;

/// Why a peer does not answer a request with nodes. Each has a stable code (the `reason` of
/// the `peer_refused` error the asker gets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the request is malformed")]
    Malformed,
    #[error("the request names more keys than the peer accepts")]
    TooManyKeys,
    #[error("the peer is answering as many requests as it allows")]
    Busy,
    #[error("the peer does not serve blocks")]
    NotServing,
}

impl Refusal {
    const ALL: [Refusal; 4] = [
        Refusal::Malformed,
        Refusal::TooManyKeys,
        Refusal::Busy,
        Refusal::NotServing,
    ];

    /// The refusal's stable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::TooManyKeys => "too_many_keys",
            Refusal::Busy => "busy",
            Refusal::NotServing => "not_serving",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Refusal::Malformed => 1,
            Refusal::TooManyKeys => 2,
            Refusal::Busy => 3,
            Refusal::NotServing => 4,
        }
    }

    fn from_byte(byte: u8) -> Option<Refusal> {
        Refusal::ALL.into_iter().find(|r| r.byte() == byte)
    }
}

/// What a peer sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockResponse {
    /// Per answered key, in request order: `Node` (not yet checked against its key: the asker
    /// does that) or `NotFound`. Never `NotOwned` (there are no realms between peers).
    Nodes(Vec<GetItem>),
    Refused(Refusal),
}

/// Why a message cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is empty")]
    Empty,
    #[error("unknown message version or kind {0}")]
    UnknownKind(u8),
    #[error("a request's keys are {0} bytes, not a multiple of 16")]
    PartialKey(usize),
    #[error("the message is longer than the limit of {max} bytes")]
    TooLong { max: usize },
    #[error("a request names no key")]
    NoKeys,
    #[error("a refusal is malformed")]
    BadRefusal,
    #[error("an answer is malformed: {0}")]
    Answer(#[from] get_answer::GetAnswerError),
    #[error("an answer carries a status peers do not send")]
    NotOwned,
}

impl BlockRequest {
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(1 + KEY_LEN * self.keys.len());
        bytes.push(REQUEST_VERSION);
        for key in &self.keys {
            bytes.extend_from_slice(key.as_bytes());
        }
        bytes
    }

    /// Reads a request of at most `max_keys` keys. Keys whose size flag is not canonical are
    /// malformed.
    pub fn parse(bytes: &[u8], max_keys: usize) -> InboundRequest {
        let Some((&REQUEST_VERSION, keys)) = bytes.split_first() else {
            return Err(Refusal::Malformed);
        };
        if keys.is_empty() || keys.len() % KEY_LEN != 0 {
            return Err(Refusal::Malformed);
        }
        if keys.len() / KEY_LEN > max_keys {
            return Err(Refusal::TooManyKeys);
        }
        keys.chunks_exact(KEY_LEN)
            .map(Key::from_slice)
            .collect::<Result<Vec<Key>, _>>()
            .map(|keys| BlockRequest { keys })
            .map_err(|_| Refusal::Malformed)
    }

    /// The longest request of `max_keys` keys, in bytes.
    pub fn max_len(max_keys: usize) -> usize {
        1 + KEY_LEN * max_keys
    }
}

impl BlockResponse {
    /// The response's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            BlockResponse::Nodes(items) => {
                let mut bytes = vec![ANSWER];
                bytes.extend_from_slice(&get_answer::encode(items));
                bytes
            }
            BlockResponse::Refused(refusal) => vec![REFUSAL, refusal.byte()],
        }
    }

    /// Reads a response of at most `max_items` items.
    pub fn parse(bytes: Bytes, max_items: usize) -> Result<BlockResponse, MessageError> {
        match bytes.first() {
            None => Err(MessageError::Empty),
            Some(&ANSWER) => {
                let items = get_answer::parse_items(&bytes.slice(1..), max_items)?;
                if items.contains(&GetItem::NotOwned) {
                    return Err(MessageError::NotOwned);
                }
                Ok(BlockResponse::Nodes(items))
            }
            Some(&REFUSAL) => match bytes[1..] {
                [byte] => Refusal::from_byte(byte)
                    .map(BlockResponse::Refused)
                    .ok_or(MessageError::BadRefusal),
                _ => Err(MessageError::BadRefusal),
            },
            Some(&other) => Err(MessageError::UnknownKind(other)),
        }
    }

    /// The longest answer a reader with these limits accepts, in bytes: the kind byte, the
    /// nodes, and a length prefix per key.
    pub fn max_len(max_keys: usize, max_answer_bytes: u64) -> usize {
        let nodes = usize::try_from(max_answer_bytes).unwrap_or(usize::MAX);
        nodes
            .saturating_add(1)
            .saturating_add(crate::batch::PREFIX_LEN.saturating_mul(max_keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u8) -> Vec<Key> {
        (0..n).map(|i| Key::for_bytes(&[i])).collect()
    }

    #[test]
    fn requests_round_trip_within_their_bounds() {
        let request = BlockRequest { keys: keys(3) };
        let bytes = request.encode();
        assert_eq!(bytes.len(), BlockRequest::max_len(3));
        assert_eq!(BlockRequest::parse(&bytes, 3), Ok(request.clone()));
        assert_eq!(BlockRequest::parse(&bytes, 2), Err(Refusal::TooManyKeys));
    }

    #[test]
    fn malformed_requests_are_refused() {
        let good = BlockRequest { keys: keys(2) }.encode();
        assert_eq!(BlockRequest::parse(&[], 8), Err(Refusal::Malformed));
        assert_eq!(
            BlockRequest::parse(&[REQUEST_VERSION], 8),
            Err(Refusal::Malformed)
        );
        assert_eq!(
            BlockRequest::parse(&good[..good.len() - 1], 8),
            Err(Refusal::Malformed)
        );
        let mut other_version = good.clone();
        other_version[0] = 2;
        assert_eq!(
            BlockRequest::parse(&other_version, 8),
            Err(Refusal::Malformed)
        );
        // A key whose size flag is not canonical (H = 1, L = 0) is not a key.
        let mut bad_flag = good;
        bad_flag[1] = 0x10;
        assert_eq!(BlockRequest::parse(&bad_flag, 8), Err(Refusal::Malformed));
    }

    #[test]
    fn responses_round_trip() {
        let node = Bytes::from(crate::node::encode_successor(&[], b"data", 0).unwrap());
        let answer = BlockResponse::Nodes(vec![GetItem::Node(node), GetItem::NotFound]);
        assert_eq!(
            BlockResponse::parse(Bytes::from(answer.encode()), 2),
            Ok(answer)
        );
        for refusal in Refusal::ALL {
            let response = BlockResponse::Refused(refusal);
            assert_eq!(
                BlockResponse::parse(Bytes::from(response.encode()), 1),
                Ok(response)
            );
        }
        let empty = BlockResponse::Nodes(Vec::new());
        assert_eq!(
            BlockResponse::parse(Bytes::from(empty.encode()), 4),
            Ok(empty)
        );
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        let parse = |bytes: &[u8], max| BlockResponse::parse(Bytes::copy_from_slice(bytes), max);
        assert_eq!(parse(&[], 4), Err(MessageError::Empty));
        assert_eq!(parse(&[9], 4), Err(MessageError::UnknownKind(9)));
        assert_eq!(parse(&[REFUSAL], 4), Err(MessageError::BadRefusal));
        assert_eq!(parse(&[REFUSAL, 99], 4), Err(MessageError::BadRefusal));
        assert_eq!(parse(&[REFUSAL, 1, 1], 4), Err(MessageError::BadRefusal));
        // A frame length far beyond the message.
        assert!(matches!(
            parse(&[ANSWER, 0xff, 0xff, 0xff, 0xff, 1], 4),
            Err(MessageError::Answer(_))
        ));
        // More items than keys asked.
        let three = BlockResponse::Nodes(vec![GetItem::NotFound; 3]).encode();
        assert!(matches!(parse(&three, 2), Err(MessageError::Answer(_))));
        // The realm status of HTTP answers has no meaning between peers.
        let not_owned = BlockResponse::Nodes(vec![GetItem::NotOwned]).encode();
        assert_eq!(parse(&not_owned, 1), Err(MessageError::NotOwned));
        // A frame too short to be a node and not a status.
        let odd = [ANSWER, 2, 0, 0, 0, 7, 7];
        assert!(matches!(parse(&odd, 1), Err(MessageError::Answer(_))));
    }

    #[test]
    fn the_longest_answer_is_bounded() {
        assert_eq!(BlockResponse::max_len(2, 100), 1 + 100 + 8);
        assert_eq!(BlockResponse::max_len(usize::MAX, u64::MAX), usize::MAX);
    }
}
