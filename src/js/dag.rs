//! `topoSortLevels` exported to JS: the sync engine's topological sort (Kahn, children first)
//! for any DAG given as key strings, with the JS/wasm crossing done in bulk.
//!
//! Crossing the boundary one string at a time would cost more than the sort itself, so a small
//! JS helper flattens the input into two comma-joined strings and a `Uint32Array` of child
//! counts (each crosses once), and the levels come back as indices into `keys`, which the helper
//! turns back into the caller's own strings.

use std::collections::HashMap;

use js_sys::Uint32Array;
use wasm_bindgen::prelude::*;

use super::error::{js, JsResult};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::sync::topo_sort_levels;

#[wasm_bindgen(inline_js = r#"
export function packDag(keys, children) {
  if (!Array.isArray(keys) || !Array.isArray(children)) {
    return { error: "keys and children must be arrays" };
  }
  if (keys.length !== children.length) {
    return { error: `keys and children must have the same length, got ${keys.length} and ${children.length}` };
  }
  const counts = new Uint32Array(keys.length);
  const flat = [];
  for (let i = 0; i < keys.length; i++) {
    if (typeof keys[i] !== "string") return { error: `keys[${i}] must be a string` };
    const list = children[i];
    if (!Array.isArray(list)) return { error: `children[${i}] must be an array of key strings` };
    for (const child of list) {
      if (typeof child !== "string") return { error: `children[${i}] must hold key strings` };
      flat.push(child);
    }
    counts[i] = list.length;
  }
  return { keys: keys.join(","), childKeys: flat.join(","), childCounts: counts };
}

export function unpackLevels(keys, order, levelSizes, cyclic) {
  const levels = [];
  let at = 0;
  for (const size of levelSizes) {
    const level = new Array(size);
    for (let i = 0; i < size; i++) level[i] = keys[order[at + i]];
    levels.push(level);
    at += size;
  }
  return { levels, cyclic: Array.from(cyclic, (i) => keys[i]) };
}
"#)]
extern "C" {
    /// `{ error }` or `{ keys, childKeys, childCounts }`: the DAG in three bulk values.
    type PackedDag;
    #[wasm_bindgen(js_name = packDag)]
    fn pack_dag(keys: &JsValue, children: &JsValue) -> PackedDag;
    #[wasm_bindgen(method, getter)]
    fn error(this: &PackedDag) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn keys(this: &PackedDag) -> String;
    #[wasm_bindgen(method, getter = childKeys)]
    fn child_keys(this: &PackedDag) -> String;
    #[wasm_bindgen(method, getter = childCounts)]
    fn child_counts(this: &PackedDag) -> Vec<u32>;

    /// `{ levels, cyclic }` with the caller's key strings, from indices into `keys`.
    #[wasm_bindgen(js_name = unpackLevels)]
    fn unpack_levels(
        keys: &JsValue,
        order: Uint32Array,
        level_sizes: Uint32Array,
        cyclic: Uint32Array,
    ) -> JsValue;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_DAG: &'static str = r#"
/** A DAG cut into levels, children first: every child of a node (among the input keys) is in
 *  an earlier level. */
export interface TopoLevels {
  levels: string[][];
  /** Keys on a cycle or above one (sorted), which no order can place. */
  cyclic: string[];
}
"#;

/// The keys of a comma-separated list (empty text: none).
fn parse_key_list(text: &str) -> Result<Vec<Key>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',').map(|key| Ok(Key::parse(key)?)).collect()
}

/// Sorts a DAG into levels, children first (Kahn's algorithm, O(N + E)). `keys[i]` is a node
/// and `children[i]` the keys of its children; children that are not among `keys` are ignored.
/// A key given twice is taken once (its first children win). Nodes on a cycle, or above one,
/// are returned in `cyclic` instead of hanging. Throws `invalid_argument` unless `keys` is an
/// array of strings and `children` an array as long of arrays of strings, and `invalid_key` for
/// a string that is not a key.
#[wasm_bindgen(js_name = topoSortLevels, unchecked_return_type = "TopoLevels")]
pub fn topo_sort_levels_js(
    #[wasm_bindgen(unchecked_param_type = "string[]")] keys: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string[][]")] children: JsValue,
) -> JsResult<JsValue> {
    let packed = pack_dag(&keys, &children);
    if let Some(message) = packed.error() {
        return js(Err(Error::InvalidArgument(message)));
    }
    let node_keys = js(parse_key_list(&packed.keys()))?;
    let counts = packed.child_counts();
    let child_keys = js(parse_key_list(&packed.child_keys()))?;
    let mut remaining = child_keys.as_slice();
    let mut nodes = Vec::with_capacity(node_keys.len());
    for (key, count) in node_keys.iter().zip(&counts) {
        // Two keys in one string ("K1,K2") would shift the lists: refused, never a panic.
        let count = *count as usize;
        if count > remaining.len() {
            return js(Err(Error::InvalidArgument(
                "key strings must not contain commas".into(),
            )));
        }
        let (own, rest) = remaining.split_at(count);
        nodes.push((*key, own.to_vec()));
        remaining = rest;
    }
    if node_keys.len() != counts.len() || !remaining.is_empty() {
        return js(Err(Error::InvalidArgument(
            "key strings must not contain commas".into(),
        )));
    }
    let sorted = topo_sort_levels(&nodes);
    // Back to indices into `keys` (a repeated key: its first position, as the sort takes it).
    let mut first_index: HashMap<Key, u32> = HashMap::with_capacity(node_keys.len());
    for (i, key) in node_keys.iter().enumerate() {
        first_index.entry(*key).or_insert(i as u32);
    }
    let index_of = |key: &Key| first_index[key];
    let order: Vec<u32> = sorted.levels.iter().flatten().map(index_of).collect();
    let level_sizes: Vec<u32> = sorted
        .levels
        .iter()
        .map(|level| level.len() as u32)
        .collect();
    let cyclic: Vec<u32> = sorted.cyclic.iter().map(index_of).collect();
    Ok(unpack_levels(
        &keys,
        Uint32Array::from(order.as_slice()),
        Uint32Array::from(level_sizes.as_slice()),
        Uint32Array::from(cyclic.as_slice()),
    ))
}
