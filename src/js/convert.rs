//! Checked conversions of JavaScript arguments: wrong types become `invalid_argument`,
//! malformed keys `invalid_key`, never a panic or an opaque `TypeError`.

use bytes::Bytes;
use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Error, Result};
use crate::key::Key;

/// A short description of a JS value's type, for error messages.
pub fn type_name(value: &JsValue) -> String {
    if value.is_null() {
        return "null".into();
    }
    if value.is_array() {
        return "array".into();
    }
    let type_of = value.js_typeof().as_string().unwrap_or_default();
    if type_of == "object" {
        if let Some(name) = js_sys::Reflect::get(value, &"constructor".into())
            .ok()
            .and_then(|c| js_sys::Reflect::get(&c, &"name".into()).ok())
            .and_then(|n| n.as_string())
        {
            return name;
        }
    }
    type_of
}

/// A string argument; `what` names it in the error.
pub fn string_from_js(value: &JsValue, what: &str) -> Result<String> {
    value.as_string().ok_or_else(|| {
        Error::InvalidArgument(format!("{what} must be a string, got {}", type_name(value)))
    })
}

/// A key given as its 26-character string.
pub fn key_from_js(value: &JsValue) -> Result<Key> {
    Ok(Key::parse(&string_from_js(value, "key")?)?)
}

/// A `Uint8Array` argument (not copied); `what` names it in the error.
pub fn array_from_js(value: &JsValue, what: &str) -> Result<Uint8Array> {
    value.dyn_ref::<Uint8Array>().cloned().ok_or_else(|| {
        Error::InvalidArgument(format!(
            "{what} must be a Uint8Array, got {}",
            type_name(value)
        ))
    })
}

/// Node bytes given as a `Uint8Array` (copied into wasm memory).
pub fn bytes_from_js(value: &JsValue, what: &str) -> Result<Bytes> {
    Ok(Bytes::from(array_from_js(value, what)?.to_vec()))
}

/// Bytes handed back to JS as a fresh `Uint8Array`.
pub fn bytes_to_js(bytes: &[u8]) -> JsValue {
    Uint8Array::from(bytes).into()
}

/// A node or its absence handed back to JS: a fresh `Uint8Array`, or `null`.
pub fn node_or_null(bytes: Option<&[u8]>) -> JsValue {
    bytes.map_or(JsValue::NULL, bytes_to_js)
}

/// A `getMany` answer: per key, in order, its bytes or `null`.
pub fn nodes_or_null(values: &[Option<Bytes>]) -> JsValue {
    values
        .iter()
        .map(|value| node_or_null(value.as_deref()))
        .collect::<js_sys::Array>()
        .into()
}

/// An optional field of an options object (`undefined` and `null` mean absent).
pub fn option_field(options: &JsValue, name: &str) -> Result<Option<JsValue>> {
    if options.is_undefined() || options.is_null() {
        return Ok(None);
    }
    if !options.is_object() {
        return Err(Error::InvalidArgument(format!(
            "options must be an object, got {}",
            type_name(options)
        )));
    }
    let value = js_sys::Reflect::get(options, &name.into())
        .map_err(|_| Error::InvalidArgument(format!("cannot read option {name}")))?;
    Ok((!value.is_undefined() && !value.is_null()).then_some(value))
}

/// Rejects keys of an options object outside `known`: a misspelt option (`chunksize`) would
/// otherwise be ignored without a word. Values that are not objects are left to the callers.
pub fn known_fields(options: &JsValue, what: &str, known: &[&str]) -> Result<()> {
    if !options.is_object() {
        return Ok(());
    }
    for name in js_sys::Object::keys(options.unchecked_ref()).iter() {
        let name = name.as_string().unwrap_or_default();
        if !known.contains(&name.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "unknown {what} option \"{name}\" (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// An optional whole-number field of an options object, within `min..=max`.
pub fn whole_number_field(
    options: &JsValue,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>> {
    let Some(value) = option_field(options, name)? else {
        return Ok(None);
    };
    value
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= min as f64 && *n <= max as f64)
        .map(|n| Some(n as u64))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{name} must be a whole number from {min} to {max}, got {}",
                value
                    .as_f64()
                    .map_or_else(|| type_name(&value), |n| n.to_string())
            ))
        })
}

/// Keys as a JS array of key strings.
#[cfg(feature = "storage-api")]
pub fn keys_to_js(keys: &[Key]) -> js_sys::Array {
    keys.iter().map(|k| JsValue::from(k.to_string())).collect()
}

/// Sets a field of a plain object being built (cannot fail on a fresh `Object`).
pub fn set_field(object: &js_sys::Object, name: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(object, &name.into(), value);
}

/// The message of a thrown JS value: `error.message`, a thrown string, or its type.
pub fn thrown_message(error: &JsValue) -> String {
    js_sys::Reflect::get(error, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| type_name(error))
}

/// A JS array (`what` names it in the error).
pub fn list_from_js(value: &JsValue, what: &str) -> Result<js_sys::Array> {
    if js_sys::Array::is_array(value) {
        Ok(js_sys::Array::from(value))
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} must be an array, got {}",
            type_name(value)
        )))
    }
}

/// An array of key strings (`keys` in messages).
pub fn keys_from_js(value: &JsValue) -> Result<Vec<Key>> {
    list_from_js(value, "keys")?
        .iter()
        .enumerate()
        .map(|(i, key)| Ok(Key::parse(&string_from_js(&key, &format!("keys[{i}]"))?)?))
        .collect()
}
