//! Browser tests of the JS `topoSortLevels`: levels children first, the caller's own strings
//! back, repeated keys, children outside the set, cycles, and typed errors for bad arguments.
#![cfg(target_arch = "wasm32")]

use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use casweb::js::topo_sort_levels_js;
use casweb::sync::topo_sort_levels;
use casweb::Key;

wasm_bindgen_test_configure!(run_in_browser);

fn key(n: u32) -> String {
    Key::for_bytes(&n.to_le_bytes()).to_string()
}

fn strings(items: &[&String]) -> JsValue {
    items
        .iter()
        .map(|s| JsValue::from(s.as_str()))
        .collect::<Array>()
        .into()
}

fn lists(items: &[Vec<&String>]) -> JsValue {
    items
        .iter()
        .map(|list| strings(list))
        .collect::<Array>()
        .into()
}

fn field(object: &JsValue, name: &str) -> JsValue {
    js_sys::Reflect::get(object, &name.into()).unwrap()
}

fn to_strings(value: &JsValue) -> Vec<String> {
    Array::from(value)
        .iter()
        .map(|s| s.as_string().unwrap())
        .collect()
}

fn levels_of(sorted: &JsValue) -> Vec<Vec<String>> {
    Array::from(&field(sorted, "levels"))
        .iter()
        .map(|level| to_strings(&level))
        .collect()
}

fn error_code(error: &JsValue) -> String {
    assert_eq!(
        field(error, "name").as_string().as_deref(),
        Some("CaswebError")
    );
    field(error, "code").as_string().unwrap()
}

#[wasm_bindgen_test]
fn diamond_sorts_children_first_in_input_order() {
    // d -> (b, c) -> a, given parents first; `outside` is not in the set.
    let (a, b, c, d, outside) = (key(1), key(2), key(3), key(4), key(99));
    let sorted = topo_sort_levels_js(
        strings(&[&d, &c, &b, &a]),
        lists(&[vec![&b, &c], vec![&a, &outside], vec![&a], vec![]]),
    )
    .unwrap();
    assert_eq!(
        levels_of(&sorted),
        vec![vec![a.clone()], vec![c.clone(), b.clone()], vec![d.clone()]]
    );
    assert!(to_strings(&field(&sorted, "cyclic")).is_empty());
}

#[wasm_bindgen_test]
fn repeated_keys_count_once_and_cycles_are_reported() {
    let (a, b, c, free) = (key(1), key(2), key(3), key(4));
    // a appears twice: its first children (b) win, so a <-> b is a cycle and c sits above it.
    let sorted = topo_sort_levels_js(
        strings(&[&a, &b, &c, &free, &a]),
        lists(&[vec![&b], vec![&a], vec![&a], vec![], vec![]]),
    )
    .unwrap();
    assert_eq!(levels_of(&sorted), vec![vec![free.clone()]]);
    let mut expected = vec![a, b, c];
    expected.sort();
    assert_eq!(to_strings(&field(&sorted, "cyclic")), expected);
}

#[wasm_bindgen_test]
fn empty_input_gives_no_levels() {
    let sorted = topo_sort_levels_js(Array::new().into(), Array::new().into()).unwrap();
    assert!(levels_of(&sorted).is_empty());
}

#[wasm_bindgen_test]
fn bad_arguments_are_typed_errors() {
    let (a, b) = (key(1), key(2));
    let two_in_one = format!("{a},{b}");
    let cases: Vec<(JsValue, JsValue, &str)> = vec![
        (JsValue::from(3), Array::new().into(), "invalid_argument"),
        (strings(&[&a]), Array::new().into(), "invalid_argument"),
        (strings(&[&a]), lists(&[vec![]]), "ok"),
        (
            strings(&[&a]),
            Array::of1(&JsValue::from(5)).into(),
            "invalid_argument",
        ),
        (
            Array::of1(&JsValue::NULL).into(),
            lists(&[vec![]]),
            "invalid_argument",
        ),
        (
            strings(&[&"not a key".to_string()]),
            lists(&[vec![]]),
            "invalid_key",
        ),
        (
            strings(&[&a]),
            lists(&[vec![&"0000".to_string()]]),
            "invalid_key",
        ),
        (
            strings(&[&a, &b]),
            lists(&[vec![&two_in_one], vec![]]),
            "invalid_argument",
        ),
        (
            strings(&[&two_in_one]),
            lists(&[vec![]]),
            "invalid_argument",
        ),
        (
            strings(&[&a]),
            Array::of1(&Array::of1(&JsValue::from(5))).into(),
            "invalid_argument",
        ),
        (
            strings(&[&a, &String::new()]),
            lists(&[vec![], vec![]]),
            "invalid_key",
        ),
        (
            strings(&[&"0000000000000000000000000é".to_string()]),
            lists(&[vec![]]),
            "invalid_key",
        ),
        (
            strings(&[&a]),
            lists(&[vec![&format!("{b},")]]),
            "invalid_key",
        ),
    ];
    for (i, (keys, children, expected)) in cases.into_iter().enumerate() {
        let code = match topo_sort_levels_js(keys, children) {
            Ok(_) => "ok".to_string(),
            Err(error) => error_code(&error),
        };
        assert_eq!(code, expected, "case {i}");
    }
}

#[wasm_bindgen_test]
fn sorts_like_the_sync_engine() {
    // Repeated keys, repeated and outside children, and cycles, in pseudo-random graphs.
    let mut state = 0x9e37_79b9u32;
    let mut random = |below: u32| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state % below
    };
    for round in 0..20 {
        let nodes: Vec<(Key, Vec<Key>)> = (0..200)
            .map(|_| {
                let node = random(150);
                let children = (0..random(5))
                    .map(|_| {
                        let child = if round % 4 == 0 {
                            random(170)
                        } else {
                            random(node + 1)
                        };
                        Key::for_bytes(&child.to_le_bytes())
                    })
                    .collect();
                (Key::for_bytes(&node.to_le_bytes()), children)
            })
            .collect();
        let texts: Vec<String> = nodes.iter().map(|(key, _)| key.to_string()).collect();
        let child_texts: Vec<Vec<String>> = nodes
            .iter()
            .map(|(_, children)| children.iter().map(Key::to_string).collect())
            .collect();
        let sorted = topo_sort_levels_js(
            strings(&texts.iter().collect::<Vec<_>>()),
            lists(
                &child_texts
                    .iter()
                    .map(|list| list.iter().collect())
                    .collect::<Vec<_>>(),
            ),
        )
        .unwrap();
        let expected = topo_sort_levels(&nodes);
        let as_text = |keys: &Vec<Key>| keys.iter().map(Key::to_string).collect::<Vec<_>>();
        let expected_levels: Vec<Vec<String>> = expected.levels.iter().map(as_text).collect();
        assert_eq!(levels_of(&sorted), expected_levels, "round {round}");
        assert_eq!(
            to_strings(&field(&sorted, "cyclic")),
            as_text(&expected.cyclic),
            "round {round}"
        );
    }
}
