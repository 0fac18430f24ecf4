// Measures 3 and 6: syncing a 10,000-node DAG (about 40 MiB) to the local server: casweb's
// BufferedHttpStorage and the full stack (CachedStorage over IndexedDB and the engine) against
// the floor (plain JS doing what the browser must do anyway: write the nodes to IndexedDB once
// and upload them once, in the fastest form the browser offers), a plain upload alone (against
// HttpStorage.putMany) and a naive client (one check plus one put or claim per node), with time,
// requests, peak JS heap and wasm memory.
import {
  collectGarbage, deleteDatabase, heapSampler, jsHeapBytes, randomBlocks, request, speedup, timed,
  transactionDone,
} from "../util.mjs";
import { batchesOf, levelsOf, uploadLevels, uploadPlain } from "../wire.mjs";

// 4 KiB nodes: 10,200 leaves and the nodes above them make a DAG of about 10,000 nodes.
const DATA_BYTES = 40 * 1024 * 1024;
const CHUNK_SIZE = 4096;
const MIB = 1024 * 1024;
/** BufferedHttpStorage's default buffer limit (`maxBufferBytes`). */
const BUFFER_BYTES = 16 * MIB;

/** Fresh random content each run, so every node is new to the server. */
function makeDag(casweb) {
  const dag = casweb.chunkFile(randomBlocks(1, DATA_BYTES)[0], { chunkSize: CHUNK_SIZE });
  return dag.nodes; // children first, root last
}

async function syncBuffered(casweb, http, nodes, pendingStore) {
  const engine = await casweb.BufferedHttpStorage.open(http, { pendingStore });
  await Promise.all(nodes.map(({ key, bytes }) => engine.put(key, bytes)));
  const result = await engine.flush();
  engine.dispose();
  if (result.failed.length > 0) throw new Error(`casweb: ${result.failed.length} nodes failed`);
}

async function syncNaive(http, nodes) {
  for (const { key, bytes } of nodes) {
    const status = await http.checkMany([key]);
    if (status.missing.length > 0) await http.put(key, bytes);
    else if (status.unowned.length > 0) await http.claim(key, bytes);
  }
}

/** The floor: the nodes written to IndexedDB in one transaction per 1,000 while the same
 *  batches are uploaded. */
async function syncFloor(server, nodes, levels, database) {
  const open = indexedDB.open(database, 1);
  open.onupgradeneeded = () => open.result.createObjectStore("nodes");
  const db = await request(open);
  const writes = batchesOf(nodes).map((batch) => {
    const tx = db.transaction("nodes", "readwrite");
    const store = tx.objectStore("nodes");
    for (const { key, bytes } of batch) store.put(bytes, key);
    return transactionDone(tx);
  });
  await Promise.all([...writes, uploadPlain(server, levels)]);
  db.close();
}

function putManyBatches(http, levels) {
  return uploadLevels(levels, async (batch) => {
    const results = await http.putMany(batch);
    if (results.some((result) => !result.ok)) throw new Error("putMany: a node was refused");
  });
}

/** The full stack an app uses: every node put into CachedStorage(IndexedDbStorage,
 *  BufferedHttpStorage), then flushed. */
async function syncFullStack(casweb, http, nodes, database, pendingStore) {
  const local = await casweb.IndexedDbStorage.open(database);
  const engine = await casweb.BufferedHttpStorage.open(http, { pendingStore });
  const stack = new casweb.CachedStorage(local, engine);
  await Promise.all(nodes.map(({ key, bytes }) => stack.put(key, bytes)));
  const result = await engine.flush();
  engine.dispose();
  local.close();
  if (result.failed.length > 0) throw new Error(`full stack: ${result.failed.length} nodes failed`);
}

