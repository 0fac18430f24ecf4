//! Browser tests of the JS `topoSortLevelsPacked`: the same levels and cycles as `topoSortLevels`
//! on random DAGs (repeated keys, cycles), as positions, and typed errors for malformed input.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use casweb::js::{topo_sort_levels_js, topo_sort_levels_packed_js};
use casweb::Key;

wasm_bindgen_test_configure!(run_in_browser);

fn key(n: u32) -> Key {
    Key::for_bytes(&n.to_le_bytes())
}

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap()
}

fn packed_keys(keys: &[Key]) -> JsValue {
    let bytes: Vec<u8> = keys.iter().flat_map(|key| *key.as_bytes()).collect();
    Uint8Array::from(bytes.as_slice()).into()
}

fn numbers(values: &[u32]) -> JsValue {
    Uint32Array::from(values).into()
}

fn strings<'a>(keys: impl IntoIterator<Item = &'a Key>) -> Array {
    keys.into_iter()
        .map(|key| JsValue::from(key.to_string()))
        .collect()
}

/// Levels and cyclic as key strings, from positions into `keys`.
fn keys_at(sorted: &JsValue, keys: &[Key]) -> (Vec<Vec<String>>, Vec<String>) {
    let at = |positions: &JsValue| -> Vec<String> {
        Uint32Array::from(positions.clone())
            .to_vec()
            .iter()
            .map(|&p| keys[p as usize].to_string())
            .collect()
    };
    let levels = Array::from(&field(sorted, "levels"))
        .iter()
        .map(|level| at(&level))
        .collect();
    (levels, at(&field(sorted, "cyclic")))
}

fn strings_of(sorted: &JsValue) -> (Vec<Vec<String>>, Vec<String>) {
    let list = |value: JsValue| -> Vec<String> {
        Array::from(&value)
            .iter()
            .map(|s| s.as_string().unwrap())
            .collect()
    };
    let levels = Array::from(&field(sorted, "levels"))
        .iter()
        .map(list)
        .collect();
    (levels, list(field(sorted, "cyclic")))
}

fn error_code(error: &JsValue) -> String {
    assert_eq!(
        field(error, "name").as_string().as_deref(),
        Some("CaswebError")
    );
    field(error, "code").as_string().unwrap()
}

#[wasm_bindgen_test]
fn sorts_like_the_string_entry_point() {
    let mut state = 0x2545_f491u32;
    let mut random = |below: u32| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state % below
    };
    for round in 0..60 {
        // A small pool of keys makes repeated keys likely; a child at any position makes cycles.
        let pool = 2 + round % 30;
        let keys: Vec<Key> = (0..1 + random(120)).map(|_| key(random(pool))).collect();
        let mut counts = Vec::new();
        let mut children = Vec::new();
        for position in 0..keys.len() as u32 {
            let count = random(4);
            counts.push(count);
            for _ in 0..count {
                children.push(if round % 3 == 0 && random(6) == 0 {
                    random(keys.len() as u32)
                } else {
                    random(position + 1)
                });
            }
        }
        let mut at = 0;
        let child_lists: Array = counts
            .iter()
            .map(|&count| {
                let own = &children[at..at + count as usize];
                at += count as usize;
                JsValue::from(strings(own.iter().map(|&c| &keys[c as usize])))
            })
            .collect();
        let packed =
            topo_sort_levels_packed_js(packed_keys(&keys), numbers(&counts), numbers(&children))
                .unwrap();
        let text = topo_sort_levels_js(strings(&keys).into(), child_lists.into()).unwrap();
        assert_eq!(keys_at(&packed, &keys), strings_of(&text), "round {round}");
    }
}

