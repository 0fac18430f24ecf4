//! `topoSortLevels` exported to JS: the sync engine's topological sort (Kahn, children first)
//! for any DAG given as key strings, with the JS/wasm crossing done in bulk.
//!
//! Crossing the boundary one string at a time would cost more than the sort itself, so a small
//! JS helper flattens the input into two comma-joined strings and a `Uint32Array` of child
//! counts; `TextEncoder.encodeInto` writes each string straight into wasm memory, where the keys
//! are decoded in place. The sort works on node numbers (see `crate::sync::topo`), and the levels
//! come back as indices into `keys`, which the helper turns back into the caller's own strings.

use js_sys::{JsString, Uint32Array};
use wasm_bindgen::prelude::*;

use super::error::{js, JsResult};
use crate::crockford::ENCODED_LEN;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::sync::topo::Numbering;

#[wasm_bindgen(inline_js = r#"
const utf8 = new TextEncoder();

export function encodeInto(text, bytes) {
  return utf8.encodeInto(text, bytes).read;
}

export function packDag(keys, children) {
  if (!Array.isArray(keys) || !Array.isArray(children)) {
    return { error: "keys and children must be arrays" };
  }
  if (keys.length !== children.length) {
    return { error: `keys and children must have the same length, got ${keys.length} and ${children.length}` };
  }
  const counts = new Uint32Array(keys.length);
  const childKeys = [];
  for (let i = 0; i < keys.length; i++) {
    if (typeof keys[i] !== "string") return { error: `keys[${i}] must be a string` };
    const list = children[i];
    if (!Array.isArray(list)) return { error: `children[${i}] must be an array of key strings` };
    for (let c = 0; c < list.length; c++) {
      const child = list[c];
      if (typeof child !== "string") return { error: `children[${i}] must hold key strings` };
      childKeys.push(child);
    }
    counts[i] = list.length;
  }
  return { keys: keys.join(","), childKeys: childKeys.join(","), childCounts: counts };
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

export function positionLevels(order, levelSizes, cyclic) {
  const levels = new Array(levelSizes.length);
  let at = 0;
  for (let i = 0; i < levelSizes.length; i++) {
    levels[i] = order.subarray(at, at + levelSizes[i]);
    at += levelSizes[i];
  }
  return { levels, cyclic };
}
"#)]
extern "C" {
    /// `{ error }` or `{ keys, childKeys, childCounts }`: the DAG in three bulk values, the key
    /// lists as comma-joined UTF-8.
    type PackedDag;
    #[wasm_bindgen(js_name = packDag)]
    fn pack_dag(keys: &JsValue, children: &JsValue) -> PackedDag;
    #[wasm_bindgen(method, getter)]
    fn error(this: &PackedDag) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn keys(this: &PackedDag) -> JsString;
    #[wasm_bindgen(method, getter = childKeys)]
    fn child_keys(this: &PackedDag) -> JsString;

    /// Writes `text` as UTF-8 into `bytes` (a view of wasm memory, no copy in between) as far as
    /// it fits; returns how many UTF-16 code units were written.
    #[wasm_bindgen(js_name = encodeInto)]
    fn encode_into(text: &JsString, bytes: &mut [u8]) -> u32;
    #[wasm_bindgen(method, getter = childCounts)]
    fn child_counts(this: &PackedDag) -> Vec<u32>;

    /// `{ levels, cyclic }`: `order` cut into one view per level (`topoSortLevelsPacked`; in
    /// this snippet because every snippet is one more module a page fetches).
    #[wasm_bindgen(js_name = positionLevels)]
    pub(super) fn position_levels(
        order: js_sys::Uint32Array,
        level_sizes: &[u32],
        cyclic: js_sys::Uint32Array,
    ) -> JsValue;

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

/// The UTF-8 bytes of `text`. Keys are ASCII, one byte per code unit, so they are written
/// straight into a buffer of that size (`TextEncoder.encodeInto`: faster than a copy character
/// by character); text with other characters takes the ordinary conversion.
fn utf8_bytes(text: &JsString) -> Vec<u8> {
    let units = text.length();
    let mut bytes = vec![0; units as usize];
    if encode_into(text, &mut bytes) == units {
        bytes
    } else {
        String::from(text).into_bytes()
    }
}

/// Calls `take` with each key of a comma-separated list in UTF-8, in order (empty text: none).
fn parse_key_list(text: &[u8], mut take: impl FnMut(Key)) -> Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let mut rest = text;
    loop {
        // Nearly always a key of 26 characters then a comma or the end; else the comma is
        // looked for, and the piece up to it parsed (which says what is wrong with it).
        let fast = rest
            .get(..ENCODED_LEN)
            .filter(|_| matches!(rest.get(ENCODED_LEN), None | Some(b',')))
            .and_then(|piece| Key::parse_bytes(piece).ok());
        let end = match fast {
            Some(key) => {
                take(key);
                ENCODED_LEN
            }
            None => {
                let end = rest
                    .iter()
                    .position(|&byte| byte == b',')
                    .unwrap_or(rest.len());
                take(Key::parse_bytes(&rest[..end])?);
                end
            }
        };
        match rest.get(end + 1..) {
            Some(after_comma) => rest = after_comma,
            None => return Ok(()),
        }
    }
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
    let counts = packed.child_counts();
    let mut node_keys = Vec::with_capacity(counts.len());
    js(parse_key_list(&utf8_bytes(&packed.keys()), |key| {
        node_keys.push(key)
    }))?;
    let numbering = Numbering::new(&node_keys);
    // Each child key as the number of its node, None if it is not among `keys`.
    let mut child_numbers: Vec<Option<u32>> = Vec::new();
    js(parse_key_list(&utf8_bytes(&packed.child_keys()), |key| {
        child_numbers.push(numbering.number(&key))
    }))?;
    // Where each node's children start in `child_numbers`. Two keys in one string ("K1,K2")
    // would shift the lists: refused, never a panic.
    let mut child_starts = Vec::with_capacity(counts.len() + 1);
    let mut total = 0usize;
    child_starts.push(0);
    for &count in &counts {
        total = total.saturating_add(count as usize);
        child_starts.push(total);
    }
    if node_keys.len() != counts.len() || total != child_numbers.len() {
        return js(Err(Error::InvalidArgument(
            "key strings must not contain commas".into(),
        )));
    }
    let sorted = numbering.sort_levels(&node_keys, |position| {
        child_numbers[child_starts[position]..child_starts[position + 1]]
            .iter()
            .flatten()
            .copied()
    });
    Ok(unpack_levels(
        &keys,
        Uint32Array::from(sorted.order.as_slice()),
        Uint32Array::from(sorted.level_sizes.as_slice()),
        Uint32Array::from(sorted.cyclic.as_slice()),
    ))
}