export default {
  id: "sync",
  title: "3 and 6. Sync of a 10,000-node DAG (40 MiB) to the local server: time, requests, memory",
  description:
    "A 40 MiB file of fresh random bytes cut by `chunkFile` into 4 KiB nodes, synced to the " +
    "reference server on 127.0.0.1 (release build, fresh data directory). casweb: " +
    "`BufferedHttpStorage` with its defaults (16 MiB buffer limit, pending nodes kept in " +
    "IndexedDB): every node `put` at once, then `flush()`. Naive: a loop over the nodes, " +
    "children first, awaiting `checkMany([key])` then `put` (or `claim`) on the same " +
    "`HttpStorage`. Floor: plain JS, no casweb code: the nodes written to IndexedDB in one " +
    "transaction per 1,000 while the same nodes are POSTed with `fetch` in 1,000-node " +
    "batches, framed, as `Blob` bodies, level by level (children first; the levels are " +
    "computed before the clock starts), two requests at a time within a level. Plain upload: " +
    "those POSTs alone; casweb putMany: `HttpStorage.putMany` of the same batches the same " +
    "way. Full stack: every node put into " +
    "`CachedStorage(IndexedDbStorage, BufferedHttpStorage)` at once, then `flush()`. " +
    "Requests are `HttpStorage.requestCount`. Memory: the peak of " +
    "`performance.memory.usedJSHeapSize` sampled every 10 ms during the sync (typed-array " +
    "contents live outside it) and the wasm memory before and after it (wasm memory never " +
    "shrinks; `chunkFile` of the 40 MiB input already grew it before the sync starts). " +
    "Ceiling: the plain upload run by Node's `fetch` outside the browser (same DAG shape, " +
    "levels and requests; memory not measured there), with `Blob` bodies and with each body " +
    "copied into one `Uint8Array`: the rate a native client gets from the same server in the " +
    "same run.",
  rounds: 3,
  contenders: [
    { id: "casweb", label: "casweb BufferedHttpStorage" },
    { id: "full-stack", label: "casweb CachedStorage(IndexedDbStorage, BufferedHttpStorage)" },
    { id: "floor", label: "floor: plain JS, IndexedDB + Blob uploads" },
    { id: "putmany", label: "casweb HttpStorage.putMany, 1,000 per call, 2 at once" },
    { id: "plain-upload", label: "plain JS upload, Blob bodies, 2 at once" },
    { id: "naive", label: "naive: check + put per node" },
    // Run by bench/run.mjs in Node, outside the browser (`runNative`).
    { id: "node-blob", label: "ceiling: the plain upload from Node's fetch (native), Blob bodies", native: true },
    { id: "node-bytes", label: "ceiling: the plain upload from Node's fetch (native), one Uint8Array per body", native: true },
  ],
  metrics: [
    { id: "syncMs", label: "sync", unit: "ms", lowerIsBetter: true },
    { id: "requests", label: "requests", unit: "", lowerIsBetter: true },
    { id: "nodes", label: "nodes", unit: "", lowerIsBetter: false },
    { id: "depth", label: "depth", unit: "", lowerIsBetter: false },
    { id: "jsHeapBeforeMiB", label: "JS heap before", unit: "MiB", lowerIsBetter: true },
    { id: "peakJsHeapMiB", label: "peak JS heap", unit: "MiB", lowerIsBetter: true },
    { id: "wasmBeforeMiB", label: "wasm memory before", unit: "MiB", lowerIsBetter: true },
    { id: "wasmAfterMiB", label: "wasm memory after", unit: "MiB", lowerIsBetter: true },
  ],
  async run(contender, { casweb, wasmMemoryBytes, server, runId }) {
    const nodes = makeDag(casweb);
    const levels = levelsOf(casweb, nodes);
    const http = new casweb.HttpStorage(server);
    const pendingStore = `casweb-bench-pending-${runId}`;
    const database = `casweb-bench-sync-${runId}`;
    const sync = {
      casweb: () => syncBuffered(casweb, http, nodes, pendingStore),
      "full-stack": () => syncFullStack(casweb, http, nodes, database, pendingStore),
      floor: () => syncFloor(server, nodes, levels, database),
      putmany: () => putManyBatches(http, levels),
      "plain-upload": () => uploadPlain(server, levels),
      naive: () => syncNaive(http, nodes),
    }[contender];
    collectGarbage();
    const jsHeapBefore = jsHeapBytes();
    const wasmBefore = wasmMemoryBytes();
    const sampler = heapSampler(10);
    const syncMs = await timed(sync);
    const peakJsHeap = sampler.stop();
    const wasmAfter = wasmMemoryBytes();
    const requests = http.requestCount;
    await deleteDatabase(pendingStore);
    await deleteDatabase(database);
    const root = nodes[nodes.length - 1];
    const check = await http.checkMany([root.key]);
    if (check.owned.length !== 1) throw new Error(`${contender}: the root is not on the server`);
    return {
      syncMs,
      requests,
      nodes: nodes.length,
      depth: levels.length,
      jsHeapBeforeMiB: jsHeapBefore / MIB,
      peakJsHeapMiB: peakJsHeap / MIB,
      wasmBeforeMiB: wasmBefore / MIB,
      wasmAfterMiB: wasmAfter / MIB,
    };
  },
  /** The native contender: the plain upload from Node (same DAG shape, same requests), the
   *  rate a client outside the browser gets from this server. Memory is not comparable there. */
  async runNative(contender, { casweb, server }) {
    const form = { "node-blob": "blob", "node-bytes": "bytes" }[contender];
    if (!form) throw new Error(`no native contender ${contender}`);
    const nodes = makeDag(casweb);
    const levels = levelsOf(casweb, nodes);
    const syncMs = await timed(() => uploadPlain(server, levels, form));
    const http = new casweb.HttpStorage(server);
    const check = await http.checkMany([nodes[nodes.length - 1].key]);
    if (check.owned.length !== 1) throw new Error(`${contender}: the root is not on the server`);
    return {
      syncMs,
      requests: 0,
      nodes: nodes.length,
      depth: levels.length,
      jsHeapBeforeMiB: NaN,
      peakJsHeapMiB: NaN,
      wasmBeforeMiB: NaN,
      wasmAfterMiB: NaN,
    };
  },
  targets(medians) {
    const ratio = speedup(medians, "syncMs", "casweb", "naive");
    const { requests, depth, nodes } = medians.casweb;
    // The engine's request budget: per level one check and one upload, each split by the
    // server's limits (1,000 keys per check, 1,000 nodes or 16 MiB per batch), plus GET /api/info;
    // the 16 MiB buffer makes the 40 MiB DAG go in ⌈40/16⌉ = 3 passes, and each pass after the
    // first may cut one level's last check and upload short (one more of each).
    const passes = Math.ceil(DATA_BYTES / BUFFER_BYTES);
    const budget = 1 + 2 * (depth + passes - 1) + 2 * Math.ceil(nodes / 1000);
    const stack = speedup(medians, "syncMs", "full-stack", "floor");
    const upload = speedup(medians, "syncMs", "putmany", "plain-upload");
    const engine = speedup(medians, "syncMs", "casweb", "plain-upload");
    const ceiling = Math.min(medians["node-blob"].syncMs, medians["node-bytes"].syncMs);
    const browser = ceiling / medians["plain-upload"].syncMs;
    return [
      {
        label: "the browser's plain upload against the native ceiling (Node's fetch in its faster body form, same requests)",
        value: `${browser.toFixed(2)}× the native rate`,
      },
      {
        label: "full stack ≥ 0.8× the floor's throughput",
        value: `${stack.toFixed(2)}×`,
        met: stack >= 0.8,
      },
      { label: "putMany ≥ 0.9× the plain upload", value: `${upload.toFixed(2)}×`, met: upload >= 0.9 },
      {
        label: "the sync engine (checks, then uploads) ≥ 0.9× the plain upload",
        value: `${engine.toFixed(2)}×`,
        met: engine >= 0.9,
      },
      { label: "casweb ≥ 5× faster than the naive client", value: `${ratio.toFixed(1)}×`, met: ratio >= 5 },
      {
        label: "casweb requests O(depth): ≤ 1 + 2·(depth + passes − 1) + 2·⌈nodes/1000⌉ (server batch limits, 16 MiB buffer)",
        value: `${requests} requests for depth ${depth} (budget ${budget}); naive ${medians.naive.requests}`,
        met: requests <= budget,
      },
    ];
  },
};
