// casweb's package entry: the public API of the storage wasm module (storage, sync, files, topo
// sort; nothing of its internals), where every failure is a CaswebError (npm/guard.js), and an
// init() that also works in Node. The P2P classes are the `casweb/p2p` entry (npm/p2p.js): their
// wasm module is fetched only by a page that uses them.

import initWasm, * as glue from "./casweb.js";
import { guardClasses } from "./guard.js";
import { wasmInput } from "./load.js";

export { CaswebError, isCaswebError } from "./error.js";
export {
  keyOf, parseKey, keyBytes, keyFromBytes, validateNode, childKeys, chunkFile, storeFile, readFile,
  readFileStream, fileInfo, topoSortLevels, topoSortLevelsPacked,
} from "./casweb.js";

// Methods (and `static:` functions) that return a promise, by class; every other method, getter
// and constructor is synchronous. e2e/tests/package.test.js checks this against casweb.d.ts.
const ASYNC_METHODS = {
  MemoryStorage: ["get", "put"],
  IndexedDbStorage: [
    "get", "put", "usage", "evict", "pin", "unpin", "pins", "delete", "clear", "static:open",
    "static:deleteDatabase", "static:estimate", "static:persist", "static:persisted",
  ],
  CachedStorage: ["get", "put"],
  HttpStorage: ["get", "put", "info", "getMany", "putMany", "checkMany", "claim", "claimMany"],
  BufferedHttpStorage: ["get", "put", "flush", "discard", "static:open"],
};

export const {
  MemoryStorage, IndexedDbStorage, CachedStorage, HttpStorage, BufferedHttpStorage,
} = guardClasses(glue, ASYNC_METHODS);

/**
 * Loads and instantiates the wasm module; call (and await) it once before anything else.
 * Without an argument: in browsers it fetches `casweb_bg.wasm` next to this file, in Node it
 * reads it from disk.
 */
export default async function init(moduleOrPath) {
  const exports = await initWasm(await wasmInput(moduleOrPath, "casweb_bg.wasm"));
  return { memory: exports.memory };
}

/** Instantiates the wasm module synchronously from its bytes or a compiled WebAssembly.Module. */
export function initSync(module) {
  return { memory: glue.initSync(module).memory };
}
