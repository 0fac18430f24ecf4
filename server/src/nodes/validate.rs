//! What a node must satisfy before it is stored: size limit, size flag, hash, structure.
//!
//! Pure checks over the bytes, shared by the single PUT and the batch; the "children present
//! and owned" rule needs the store and lives in [`super::rules`].

use casweb::key::size_flag;
use casweb::{node, Key};

use super::{HashCheck, Rejection};

/// Checks `bytes` against `key` (when the client named one) and the node rules. Returns the
/// node's distinct child keys, in first-seen order.
///
/// Order of the checks, so each failure has one clear code:
/// 1. longer than `max_node_size` -> [`Rejection::TooLarge`];
/// 2. the key's size flag does not fit the length -> [`Rejection::HashMismatch`] (size flag);
/// 3. BLAKE3 does not match the key -> [`Rejection::HashMismatch`] (hash);
/// 4. not a valid node (`casweb::node::decode`) -> [`Rejection::InvalidNode`].
pub fn check_node(
    key: Option<&Key>,
    bytes: &[u8],
    max_node_size: u64,
) -> Result<Vec<Key>, Rejection> {
    let len = bytes.len() as u64;
    if len > max_node_size {
        return Err(Rejection::TooLarge {
            limit: max_node_size,
        });
    }
    if let Some(key) = key {
        let flag = size_flag(len);
        if key.size_flag() != flag {
            return Err(Rejection::HashMismatch {
                key: *key,
                check: HashCheck::SizeFlag,
                message: format!(
                    "key {key} has size flag 0x{:02x} but a node of {len} bytes has 0x{flag:02x}",
                    key.size_flag()
                ),
            });
        }
        if !key.matches(bytes) {
            return Err(Rejection::HashMismatch {
                key: *key,
                check: HashCheck::Hash,
                message: format!("the bytes do not hash to key {key}"),
            });
        }
    }
    let view = node::decode(bytes)
        .map_err(|e| Rejection::InvalidNode(format!("not a valid node: {e}")))?;
    let mut children: Vec<Key> = Vec::with_capacity(view.child_count());
    for child in view.children() {
        if !children.contains(&child) {
            children.push(child);
        }
    }
    Ok(children)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code() {
        let leaf = node::encode_successor(&[], b"leaf", 0).unwrap();
        let leaf_key = Key::for_bytes(&leaf);
        let parent = node::encode_successor(&[leaf_key, leaf_key], b"", 0).unwrap();
        let parent_key = Key::for_bytes(&parent);
        assert_eq!(check_node(Some(&leaf_key), &leaf, 1000).unwrap(), vec![]);
        assert_eq!(
            check_node(Some(&parent_key), &parent, 1000).unwrap(),
            vec![leaf_key]
        );
        assert_eq!(check_node(None, &parent, 1000).unwrap(), vec![leaf_key]);

        let code = |key: Option<&Key>, bytes: &[u8], max: u64| {
            crate::error::ApiError::from(check_node(key, bytes, max).unwrap_err()).code()
        };
        assert_eq!(code(Some(&leaf_key), &leaf, 10), "too_large");
        let mut longer = leaf.clone();
        longer.push(0);
        assert_eq!(code(Some(&leaf_key), &longer, 1000), "hash_mismatch");
        let mut flipped = leaf.clone();
        flipped[17] ^= 1;
        assert_eq!(code(Some(&leaf_key), &flipped, 1000), "hash_mismatch");
        // Truncated: hashed under its own key, so only the structure is wrong.
        let truncated = &leaf[..10];
        assert_eq!(
            code(Some(&Key::for_bytes(truncated)), truncated, 1000),
            "invalid_node"
        );
        assert_eq!(code(None, b"", 1000), "invalid_node");
    }
}
