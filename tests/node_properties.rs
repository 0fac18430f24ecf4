#![cfg(not(target_arch = "wasm32"))]
//! Property tests for the node codec, keys and Crockford base32: encode/decode round trips for
//! every kind, and no panic (only `Err` or a self-consistent node) on corrupted or arbitrary input.

use std::collections::BTreeMap;

use casweb::node::{self, FileInfo, NodeKind, NodeView};
use casweb::{crockford, Key};
use proptest::prelude::*;

/// Any key: random bytes with the size flag made canonical (L != 0 whenever H != 0).
fn arb_key() -> impl Strategy<Value = Key> {
    any::<[u8; 16]>().prop_map(|mut bytes| {
        if bytes[0] >> 4 != 0 && bytes[0] & 0x0f == 0 {
            bytes[0] |= 1;
        }
        Key::from_bytes(bytes).expect("canonical flag")
    })
}

fn arb_keys(max: usize) -> impl Strategy<Value = Vec<Key>> {
    prop::collection::vec(arb_key(), 0..max)
}

fn arb_data(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// Printable ASCII, at most 56 bytes: every content type a FileInfo can hold.
fn arb_content_type() -> impl Strategy<Value = String> {
    "[ -~]{0,56}"
}

fn arb_dict_entries() -> impl Strategy<Value = BTreeMap<String, Key>> {
    prop::collection::btree_map(".{1,12}", arb_key(), 0..8)
}

/// A valid node of any kind.
fn arb_node() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        arb_keys(6).prop_map(|c| node::encode_set(&c).unwrap()),
        arb_dict_entries().prop_map(|entries| {
            let entries: Vec<(&str, Key)> = entries.iter().map(|(n, k)| (n.as_str(), *k)).collect();
            node::encode_dict(&entries).unwrap()
        }),
        (arb_keys(6), arb_data(200), 0u8..16)
            .prop_map(|(c, d, e)| node::encode_successor(&c, &d, e).unwrap()),
        (
            arb_keys(6),
            any::<u64>(),
            arb_content_type(),
            arb_data(200),
            0u8..16
        )
            .prop_map(|(c, size, content_type, d, e)| {
                node::encode_file(&c, &FileInfo { size, content_type }, &d, e).unwrap()
            }),
    ]
}

/// Bytes with the right magic and a header whose size and count add up to the length, then
/// arbitrary flags bits 0-7 and arbitrary children/payload: reaches the kind-specific checks.
fn arb_plausible_node() -> impl Strategy<Value = Vec<u8>> {
    (0u32..256, arb_data(300), any::<prop::sample::Index>()).prop_map(|(flags, tail, index)| {
        let count = index.index(tail.len() / 16 + 1);
        let size = tail.len() - 16 * count;
        let mut bytes = Vec::with_capacity(16 + tail.len());
        for word in [node::MAGIC, flags, size as u32, count as u32] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(&tail);
        bytes
    })
}

/// Re-encodes a decoded node from its fields alone.
fn reencode(view: &NodeView<'_>) -> Vec<u8> {
    let children: Vec<Key> = view.children().collect();
    let exponent = view.header().block_size_exponent;
    match view.kind() {
        NodeKind::Set => node::encode_set(&children),
        NodeKind::Dict => {
            let names = view.dict_names().expect("dict names");
            let entries: Vec<(&str, Key)> = names.into_iter().zip(children).collect();
            node::encode_dict(&entries)
        }
        NodeKind::Successor => node::encode_successor(&children, view.data(), exponent),
        NodeKind::File => {
            let info = view.file_info().expect("file info");
            node::encode_file(&children, &info, view.data(), exponent)
        }
    }
    .expect("a decoded node re-encodes")
}

/// The property every input must satisfy: decoding never panics, and whatever decodes is a
/// canonical node (re-encoding its fields gives the same bytes) whose children `child_keys` agrees on.
fn check_decode_is_sound(bytes: &[u8]) -> Result<(), TestCaseError> {
    let child_keys = node::child_keys(bytes);
    match node::decode(bytes) {
        Ok(view) => {
            let children: Vec<Key> = view.children().collect();
            prop_assert_eq!(children.len(), view.child_count());
            prop_assert_eq!(child_keys.as_ref().ok(), Some(&children));
            prop_assert_eq!(
                bytes.len(),
                16 + 16 * view.child_count() + view.payload().len()
            );
            prop_assert_eq!(view.header().size as usize, view.payload().len());
            prop_assert_eq!(reencode(&view), bytes.to_vec());
        }
        Err(_) => {
            // child_keys checks less than decode, so it may still succeed; when it does, its
            // keys are exactly the 16-byte slices after the header.
            if let Ok(keys) = child_keys {
                for (i, key) in keys.iter().enumerate() {
                    prop_assert_eq!(&key.as_bytes()[..], &bytes[16 + 16 * i..32 + 16 * i]);
                }
            }
        }
    }
    Ok(())
}

