// casweb/p2p: the P2P classes (P2pNode, Advertiser, AdvertisingStorage, PeerStorage) in a wasm
// module of their own (libp2p), fetched and instantiated on first use: `P2pNode.connect` loads
// it, or `await initP2p()` beforehand. Storages from the `casweb` entry are passed in as they
// are (any object with get and put is a storage), and these classes' storages are usable there.

import initWasm, * as glue from "./casweb_p2p.js";
import { guardClasses } from "./guard.js";
import { wasmInput } from "./load.js";

export { CaswebError, isCaswebError } from "./error.js";

// As in index.js: the members that return a promise (checked against casweb_p2p.d.ts).
const ASYNC_METHODS = {
  P2pNode: [
    "startProvide", "stopProvide", "getProviders", "bootstrap", "dial", "connectedPeers",
    "externalAddresses", "close", "static:connect",
  ],
  Advertiser: ["start", "stop"],
  AdvertisingStorage: ["get", "put"],
  PeerStorage: ["get", "put", "getMany"],
};

let memory;
let loading;

/**
 * Loads and instantiates the P2P wasm module, once (later calls return the same promise; after a
 * failure the next call tries again). Without an argument: in browsers it fetches
 * `casweb_p2p_bg.wasm` next to this file, in Node it reads it from disk.
 */
export function initP2p(moduleOrPath) {
  loading ??= (async () => {
    const exports = await initWasm(await wasmInput(moduleOrPath, "casweb_p2p_bg.wasm"));
    memory = exports.memory;
    return { memory };
  })().catch((error) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

export const { P2pNode, Advertiser, AdvertisingStorage, PeerStorage } = guardClasses(glue, ASYNC_METHODS, {
  name: "casweb/p2p",
  init: "initP2p",
  load: () => initP2p(),
  loaded: () => memory !== undefined,
});
