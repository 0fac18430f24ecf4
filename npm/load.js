// Where a casweb wasm module's bytes come from when init is called without an argument: in
// browsers the glue fetches the file next to it; in Node it is read from disk here.

/** In Node, the bytes of `file` next to this module (Node's fetch cannot read file: URLs). */
async function nodeWasmBytes(file) {
  const url = new URL(file, import.meta.url);
  if (url.protocol !== "file:" || typeof process !== "object" || !process.versions?.node) {
    return undefined;
  }
  // A specifier in a variable, and the comments, keep bundlers from resolving a Node module.
  const fsModule = "node:fs/promises";
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
  return readFile(url);
}

/** What init(moduleOrPath) hands to wasm-bindgen's init: the argument, or in Node the file's bytes. */
export async function wasmInput(moduleOrPath, file) {
  if (moduleOrPath !== undefined) return moduleOrPath;
  const bytes = await nodeWasmBytes(file);
  return bytes ? { module_or_path: bytes } : undefined;
}
