//! Files exported to JS: `storeFile` (from an array, a `Blob`/`File`, a `ReadableStream` or an
//! async iterable, with bounded memory), `readFile` (a small file, whole), `readFileStream`
//! (any range as a `ReadableStream`, every node verified first), each with `signal` and
//! `onProgress`, and `fileInfo` (size and content type from the root).

use std::rc::Rc;

use futures::stream::{self, StreamExt};
use js_sys::{Function, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::abort::{abortable, call_signal, signal_option, CallOptionsArg};
use super::byte_source::ByteSource;
use super::codec::chunk_options;
use super::convert::{
    bytes_to_js, key_from_js, known_fields, option_field, set_field, type_name, whole_number_field,
};
use super::error::{js, JsResult};
use super::promise::promise;
use super::provider::provider_from_js;
use super::readable::readable_stream;
use crate::chunker::{self, Progress, ReadOptions, StoreOptions};
use crate::error::{Error, Result};

#[wasm_bindgen(typescript_custom_section)]
const TS_FILES: &'static str = r#"
/** A file's size and content type, from its root node alone. */
export interface FileInfo {
  /** The file's length in bytes. */
  size: number;
  /** Its MIME type ("" if none was given). */
  contentType: string;
}

/** How far a storeFile or a read got; both counts only grow. */
export interface FileProgress {
  /** storeFile: bytes of the data taken so far. Reads: bytes delivered so far. */
  bytes: number;
  /** storeFile: the data's length when known (arrays, Blobs). Reads: the range's length. */
  totalBytes?: number;
  /** storeFile: nodes stored so far. Reads: nodes fetched so far. */
  nodes: number;
}

/** What storeFile accepts as a file's bytes. */
export type FileData =
  | Uint8Array | ArrayBuffer | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** How storeFile cuts and stores a file. */
export interface StoreFileOptions extends ChunkOptions {
  /** Aborts the store: it rejects with code "aborted"; what was stored stays consistent. */
  signal?: AbortSignal;
  /** Called as the store goes (synchronously; must not throw). */
  onProgress?: (progress: FileProgress) => void;
}

/** How readFile reads a file. */
export interface ReadFileOptions {
  /** Aborts the read: it rejects with code "aborted". */
  signal?: AbortSignal;
  /** Called as nodes arrive. */
  onProgress?: (progress: FileProgress) => void;
}

/** Which bytes readFileStream reads. */
export interface ReadFileStreamOptions extends ReadFileOptions {
  /** First byte (default 0); at most the file's size. */
  offset?: number;
  /** How many bytes (default: to the end; fewer if the file ends first). */
  length?: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "StoreFileOptions")]
    pub type StoreFileOptionsArg;
    #[wasm_bindgen(typescript_type = "ReadFileOptions")]
    pub type ReadFileOptionsArg;
    #[wasm_bindgen(typescript_type = "ReadFileStreamOptions")]
    pub type ReadFileStreamOptionsArg;
}

/// The `onProgress` field: a function, or none.
fn progress_option(options: &JsValue) -> Result<Option<Function>> {
    match option_field(options, "onProgress")? {
        None => Ok(None),
        Some(value) => value.dyn_into::<Function>().map(Some).map_err(|value| {
            Error::InvalidArgument(format!(
                "onProgress must be a function, got {}",
                type_name(&value)
            ))
        }),
    }
}

/// Calls `callback` with a `FileProgress` object (a throwing callback is reported, not fatal).
fn report(callback: &Option<Function>) -> impl FnMut(Progress) + 'static {
    let callback = callback.clone();
    move |progress: Progress| {
        let Some(callback) = &callback else {
            return;
        };
        let object = Object::new();
        set_field(&object, "bytes", &(progress.bytes as f64).into());
        if let Some(total) = progress.total_bytes {
            set_field(&object, "totalBytes", &(total as f64).into());
        }
        set_field(&object, "nodes", &(progress.nodes as f64).into());
        if let Err(error) = callback.call1(&JsValue::UNDEFINED, &object) {
            crate::log::warn(&format!(
                "casweb: onProgress threw: {}",
                super::convert::thrown_message(&error)
            ));
        }
    }
}

