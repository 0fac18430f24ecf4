//! Warnings that are reported but are not errors (e.g. a failed cache write-back).
//!
//! In the browser they go to `console.warn`; natively to the `log` facade.

/// Reports a warning.
pub fn warn(message: &str) {
    #[cfg(target_arch = "wasm32")]
    web_sys::console::warn_1(&message.into());
    #[cfg(not(target_arch = "wasm32"))]
    log::warn!("{message}");
}
