// casweb's package entry: the public API of the wasm module (and nothing of its internals), where
// every failure is a CaswebError, and an init() that also works in Node.
//
// wasm-bindgen's generated glue (casweb.js) throws plain Errors in two cases that casweb's own
// code never sees: a method called on an object whose free() was called ("null pointer passed to
// rust"), and an argument of the wrong class where a casweb class is expected ("expected
// instance of X"). The classes exported here translate both into a CaswebError (code `closed` for
// a call on a freed object, `invalid_argument` for a freed argument or one of the wrong class),
// rejected by the calls that return a promise and thrown by the others.

import initWasm, * as glue from "./casweb.js";
import { CaswebError } from "./error.js";

export { CaswebError, isCaswebError } from "./error.js";
export {
  keyOf, parseKey, validateNode, childKeys, chunkFile, storeFile, readFile, readFileStream,
  fileInfo, topoSortLevels, topoSortLevelsPacked,
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
  P2pNode: [
    "startProvide", "stopProvide", "getProviders", "bootstrap", "dial", "connectedPeers",
    "externalAddresses", "close", "static:connect",
  ],
  Advertiser: ["start", "stop"],
  AdvertisingStorage: ["get", "put"],
  PeerStorage: ["get", "put", "getMany"],
};

const FREED = "null pointer passed to rust";
const WRONG_CLASS = /^expected instance of (\w+)$/;

/**
 * The CaswebError for an Error thrown by the wasm-bindgen glue, or `error` itself. `self` is the
 * object the call was made on (a freed one gives `closed`; a freed argument is invalid).
 */
function translate(error, what, self) {
  if (!(error instanceof Error) || error instanceof CaswebError) return error;
  if (error.message === FREED) {
    return self?.__wbg_ptr === 0
      ? new CaswebError("closed", `${what}: the object was freed (its free() was called)`)
      : new CaswebError("invalid_argument", `${what}: an argument was already freed (its free() was called)`);
  }
  const wrongClass = WRONG_CLASS.exec(error.message);
  if (wrongClass) {
    return new CaswebError("invalid_argument", `${what}: an argument must be a ${wrongClass[1]}`);
  }
  return error;
}

function guarded(fn, what, isAsync) {
  return function (...args) {
    try {
      return fn.apply(this, args);
    } catch (error) {
      const translated = translate(error, what, this);
      if (isAsync) return Promise.reject(translated);
      throw translated;
    }
  };
}

/** Guards every method, getter and static function of `cls`; returns the guarded class. */
function guardClass(cls, name, asyncNames) {
  const guardMembers = (target, prefix) => {
    for (const member of Object.getOwnPropertyNames(target)) {
      if (["constructor", "prototype", "length", "name", "free", "__wrap"].includes(member)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(target, member);
      const what = `${name}.${member}`;
      if (typeof descriptor.value === "function") {
        descriptor.value = guarded(descriptor.value, what, asyncNames.has(prefix + member));
      } else if (descriptor.get) {
        descriptor.get = guarded(descriptor.get, what, false);
      } else {
        continue;
      }
      Object.defineProperty(target, member, descriptor);
    }
  };
  guardMembers(cls.prototype, "");
  guardMembers(cls, "static:");
  // Constructors check their class arguments too (e.g. `new Advertiser(node)`). The proxy is the
  // class to callers: `instanceof`, statics and prototype are the class's own.
  return new Proxy(cls, {
    construct(target, args, newTarget) {
      try {
        return Reflect.construct(target, args, newTarget);
      } catch (error) {
        throw translate(error, `new ${name}`, undefined);
      }
    },
  });
}

const classes = {};
for (const [name, asyncNames] of Object.entries(ASYNC_METHODS)) {
  if (glue[name]) classes[name] = guardClass(glue[name], name, new Set(asyncNames));
}

export const {
  MemoryStorage, IndexedDbStorage, CachedStorage, HttpStorage, BufferedHttpStorage, P2pNode,
  Advertiser, AdvertisingStorage, PeerStorage,
} = classes;

/** In Node, the wasm file's bytes (Node's fetch cannot read file: URLs); elsewhere undefined. */
async function nodeWasmBytes() {
  const url = new URL("casweb_bg.wasm", import.meta.url);
  if (url.protocol !== "file:" || typeof process !== "object" || !process.versions?.node) {
    return undefined;
  }
  // A specifier in a variable, and the comments, keep bundlers from resolving a Node module.
  const fsModule = "node:fs/promises";
  const { readFile } = await import(/* webpackIgnore: true */ /* @vite-ignore */ fsModule);
  return readFile(url);
}

/**
 * Loads and instantiates the wasm module; call (and await) it once before anything else.
 * Without an argument: in browsers it fetches `casweb_bg.wasm` next to this file, in Node it
 * reads it from disk.
 */
export default async function init(moduleOrPath) {
  if (moduleOrPath === undefined) {
    const bytes = await nodeWasmBytes();
    if (bytes) moduleOrPath = { module_or_path: bytes };
  }
  const exports = await initWasm(moduleOrPath);
  return { memory: exports.memory };
}

/** Instantiates the wasm module synchronously from its bytes or a compiled WebAssembly.Module. */
export function initSync(module) {
  return { memory: glue.initSync(module).memory };
}