/// Chunks the data and puts every node into `storage` as the data is read (children first, a
/// parent only once its children are stored); resolves to the root key, the same as
/// `chunkFile` gives for the same bytes and options.
#[wasm_bindgen(js_name = storeFile, unchecked_return_type = "Promise<string>")]
pub fn store_file(
    #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] storage: JsValue,
    #[wasm_bindgen(unchecked_param_type = "FileData")] data: JsValue,
    options: Option<StoreFileOptionsArg>,
) -> Promise {
    promise(async move {
        let options = options.map_or(JsValue::UNDEFINED, Into::into);
        let storage = js(provider_from_js(&storage, "storage"))?;
        let source = js(ByteSource::from_js(&data))?;
        js(known_fields(
            &options,
            "storeFile",
            &["chunkSize", "contentType", "signal", "onProgress"],
        ))?;
        let chunk = js(chunk_options(&options))?;
        let signal = js(signal_option(&options))?;
        let progress = js(progress_option(&options))?;
        let store_options = StoreOptions {
            chunk,
            total_bytes: source.total(),
            ..StoreOptions::default()
        };
        let input = stream::unfold(source, |mut source| async move {
            match source.next().await {
                Ok(Some(chunk)) => Some((Ok(chunk), source)),
                Ok(None) => None,
                Err(error) => Some((Err(error), source)),
            }
        });
        let store = chunker::store_stream(&storage, input, &store_options, report(&progress));
        let root = js(abortable(signal.as_ref(), store).await)?;
        Ok(root.to_string().into())
    })
}

/// A file's size and content type from its root node alone (fetched and verified: hash, size
/// flag, structure; `corrupt_dag` if the root is not a file node): what a player or a download
/// needs before reading, e.g. to answer an HTTP Range request.
#[wasm_bindgen(js_name = fileInfo, unchecked_return_type = "Promise<FileInfo>")]
pub fn file_info(
    #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] storage: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] root: JsValue,
    options: Option<CallOptionsArg>,
) -> Promise {
    promise(async move {
        let storage = js(provider_from_js(&storage, "storage"))?;
        let root = js(key_from_js(&root))?;
        let signal = js(call_signal(options))?;
        let info = js(abortable(signal.as_ref(), chunker::file_info(&storage, root)).await)?;
        let result = Object::new();
        set_field(&result, "size", &(info.size as f64).into());
        set_field(&result, "contentType", &info.content_type.into());
        Ok(result.into())
    })
}

/// Reads a whole file back from its root key, verifying every node (for files that fit in
/// memory; see `readFileStream` for the others).
#[wasm_bindgen(js_name = readFile, unchecked_return_type = "Promise<FileContent>")]
pub fn read_file(
    #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] storage: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] root: JsValue,
    options: Option<ReadFileOptionsArg>,
) -> Promise {
    promise(async move {
        let options = options.map_or(JsValue::UNDEFINED, Into::into);
        let storage = js(provider_from_js(&storage, "storage"))?;
        let root = js(key_from_js(&root))?;
        js(known_fields(
            &options,
            "readFile",
            &["signal", "onProgress"],
        ))?;
        let signal = js(signal_option(&options))?;
        let progress = js(progress_option(&options))?;
        let read = chunker::read_file_reporting(&storage, root, report(&progress));
        let file = js(abortable(signal.as_ref(), read).await)?;
        let result = Object::new();
        set_field(&result, "contentType", &file.content_type.into());
        set_field(&result, "data", &bytes_to_js(&file.data));
        Ok(result.into())
    })
}

/// A file's bytes (all, or the range `offset`..`offset + length`) as a `ReadableStream`: only
/// the nodes covering the range are fetched, a window ahead, and each node is verified before
/// any of its bytes are delivered. Bad arguments throw at once; storage failures (and `signal`)
/// error the stream with a `CaswebError`.
#[wasm_bindgen(js_name = readFileStream, unchecked_return_type = "ReadableStream<Uint8Array>")]
pub fn read_file_stream(
    #[wasm_bindgen(unchecked_param_type = "StorageProviderLike")] storage: JsValue,
    #[wasm_bindgen(unchecked_param_type = "string")] root: JsValue,
    options: Option<ReadFileStreamOptionsArg>,
) -> JsResult<JsValue> {
    let options = options.map_or(JsValue::UNDEFINED, Into::into);
    let storage = Rc::new(js(provider_from_js(&storage, "storage"))?);
    let root = js(key_from_js(&root))?;
    js(known_fields(
        &options,
        "readFileStream",
        &["offset", "length", "signal", "onProgress"],
    ))?;
    const MAX_SAFE: u64 = (1 << 53) - 1;
    let read = ReadOptions {
        offset: js(whole_number_field(&options, "offset", 0, MAX_SAFE))?.unwrap_or(0),
        length: js(whole_number_field(&options, "length", 0, MAX_SAFE))?,
        ..ReadOptions::default()
    };
    let signal = js(signal_option(&options))?;
    let progress = js(progress_option(&options))?;
    let chunks = chunker::read_stream(storage, root, read, report(&progress));
    js(readable_stream(chunks.boxed_local(), signal))
}