/// Modest case counts so the file runs in about a second (`PROPTEST_CASES=N` for a deeper run);
/// no regression files are written.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The largest length a size flag can describe: `15 * 16^15`. Nodes are far smaller (the header
/// limits them to about 68 GiB).
const MAX_FLAGGED_LEN: u64 = 15 << 60;

proptest! {
    #![proptest_config(config())]

    #[test]
    fn set_round_trip(children in arb_keys(12)) {
        let bytes = node::encode_set(&children).unwrap();
        let view = node::decode(&bytes).unwrap();
        let mut expected = children.clone();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(view.kind(), NodeKind::Set);
        prop_assert_eq!(view.children().collect::<Vec<_>>(), expected.clone());
        prop_assert_eq!(node::child_keys(&bytes).unwrap(), expected);
        prop_assert!(view.payload().is_empty() && view.data().is_empty());
        // Order of the input does not matter.
        let mut reversed = children;
        reversed.reverse();
        prop_assert_eq!(node::encode_set(&reversed).unwrap(), bytes);
    }

    #[test]
    fn dict_round_trip(entries in arb_dict_entries()) {
        let list: Vec<(&str, Key)> = entries.iter().map(|(n, k)| (n.as_str(), *k)).collect();
        let bytes = node::encode_dict(&list).unwrap();
        let view = node::decode(&bytes).unwrap();
        prop_assert_eq!(view.kind(), NodeKind::Dict);
        // BTreeMap<String, _> iterates in byte order, the order the format requires.
        let names: Vec<&str> = entries.keys().map(String::as_str).collect();
        prop_assert_eq!(view.dict_names().unwrap(), names);
        let keys: Vec<Key> = entries.values().copied().collect();
        prop_assert_eq!(view.children().collect::<Vec<_>>(), keys.clone());
        prop_assert_eq!(node::child_keys(&bytes).unwrap(), keys);
        let mut reversed = list;
        reversed.reverse();
        prop_assert_eq!(node::encode_dict(&reversed).unwrap(), bytes);
    }

    #[test]
    fn dict_refuses_duplicate_names(name in ".{1,12}", a in arb_key(), b in arb_key()) {
        prop_assert!(node::encode_dict(&[(name.as_str(), a), (name.as_str(), b)]).is_err());
    }

    #[test]
    fn successor_round_trip(children in arb_keys(12), data in arb_data(600), exponent in 0u8..16) {
        let bytes = node::encode_successor(&children, &data, exponent).unwrap();
        let view = node::decode(&bytes).unwrap();
        prop_assert_eq!(view.kind(), NodeKind::Successor);
        prop_assert_eq!(view.children().collect::<Vec<_>>(), children.clone());
        prop_assert_eq!(node::child_keys(&bytes).unwrap(), children);
        prop_assert_eq!(view.data(), data.as_slice());
        prop_assert_eq!(view.header().block_size_exponent, exponent);
        prop_assert!(view.file_info().is_none() && view.dict_names().is_none());
    }

    #[test]
    fn file_round_trip(
        children in arb_keys(12),
        size in any::<u64>(),
        content_type in arb_content_type(),
        data in arb_data(600),
        exponent in 0u8..16,
    ) {
        let info = FileInfo { size, content_type };
        let bytes = node::encode_file(&children, &info, &data, exponent).unwrap();
        let view = node::decode(&bytes).unwrap();
        prop_assert_eq!(view.kind(), NodeKind::File);
        prop_assert_eq!(view.children().collect::<Vec<_>>(), children.clone());
        prop_assert_eq!(node::child_keys(&bytes).unwrap(), children);
        prop_assert_eq!(view.file_info(), Some(info));
        prop_assert_eq!(view.data(), data.as_slice());
        prop_assert_eq!(view.header().block_size_exponent, exponent);
    }

    #[test]
    fn file_refuses_bad_content_types(content_type in "[ -~]{57,80}|.*[^ -~].*") {
        let info = FileInfo { size: 0, content_type };
        prop_assert!(node::encode_file(&[], &info, b"", 0).is_err());
    }

    #[test]
    fn keys_round_trip_through_text(bytes in arb_data(300)) {
        let key = Key::for_bytes(&bytes);
        let text = key.to_string();
        prop_assert_eq!(text.len(), 26);
        prop_assert!("048CGMRW".contains(text.chars().last().unwrap()));
        prop_assert_eq!(Key::parse(&text), Ok(key));
        prop_assert_eq!(key.size_flag(), casweb::key::size_flag(bytes.len() as u64));
        prop_assert!(key.max_node_len() >= bytes.len() as u64);
    }

    #[test]
    fn size_flag_is_the_smallest_bound(len in 0..=MAX_FLAGGED_LEN) {
        let flag = casweb::key::size_flag(len);
        let (h, l) = (u32::from(flag >> 4), u128::from(flag & 0x0f));
        prop_assert!(l * 16u128.pow(h) >= u128::from(len));
        if l > 0 {
            prop_assert!((l - 1) * 16u128.pow(h) < u128::from(len));
        }
        if h > 0 {
            prop_assert!(15 * 16u128.pow(h - 1) < u128::from(len));
        }
    }

    #[test]
    fn truncation_is_refused(bytes in arb_node(), cut in any::<prop::sample::Index>()) {
        let at = cut.index(bytes.len());
        prop_assert!(node::decode(&bytes[..at]).is_err());
        prop_assert!(node::child_keys(&bytes[..at]).is_err());
    }

    #[test]
    fn appended_bytes_are_refused(bytes in arb_node(), extra in prop::collection::vec(any::<u8>(), 1..64)) {
        let mut longer = bytes;
        longer.extend_from_slice(&extra);
        prop_assert!(node::decode(&longer).is_err());
        prop_assert!(node::child_keys(&longer).is_err());
    }

    #[test]
    fn flipped_byte_is_refused_or_consistent(
        bytes in arb_node(),
        at in any::<prop::sample::Index>(),
        mask in 1u8..,
    ) {
        let mut corrupt = bytes.clone();
        let i = at.index(corrupt.len());
        corrupt[i] ^= mask;
        check_decode_is_sound(&corrupt)?;
        if i < 16 {
            // Any change to the magic, size or count fields breaks the node.
            if !(4..8).contains(&i) {
                prop_assert!(node::decode(&corrupt).is_err());
            }
        }
    }

    #[test]
    fn several_flipped_bytes_are_refused_or_consistent(
        bytes in arb_node(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut corrupt = bytes;
        for (at, value) in flips {
            let i = at.index(corrupt.len());
            corrupt[i] = value;
        }
        check_decode_is_sound(&corrupt)?;
    }

    #[test]
    fn garbage_is_refused_or_consistent(bytes in arb_data(600)) {
        check_decode_is_sound(&bytes)?;
    }

    #[test]
    fn plausible_garbage_is_refused_or_consistent(bytes in arb_plausible_node()) {
        check_decode_is_sound(&bytes)?;
    }

    #[test]
    fn key_parse_never_panics(text in ".{0,40}") {
        if let Ok(key) = Key::parse(&text) {
            prop_assert_eq!(key.to_string(), text);
        }
    }

    #[test]
    fn key_parse_of_alphabet_strings(text in "[0-9A-Z]{26}") {
        match crockford::decode16(&text) {
            Ok(bytes) => {
                prop_assert_eq!(crockford::encode16(&bytes), text.clone());
                let flag = bytes[0];
                prop_assert_eq!(Key::parse(&text).is_ok(), flag >> 4 == 0 || flag & 0x0f != 0);
            }
            Err(_) => prop_assert!(Key::parse(&text).is_err()),
        }
    }

    #[test]
    fn crockford_decode_never_panics(text in any::<String>()) {
        if let Ok(bytes) = crockford::decode16(&text) {
            prop_assert_eq!(crockford::encode16(&bytes), text);
        }
    }

    #[test]
    fn crockford_round_trip(bytes in any::<[u8; 16]>()) {
        let text = crockford::encode16(&bytes);
        prop_assert_eq!(text.len(), crockford::ENCODED_LEN);
        prop_assert_eq!(crockford::decode16(&text), Ok(bytes));
    }
}

/// `key::size_flag` for a length no flag can describe (above `15 * 16^15`): H would be 16, which
/// does not fit in 4 bits. An earlier version wrapped to 0x01 ("at most 1 byte"); it saturates.
#[test]
fn size_flag_beyond_the_largest_bound() {
    // Documented saturation: beyond the largest bound the flag is 0xff, never a wrapped value.
    assert_eq!(casweb::key::size_flag(MAX_FLAGGED_LEN), 0xff);
    for len in [MAX_FLAGGED_LEN + 1, u64::MAX] {
        assert_eq!(casweb::key::size_flag(len), 0xff, "size_flag({len})");
    }
}
