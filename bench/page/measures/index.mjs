// The registry of in-page measures: one module per measure, run and reported in this order.
// To add one (e.g. the P2P measures), write measures/<name>.mjs exporting the same shape
// ({ id, title, description, rounds, contenders, metrics, run, targets }) and list it here;
// a contender marked `native: true` is run by bench/run.mjs in Node through the measure's
// `runNative` (same arguments, with the package's storage module as `casweb`).
import indexeddb from "./indexeddb.mjs";
import topo from "./topo.mjs";
import sync from "./sync.mjs";
import coldRead from "./cold-read.mjs";
import download from "./download.mjs";
import largeFile from "./large-file.mjs";
import cache from "./cache.mjs";
import peerRead from "./peer-read.mjs";

export const measures = [indexeddb, topo, sync, coldRead, download, largeFile, cache, peerRead];
