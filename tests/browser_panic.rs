//! A Rust panic under an exported call reaches JS as a `CaswebError` with code `internal` (not a
//! bare `RuntimeError: unreachable` and a promise pending for ever), and every later call
//! rejects at once with that code. Alone in its binary: after a panic the module stays broken.

#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

use casweb::js::{install_panic_hook, promise, JsMemoryStorage};

wasm_bindgen_test_configure!(run_in_browser);

fn field(error: &JsValue, name: &str) -> String {
    Reflect::get(error, &name.into())
        .ok()
        .and_then(|value| value.as_string())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn a_panic_rejects_its_promise_with_code_internal_and_later_calls_too() {
    // The test harness sets its own hook after the module's start; take it back.
    install_panic_hook();
    let panicking = promise(async { panic!("deliberate test panic") });
    let error = JsFuture::from(panicking).await.expect_err("must reject");
    assert_eq!(field(&error, "name"), "CaswebError");
    assert_eq!(field(&error, "code"), "internal");
    assert!(
        field(&error, "message").contains("deliberate test panic"),
        "{}",
        field(&error, "message")
    );

    let later = promise(async { Ok(JsValue::TRUE) });
    let error = JsFuture::from(later).await.expect_err("must reject");
    assert_eq!(field(&error, "code"), "internal");
    assert!(field(&error, "message").contains("reload"));

    let storage = JsMemoryStorage::new();
    let get = storage.get("0000000000000000000000000G".into(), None);
    let error = JsFuture::from(get).await.expect_err("must reject");
    assert_eq!(field(&error, "code"), "internal");
}
