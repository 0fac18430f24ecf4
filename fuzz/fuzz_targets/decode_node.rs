//! Fuzzes the node decoder, `child_keys` and key parsing: none may panic, and whatever decodes
//! must be self-consistent.
#![no_main]

use casweb::node::{self, NodeKind};
use casweb::{crockford, Key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let child_keys = node::child_keys(data);
    if let Ok(view) = node::decode(data) {
        let children: Vec<Key> = view.children().collect();
        assert_eq!(children.len(), view.child_count());
        assert_eq!(child_keys.as_ref().ok(), Some(&children));
        assert_eq!(view.header().size as usize, view.payload().len());
        let _ = view.data();
        match view.kind() {
            NodeKind::Dict => assert_eq!(view.dict_names().map(|n| n.len()), Some(children.len())),
            NodeKind::File => assert!(view.file_info().is_some()),
            NodeKind::Set | NodeKind::Successor => {
                assert!(view.dict_names().is_none() && view.file_info().is_none())
            }
        }
        let key = Key::for_bytes(data);
        assert!(key.matches(data));
        assert!(key.max_node_len() >= data.len() as u64);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = Key::parse(text) {
            assert_eq!(key.to_string(), text);
        }
        if let Ok(bytes) = crockford::decode16(text) {
            assert_eq!(crockford::encode16(&bytes), text);
        }
    }
});