#[wasm_bindgen_test]
fn levels_are_positions_in_input_order() {
    // d -> (b, c) -> a, given parents first, with a given again at the end.
    let (a, b, c, d) = (key(1), key(2), key(3), key(4));
    let sorted = topo_sort_levels_packed_js(
        packed_keys(&[d, c, b, a, a]),
        numbers(&[2, 1, 1, 0, 1]),
        numbers(&[2, 1, 3, 3, 0]),
    )
    .unwrap();
    let levels: Vec<Vec<u32>> = Array::from(&field(&sorted, "levels"))
        .iter()
        .map(|level| Uint32Array::from(level).to_vec())
        .collect();
    assert_eq!(levels, vec![vec![3], vec![1, 2], vec![0]]);
    assert_eq!(Uint32Array::from(field(&sorted, "cyclic")).length(), 0);
    let empty = topo_sort_levels_packed_js(packed_keys(&[]), numbers(&[]), numbers(&[])).unwrap();
    assert_eq!(Array::from(&field(&empty, "levels")).length(), 0);
}

#[wasm_bindgen_test]
fn cycles_are_reported_by_position() {
    // a <-> b, c above them, and a self-loop on e; `free` alone is placed.
    let (a, b, c, free, e) = (key(1), key(2), key(3), key(4), key(5));
    let keys = [a, b, c, free, e];
    let sorted = topo_sort_levels_packed_js(
        packed_keys(&keys),
        numbers(&[1, 1, 1, 0, 1]),
        numbers(&[1, 0, 0, 4]),
    )
    .unwrap();
    let (levels, cyclic) = keys_at(&sorted, &keys);
    assert_eq!(levels, vec![vec![free.to_string()]]);
    let mut expected = [a, b, c, e];
    expected.sort_unstable();
    assert_eq!(
        cyclic,
        expected.iter().map(Key::to_string).collect::<Vec<_>>()
    );
}

#[wasm_bindgen_test]
fn malformed_input_is_a_typed_error() {
    let two = packed_keys(&[key(1), key(2)]);
    let mut bad_flag = [0u8; 16];
    bad_flag[0] = 0x10;
    let cases: Vec<(JsValue, JsValue, JsValue, &str)> = vec![
        (two.clone(), numbers(&[0, 0]), numbers(&[]), "ok"),
        // Not typed arrays.
        (
            Array::new().into(),
            numbers(&[]),
            numbers(&[]),
            "invalid_argument",
        ),
        (
            two.clone(),
            Array::new().into(),
            numbers(&[]),
            "invalid_argument",
        ),
        (
            two.clone(),
            numbers(&[0, 0]),
            Uint8Array::new_with_length(0).into(),
            "invalid_argument",
        ),
        // Wrong lengths: 17 key bytes, one count for two keys, counts adding up to more or less.
        (
            Uint8Array::new_with_length(17).into(),
            numbers(&[0]),
            numbers(&[]),
            "invalid_argument",
        ),
        (two.clone(), numbers(&[0]), numbers(&[]), "invalid_argument"),
        (
            two.clone(),
            numbers(&[1, 1]),
            numbers(&[0]),
            "invalid_argument",
        ),
        (
            two.clone(),
            numbers(&[0, 1]),
            numbers(&[0, 1]),
            "invalid_argument",
        ),
        (
            two.clone(),
            numbers(&[u32::MAX, u32::MAX]),
            numbers(&[0]),
            "invalid_argument",
        ),
        // A child position out of range.
        (
            two.clone(),
            numbers(&[1, 0]),
            numbers(&[2]),
            "invalid_argument",
        ),
        // Bytes that are no key (size flag with L = 0 and H > 0).
        (
            Uint8Array::from(bad_flag.as_slice()).into(),
            numbers(&[0]),
            numbers(&[]),
            "invalid_key",
        ),
    ];
    for (i, (keys, counts, children, expected)) in cases.into_iter().enumerate() {
        let code = match topo_sort_levels_packed_js(keys, counts, children) {
            Ok(_) => "ok".to_string(),
            Err(error) => error_code(&error),
        };
        assert_eq!(code, expected, "case {i}");
    }
}
