#![cfg(not(target_arch = "wasm32"))]
//! Checks keys, size flags, Crockford base32, the node codec, proofs of possession and the chunker
//! layout against `tests/fixtures/vectors.json`, computed independently by
//! `tests/fixtures/gen_vectors.py` (Python + the `blake3` package, nodes packed by hand).

use bytes::Bytes;
use casweb::chunker::{self, ChunkOptions};
use casweb::node::{self, FileInfo, NodeKind};
use casweb::{crockford, key, pop, Key, MemoryStorage, StorageProvider};
use futures::executor::block_on;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    nodes: Vec<NodeVector>,
    invalid_nodes: Vec<InvalidNode>,
    size_flags: Vec<SizeFlagCase>,
    crockford: Vec<CrockfordCase>,
    crockford_invalid: Vec<String>,
    key_invalid: Vec<String>,
    pop: Vec<PopCase>,
    file: FileVector,
}

#[derive(Deserialize)]
struct NodeVector {
    name: String,
    kind: String,
    hex: String,
    len: usize,
    key: String,
    size_flag: u8,
    children: Vec<String>,
    names: Option<Vec<String>>,
    data_hex: Option<String>,
    file_size: Option<u64>,
    content_type: Option<String>,
    block_size_exponent: Option<u8>,
}

#[derive(Deserialize)]
struct InvalidNode {
    name: String,
    hex: String,
    child_keys_ok: bool,
}

#[derive(Deserialize)]
struct SizeFlagCase {
    len: u64,
    flag: u8,
}

#[derive(Deserialize)]
struct CrockfordCase {
    hex: String,
    text: String,
}

#[derive(Deserialize)]
struct PopCase {
    token_hex: String,
    node_hex: String,
    pop: String,
}

#[derive(Deserialize)]
struct FileVector {
    chunk_size: usize,
    content_type: String,
    data_hex: String,
    root: String,
    nodes_hex: Vec<String>,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("fixtures/vectors.json")).expect("vectors.json parses")
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn kind_of(name: &str) -> NodeKind {
    match name {
        "set" => NodeKind::Set,
        "dict" => NodeKind::Dict,
        "successor" => NodeKind::Successor,
        "file" => NodeKind::File,
        other => panic!("unknown kind {other}"),
    }
}

fn parse_keys(texts: &[String]) -> Vec<Key> {
    texts.iter().map(|t| Key::parse(t).expect("key")).collect()
}

#[test]
fn vectors_cover_every_kind_and_the_empty_dict() {
    let v = vectors();
    for kind in ["set", "dict", "successor", "file"] {
        assert!(v.nodes.iter().any(|n| n.kind == kind), "no {kind} vector");
    }
    let empty = v.nodes.iter().find(|n| n.name == "empty dict").unwrap();
    assert_eq!(empty.key, "240B5PHBGEC2A705WTKKMVRS30");
    assert_eq!(
        Key::for_bytes(&node::encode_dict(&[]).unwrap()).to_string(),
        empty.key
    );
    for len in [16, 17, 240, 241, 257] {
        assert!(v.nodes.iter().any(|n| n.len == len), "no {len}-byte node");
    }
}

#[test]
fn node_keys_match() {
    for n in vectors().nodes {
        let bytes = unhex(&n.hex);
        assert_eq!(bytes.len(), n.len, "{}", n.name);
        let key = Key::for_bytes(&bytes);
        assert_eq!(key.to_string(), n.key, "{}", n.name);
        assert_eq!(key.size_flag(), n.size_flag, "{}", n.name);
        assert_eq!(key.as_bytes()[0], n.size_flag, "{}", n.name);
        assert_eq!(key::size_flag(n.len as u64), n.size_flag, "{}", n.name);
        assert!(key.max_node_len() >= n.len as u64, "{}", n.name);
        assert!(key.matches(&bytes), "{}", n.name);
        let parsed = Key::parse(&n.key).expect("vector key parses");
        assert_eq!(parsed, key, "{}", n.name);
        assert_eq!(n.key.parse::<Key>(), Ok(key), "{}", n.name);
        assert_eq!(Key::from_slice(key.as_bytes()), Ok(key), "{}", n.name);
    }
}

#[test]
fn nodes_decode_with_their_fields() {
    for n in vectors().nodes {
        let bytes = unhex(&n.hex);
        let view = node::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", n.name));
        let children = parse_keys(&n.children);
        assert_eq!(view.kind(), kind_of(&n.kind), "{}", n.name);
        assert_eq!(view.child_count(), children.len(), "{}", n.name);
        assert_eq!(view.children().collect::<Vec<_>>(), children, "{}", n.name);
        assert_eq!(node::child_keys(&bytes).unwrap(), children, "{}", n.name);
        assert_eq!(
            view.header().block_size_exponent,
            n.block_size_exponent.unwrap_or(0),
            "{}",
            n.name
        );
        if let Some(data) = &n.data_hex {
            assert_eq!(view.data(), unhex(data).as_slice(), "{}", n.name);
        }
        match view.kind() {
            NodeKind::Dict => {
                let names = n.names.as_ref().expect("dict vector has names");
                let got: Vec<String> = view
                    .dict_names()
                    .unwrap()
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                assert_eq!(&got, names, "{}", n.name);
            }
            NodeKind::File => {
                let info = view.file_info().expect("file info");
                assert_eq!(Some(info.size), n.file_size, "{}", n.name);
                assert_eq!(
                    Some(&info.content_type),
                    n.content_type.as_ref(),
                    "{}",
                    n.name
                );
            }
            NodeKind::Set | NodeKind::Successor => {
                assert!(view.dict_names().is_none() && view.file_info().is_none());
            }
        }
    }
}

