//! Key and node functions exported to JS: `keyOf`, `parseKey`, `keyBytes`, `keyFromBytes`,
//! `childKeys`, `validateNode`, and `chunkFile` (a file cut into nodes in memory; `files.rs`
//! stores and reads files).

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;

use super::convert::{
    bytes_from_js, bytes_to_js, key_from_js, known_fields, option_field, string_from_js,
    whole_number_field,
};
use super::error::{js, JsResult};
use crate::chunker::{self, ChunkOptions};
use crate::error::Error;
use crate::key::Key;
use crate::node;

#[wasm_bindgen(typescript_custom_section)]
const TS_CODEC: &'static str = r#"
/** How chunkFile/storeFile cut a file. */
export interface ChunkOptions {
  /** Maximum node length in bytes, header included (default 1 MiB, at least 128). */
  chunkSize?: number;
  /** MIME type recorded in the root node (printable ASCII, at most 56 bytes). */
  contentType?: string;
}

/** One node of a chunked file. */
export interface DagNode { key: string; bytes: Uint8Array; }

/** A chunked file: nodes children-first, root last. */
export interface FileDag { root: string; nodes: DagNode[]; }

/** A file read back and verified. */
export interface FileContent { contentType: string; data: Uint8Array; }
"#;

#[wasm_bindgen]
extern "C" {
    /// The optional options argument, typed `ChunkOptions` in TypeScript.
    #[wasm_bindgen(typescript_type = "ChunkOptions")]
    pub type ChunkOptionsArg;
}

/// `chunkFile`'s options.
fn chunk_file_options(options: &JsValue) -> crate::Result<ChunkOptions> {
    known_fields(options, "chunk", &["chunkSize", "contentType"])?;
    chunk_options(options)
}

/// The `chunkSize` and `contentType` fields of an options object (`storeFile`'s too).
pub(super) fn chunk_options(options: &JsValue) -> crate::Result<ChunkOptions> {
    let mut parsed = ChunkOptions::default();
    let (min, max) = (
        chunker::MIN_CHUNK_SIZE as u64,
        chunker::MAX_CHUNK_SIZE as u64,
    );
    if let Some(size) = whole_number_field(options, "chunkSize", min, max)? {
        parsed.chunk_size = size as usize;
    }
    if let Some(content_type) = option_field(options, "contentType")? {
        parsed.content_type = string_from_js(&content_type, "contentType")?;
    }
    Ok(parsed)
}

/// The key of `bytes` (BLAKE3-128 with the size flag), as a 26-character string.
#[wasm_bindgen(js_name = keyOf)]
pub fn key_of(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> JsResult<String> {
    let bytes = js(bytes_from_js(&bytes, "bytes"))?;
    Ok(Key::for_bytes(&bytes).to_string())
}

/// Checks a key string; rejects with code `invalid_key` saying what is wrong.
#[wasm_bindgen(js_name = parseKey)]
pub fn parse_key(
    #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
) -> JsResult<String> {
    Ok(js(key_from_js(&key))?.to_string())
}

/// The 16 bytes a key string stands for (what `topoSortLevelsPacked` takes); throws
/// `invalid_key` saying what is wrong with the string.
#[wasm_bindgen(js_name = keyBytes)]
pub fn key_bytes(
    #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
) -> JsResult<Uint8Array> {
    let key = js(key_from_js(&key))?;
    Ok(Uint8Array::from(&key.as_bytes()[..]))
}

/// The key string of 16 key bytes (the inverse of `keyBytes`); throws `invalid_argument` for
/// anything but a `Uint8Array`, `invalid_key` for a wrong length or a size flag out of range.
#[wasm_bindgen(js_name = keyFromBytes)]
pub fn key_from_bytes(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> JsResult<String> {
    let bytes = js(bytes_from_js(&bytes, "bytes"))?;
    let key = js(Key::from_slice(&bytes).map_err(Error::from))?;
    Ok(key.to_string())
}

/// The child keys of a node (the built-in `getChildKeys`).
#[wasm_bindgen(js_name = childKeys)]
pub fn child_keys(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> JsResult<Vec<String>> {
    let bytes = js(bytes_from_js(&bytes, "bytes"))?;
    let keys = js(node::child_keys(&bytes).map_err(Error::from))?;
    Ok(keys.iter().map(Key::to_string).collect())
}

/// Checks that `bytes` is a valid node whose hash is `key`: throws `invalid_node`,
/// `hash_mismatch` or `invalid_key` otherwise.
#[wasm_bindgen(js_name = validateNode)]
pub fn validate_node(
    #[wasm_bindgen(unchecked_param_type = "string")] key: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] bytes: JsValue,
) -> JsResult<()> {
    let key = js(key_from_js(&key))?;
    let bytes = js(bytes_from_js(&bytes, "bytes"))?;
    js(node::decode(&bytes).map_err(Error::from))?;
    if !key.matches(&bytes) {
        return js(Err(Error::HashMismatch { key }));
    }
    Ok(())
}

/// Cuts a file into nodes (children first, root last) without storing them.
#[wasm_bindgen(js_name = chunkFile, unchecked_return_type = "FileDag")]
pub fn chunk_file(
    #[wasm_bindgen(unchecked_param_type = "Uint8Array")] data: JsValue,
    options: Option<ChunkOptionsArg>,
) -> JsResult<JsValue> {
    let data = js(bytes_from_js(&data, "data"))?;
    let options = js(chunk_file_options(
        &options.map_or(JsValue::UNDEFINED, Into::into),
    ))?;
    let dag = js(chunker::chunk_file(&data, &options))?;
    let nodes = js_sys::Array::new();
    for (key, bytes) in &dag.nodes {
        let entry = js_sys::Object::new();
        js_sys::Reflect::set(&entry, &"key".into(), &key.to_string().into())?;
        js_sys::Reflect::set(&entry, &"bytes".into(), &bytes_to_js(bytes))?;
        nodes.push(&entry);
    }
    let result = js_sys::Object::new();
    js_sys::Reflect::set(&result, &"root".into(), &dag.root.to_string().into())?;
    js_sys::Reflect::set(&result, &"nodes".into(), &nodes)?;
    Ok(result.into())
}
