//! Errors as JavaScript sees them: `Error` objects with `name = "CaswebError"` and a stable
//! `code`, plus the TypeScript declarations that say so.

use wasm_bindgen::prelude::*;

use crate::error::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
/** Stable machine-readable error codes (`error.code`). */
export type CaswebErrorCode =
  | "invalid_key" | "invalid_node" | "hash_mismatch" | "not_found" | "corrupt_dag"
  | "invalid_argument" | "quota_exceeded" | "blocked" | "version_mismatch" | "unavailable"
  | "indexeddb_error" | "provider_error" | "closed" | "http_error" | "rejected" | "network_error"
  | "timeout" | "cycle" | "child_keys_failed" | "child_not_synced"
  | "hook_failed" | "not_connected" | "no_route" | "invalid_multiaddr" | "unsupported_transport"
  | "already_running" | "not_running" | "advertise_failed" | "channel_send_failed";

/** Every promise of this library rejects with a CaswebError. */
export interface CaswebError extends Error {
  name: "CaswebError";
  code: CaswebErrorCode;
  /** For `http_error`: the HTTP status. */
  status?: number;
  /** For `http_error` and `rejected`: the server's error code, e.g. "not_owned". */
  serverCode?: string;
}
"#;

/// Converts a library error into a JS `Error` with `name` and `code`.
pub fn to_js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("CaswebError");
    let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().into());
    if let Error::Http { status, .. } = &error {
        let _ = js_sys::Reflect::set(&js, &"status".into(), &(*status).into());
    }
    if let Error::Http { code, .. } | Error::Rejected { code, .. } = &error {
        let _ = js_sys::Reflect::set(&js, &"serverCode".into(), &code.as_str().into());
    }
    js.into()
}

/// Result of an exported function: the error side is already a JS `Error`.
pub type JsResult<T> = std::result::Result<T, JsValue>;

/// Maps a library result to an exported one.
pub fn js<T>(result: crate::Result<T>) -> JsResult<T> {
    result.map_err(to_js_error)
}
