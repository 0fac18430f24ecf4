//! `topoSortLevelsPacked` exported to JS: the same sort as `topoSortLevels` for a DAG given in
//! binary, keys as raw bytes and children as positions, with the levels back as positions.
//!
//! A caller that holds its DAG this way (keys as bytes, children as indices of its own node
//! list) skips what bounds the string entry point: V8 reading every key string's characters. The
//! three typed arrays are copied into wasm memory in one call each; the child positions need no
//! lookup, only the keys are numbered (a key given twice is one node, as in `topoSortLevels`).

use js_sys::{Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::convert::{array_from_js, type_name};
use super::dag::position_levels;
use super::error::{js, JsResult};
use crate::error::{Error, Result};
use crate::key::{Key, KEY_LEN};
use crate::sync::topo::{Numbering, PositionLevels};

#[wasm_bindgen(typescript_custom_section)]
const TS_DAG_PACKED: &'static str = r#"
/** A DAG cut into levels, children first, as positions in the input list: every child of a node
 *  is in an earlier level. A key given more than once appears at its first position only. */
export interface TopoPositions {
  /** One view per level (all over one buffer), positions in input order. */
  levels: Uint32Array[];
  /** Positions of the nodes on a cycle or above one, sorted by key. */
  cyclic: Uint32Array;
}
"#;

/// A `Uint32Array` argument copied into wasm memory; `what` names it in the error.
fn numbers_from_js(value: &JsValue, what: &str) -> Result<Vec<u32>> {
    let array = value.dyn_ref::<Uint32Array>().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{what} must be a Uint32Array, got {}",
            type_name(value)
        ))
    })?;
    Ok(array.to_vec())
}

/// The keys of `bytes`, 16 bytes each (`invalid_key` for a non-canonical size flag).
fn keys_from_bytes(bytes: &[u8]) -> Result<Vec<Key>> {
    if bytes.len() % KEY_LEN != 0 {
        return Err(Error::InvalidArgument(format!(
            "keys must hold {KEY_LEN} bytes per key, got {} bytes",
            bytes.len()
        )));
    }
    bytes
        .chunks_exact(KEY_LEN)
        .map(|chunk| Ok(Key::from_slice(chunk)?))
        .collect()
}

/// Sorts the DAG whose node p is `keys[p]` with the children at positions
/// `children[s..s + child_counts[p]]` (s: the sum of the counts before p). Every child position
/// must be below `keys.len()`.
fn sort_packed(keys: &[Key], child_counts: &[u32], children: &[u32]) -> Result<PositionLevels> {
    if child_counts.len() != keys.len() {
        return Err(Error::InvalidArgument(format!(
            "childCounts must have one count per key: {} keys, {} counts",
            keys.len(),
            child_counts.len()
        )));
    }
    let mut starts = Vec::with_capacity(keys.len() + 1);
    let mut total = 0usize;
    starts.push(0);
    for &count in child_counts {
        total = total.saturating_add(count as usize);
        starts.push(total);
    }
    if total != children.len() {
        return Err(Error::InvalidArgument(format!(
            "children must hold the {total} positions childCounts adds up to, got {}",
            children.len()
        )));
    }
    if let Some(&child) = children.iter().find(|&&child| child as usize >= keys.len()) {
        return Err(Error::InvalidArgument(format!(
            "child position {child} is not in keys ({} keys)",
            keys.len()
        )));
    }
    let numbering = Numbering::new(keys);
    // The node number at each position (every key is numbered, so one per position).
    let numbers: Vec<u32> = keys
        .iter()
        .filter_map(|key| numbering.number(key))
        .collect();
    Ok(numbering.sort_levels(keys, |position| {
        children[starts[position]..starts[position + 1]]
            .iter()
            .map(|&child| numbers[child as usize])
    }))
}

/// Sorts a DAG into levels, children first, like `topoSortLevels`, given in binary: `keys` holds
/// the nodes' keys as raw bytes, 16 per node; node p's children are the positions
/// `children[s..s + childCounts[p]]` in that list (s: the counts before p added up). A key given
/// twice is one node (its first children win). Returns the levels as positions; nodes on a cycle,
/// or above one, are returned in `cyclic` instead of hanging. Throws `invalid_argument` unless
/// the arguments are a `Uint8Array` and two `Uint32Array`s of matching lengths with every child
/// position in range, and `invalid_key` for bytes that are not a key.
#[wasm_bindgen(js_name = topoSortLevelsPacked, unchecked_return_type = "TopoPositions")]
pub fn topo_sort_levels_packed_js(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] keys: JsValue,
    #[wasm_bindgen(js_name = "childCounts", unchecked_param_type = "Uint32Array")]
    child_counts: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint32Array")] children: JsValue,
) -> JsResult<JsValue> {
    let keys: Uint8Array = js(array_from_js(&keys, "keys"))?;
    let child_counts = js(numbers_from_js(&child_counts, "childCounts"))?;
    let children = js(numbers_from_js(&children, "children"))?;
    let keys = js(keys_from_bytes(&keys.to_vec()))?;
    let sorted = js(sort_packed(&keys, &child_counts, &children))?;
    Ok(position_levels(
        Uint32Array::from(sorted.order.as_slice()),
        &sorted.level_sizes,
        Uint32Array::from(sorted.cyclic.as_slice()),
    ))
}
