//! Errors as JavaScript sees them: instances of the `CaswebError` class (npm/error.js, declared in
//! npm/error.d.ts) with a stable `code`, and `status` / `serverCode` for server errors.

use wasm_bindgen::prelude::*;

use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
import type { CaswebError, CaswebErrorCode } from "./error.js";
"#;

#[wasm_bindgen(module = "/npm/error.js")]
extern "C" {
    /// The JS class `CaswebError` (npm/error.js), which the package entry re-exports.
    #[wasm_bindgen(js_name = CaswebError, extends = js_sys::Error)]
    type JsCaswebError;

    #[wasm_bindgen(constructor, js_class = CaswebError)]
    fn new(code: &str, message: &str) -> JsCaswebError;
}

/// Converts a library error into a JS `CaswebError` with its `code`.
pub fn to_js_error(error: Error) -> JsValue {
    let js = JsCaswebError::new(error.code(), &error.to_string());
    let status = match &error {
        Error::Http { status, .. } => Some(*status),
        Error::Unauthorized { .. } => Some(401),
        _ => None,
    };
    if let Some(status) = status {
        let _ = js_sys::Reflect::set(&js, &"status".into(), &status.into());
    }
    if let Error::Http { code, .. }
    | Error::Unauthorized { code, .. }
    | Error::Rejected { code, .. } = &error
    {
        let _ = js_sys::Reflect::set(&js, &"serverCode".into(), &code.as_str().into());
    }
    if let Error::PeerRefused { reason, .. } = &error {
        let _ = js_sys::Reflect::set(&js, &"reason".into(), &reason.as_str().into());
    }
    js.into()
}

/// Result of an exported function: the error side is already a JS `Error`.
pub type JsResult<T> = std::result::Result<T, JsValue>;

/// Maps a library result to an exported one.
pub fn js<T>(result: crate::Result<T>) -> JsResult<T> {
    result.map_err(to_js_error)
}