#[test]
fn encoders_reproduce_the_vector_bytes() {
    for n in vectors().nodes {
        let bytes = unhex(&n.hex);
        let children = parse_keys(&n.children);
        let exponent = n.block_size_exponent.unwrap_or(0);
        let data = n.data_hex.as_deref().map(unhex).unwrap_or_default();
        let encoded = match kind_of(&n.kind) {
            NodeKind::Set => node::encode_set(&children),
            NodeKind::Dict => {
                let names = n.names.as_ref().unwrap();
                // Feed the entries in reverse: the encoder must sort them.
                let entries: Vec<(&str, Key)> = names
                    .iter()
                    .map(String::as_str)
                    .zip(children.iter().copied())
                    .rev()
                    .collect();
                node::encode_dict(&entries)
            }
            NodeKind::Successor => node::encode_successor(&children, &data, exponent),
            NodeKind::File => {
                let info = FileInfo {
                    size: n.file_size.unwrap(),
                    content_type: n.content_type.clone().unwrap(),
                };
                node::encode_file(&children, &info, &data, exponent)
            }
        }
        .unwrap_or_else(|e| panic!("{}: {e}", n.name));
        assert_eq!(encoded, bytes, "{}", n.name);
    }
}

#[test]
fn invalid_nodes_are_refused() {
    for n in vectors().invalid_nodes {
        let bytes = unhex(&n.hex);
        assert!(
            node::decode(&bytes).is_err(),
            "{}: decoded an invalid node",
            n.name
        );
        assert_eq!(
            node::child_keys(&bytes).is_ok(),
            n.child_keys_ok,
            "{}: child_keys",
            n.name
        );
    }
}

#[test]
fn size_flags_match() {
    for case in vectors().size_flags {
        assert_eq!(key::size_flag(case.len), case.flag, "len {}", case.len);
        assert!(
            key::size_flag_limit(case.flag) >= case.len,
            "len {}",
            case.len
        );
    }
}

#[test]
fn crockford_matches_both_ways() {
    for case in vectors().crockford {
        let bytes: [u8; 16] = unhex(&case.hex).try_into().expect("16 bytes");
        assert_eq!(crockford::encode16(&bytes), case.text, "{}", case.hex);
        assert_eq!(crockford::decode16(&case.text), Ok(bytes), "{}", case.text);
    }
}

#[test]
fn non_canonical_crockford_is_refused() {
    for text in vectors().crockford_invalid {
        assert!(crockford::decode16(&text).is_err(), "{text:?} decoded");
        assert!(Key::parse(&text).is_err(), "{text:?} parsed as a key");
    }
}

#[test]
fn non_canonical_size_flag_keys_are_refused() {
    for text in vectors().key_invalid {
        assert!(crockford::decode16(&text).is_ok(), "{text} is valid base32");
        assert!(Key::parse(&text).is_err(), "{text} parsed as a key");
    }
}

#[test]
fn proofs_of_possession_match() {
    for case in vectors().pop {
        let token = unhex(&case.token_hex);
        let node_bytes = unhex(&case.node_hex);
        assert_eq!(
            pop::proof(&token, &node_bytes),
            case.pop,
            "{}",
            case.token_hex
        );
        assert!(pop::verify(&token, &node_bytes, &case.pop));
        // Any other token, other bytes or a damaged proof fails.
        let mut other_token = token.clone();
        other_token.push(0);
        assert!(!pop::verify(&other_token, &node_bytes, &case.pop));
        let mut other_bytes = node_bytes.clone();
        other_bytes.push(0);
        assert!(!pop::verify(&token, &other_bytes, &case.pop));
        assert!(!pop::verify(&token, &node_bytes, &case.pop[4..]));
        assert!(!pop::verify(
            &token,
            &node_bytes,
            &case.pop.to_ascii_lowercase()
        ));
        let mut damaged = case.pop.clone().into_bytes();
        damaged[4] = if damaged[4] == b'0' { b'1' } else { b'0' };
        assert!(!pop::verify(
            &token,
            &node_bytes,
            std::str::from_utf8(&damaged).unwrap()
        ));
    }
}

#[test]
fn file_dag_reads_back_and_chunker_reproduces_it() {
    let f = vectors().file;
    let data = unhex(&f.data_hex);
    let storage = MemoryStorage::new();
    block_on(async {
        for hex in &f.nodes_hex {
            let bytes = unhex(hex);
            storage
                .put(Key::for_bytes(&bytes), Bytes::from(bytes))
                .await
                .unwrap();
        }
    });
    let root = Key::parse(&f.root).unwrap();
    let file = block_on(chunker::read_file(&storage, root)).unwrap();
    assert_eq!(file.data, data);
    assert_eq!(file.content_type, f.content_type);

    let dag = chunker::chunk_file(
        &data,
        &ChunkOptions {
            chunk_size: f.chunk_size,
            content_type: f.content_type.clone(),
        },
    )
    .unwrap();
    assert_eq!(dag.root, root);
    let ours: Vec<String> = dag
        .nodes
        .iter()
        .map(|(_, b)| b.iter().map(|x| format!("{x:02x}")).collect())
        .collect();
    assert_eq!(ours, f.nodes_hex);
}
