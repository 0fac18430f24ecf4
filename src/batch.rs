//! The framing of `POST .../nodes/batch` bodies: repeated `[u32 LE length][node bytes]`.
//!
//! Pure functions, no I/O: [`parse`] splits a body into frames (refusing truncated framing and
//! too many frames) and [`encode`] builds a body, for clients, tests and the benchmark.

/// Length of the little-endian u32 length prefix of each frame.
pub const PREFIX_LEN: usize = 4;

/// Why a batch body cannot be split into frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("the body is empty: a batch holds at least one node")]
    Empty,
    #[error("frame {index} starts at byte {offset} but only {remaining} byte(s) are left for its 4-byte length")]
    TruncatedLength {
        index: usize,
        offset: usize,
        remaining: usize,
    },
    #[error("frame {index} at byte {offset} says {length} bytes but only {remaining} are left")]
    TruncatedNode {
        index: usize,
        offset: usize,
        length: u64,
        remaining: usize,
    },
    #[error("the batch holds more than {max} nodes")]
    TooManyNodes { max: usize },
}

/// Splits `body` into node frames, in order. At most `max_nodes` frames are accepted.
pub fn parse(body: &[u8], max_nodes: usize) -> Result<Vec<&[u8]>, FramingError> {
    if body.is_empty() {
        return Err(FramingError::Empty);
    }
    let mut frames = Vec::new();
    let mut offset = 0usize;
    while offset < body.len() {
        let index = frames.len();
        if index == max_nodes {
            return Err(FramingError::TooManyNodes { max: max_nodes });
        }
        let rest = &body[offset..];
        let Some((prefix, after)) = rest.split_first_chunk::<PREFIX_LEN>() else {
            return Err(FramingError::TruncatedLength {
                index,
                offset,
                remaining: rest.len(),
            });
        };
        let length = u32::from_le_bytes(*prefix);
        let Some(node) = usize::try_from(length).ok().and_then(|n| after.get(..n)) else {
            return Err(FramingError::TruncatedNode {
                index,
                offset,
                length: u64::from(length),
                remaining: after.len(),
            });
        };
        frames.push(node);
        offset += PREFIX_LEN + node.len();
    }
    Ok(frames)
}

/// Builds a batch body from nodes, in the order given (children before parents).
///
/// # Panics
/// If a node is 4 GiB or longer (it cannot be framed; no server accepts such a node).
pub fn encode<'a>(nodes: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    for node in nodes {
        let length = u32::try_from(node.len()).expect("a framed node is shorter than 4 GiB");
        body.extend_from_slice(&length.to_le_bytes());
        body.extend_from_slice(node);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let nodes: Vec<&[u8]> = vec![b"abc", b"", b"hello world"];
        let body = encode(nodes.iter().copied());
        assert_eq!(body.len(), 3 * 4 + 3 + 11);
        assert_eq!(parse(&body, 10), Ok(nodes));
    }

    #[test]
    fn empty_body_is_refused() {
        assert_eq!(parse(&[], 10), Err(FramingError::Empty));
    }

    #[test]
    fn truncated_length_prefix() {
        let mut body = encode([b"abc".as_slice()]);
        body.extend_from_slice(&[1, 0]);
        assert_eq!(
            parse(&body, 10),
            Err(FramingError::TruncatedLength {
                index: 1,
                offset: 7,
                remaining: 2
            })
        );
    }

    #[test]
    fn truncated_node() {
        let mut body = encode([b"abcdef".as_slice()]);
        body.truncate(8);
        assert_eq!(
            parse(&body, 10),
            Err(FramingError::TruncatedNode {
                index: 0,
                offset: 0,
                length: 6,
                remaining: 4
            })
        );
        // A length far beyond the body (and beyond usize on small targets) is not a panic.
        let body = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(
            parse(&body, 10),
            Err(FramingError::TruncatedNode {
                length: 0xffff_ffff,
                ..
            })
        ));
    }

    #[test]
    fn too_many_nodes() {
        let body = encode([b"a".as_slice(), b"b", b"c"]);
        assert_eq!(parse(&body, 3).map(|f| f.len()), Ok(3));
        assert_eq!(parse(&body, 2), Err(FramingError::TooManyNodes { max: 2 }));
    }

    #[test]
    fn zero_length_frames_are_frames() {
        let body = [0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&body, 10), Ok(vec![&[][..], &[][..]]));
    }
}
