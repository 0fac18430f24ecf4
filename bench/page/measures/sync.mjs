// Measures 3 and 6: syncing a 10,000-node DAG (about 40 MiB) to the local server: casweb's
// BufferedHttpStorage against a naive client (one check plus one put or claim per node, same
// HttpStorage), with time, requests, peak JS heap and wasm memory.
import {
  collectGarbage, deleteDatabase, heapSampler, jsHeapBytes, randomBlocks, speedup, timed,
} from "../util.mjs";

// 4 KiB nodes: 10,200 leaves and the nodes above them make a DAG of about 10,000 nodes.
const DATA_BYTES = 40 * 1024 * 1024;
const CHUNK_SIZE = 4096;
const MIB = 1024 * 1024;

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

/** Nodes per level when uploaded children first (a leaf is level 0). */
function depthOf(casweb, nodes) {
  const level = new Map();
  for (const { key, bytes } of nodes) {
    const children = casweb.childKeys(bytes);
    level.set(key, children.length === 0 ? 0 : 1 + Math.max(...children.map((c) => level.get(c))));
  }
  return 1 + Math.max(...level.values());
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
    "`HttpStorage`. Requests are `HttpStorage.requestCount`. Memory: the peak of " +
    "`performance.memory.usedJSHeapSize` sampled every 10 ms during the sync (typed-array " +
    "contents live outside it) and the wasm memory before and after it (wasm memory never " +
    "shrinks; `chunkFile` of the 40 MiB input already grew it before the sync starts).",
  rounds: 3,
  contenders: [
    { id: "casweb", label: "casweb BufferedHttpStorage" },
    { id: "naive", label: "naive: check + put per node" },
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
    const http = new casweb.HttpStorage(server);
    const pendingStore = `casweb-bench-pending-${runId}`;
    collectGarbage();
    const jsHeapBefore = jsHeapBytes();
    const wasmBefore = wasmMemoryBytes();
    const sampler = heapSampler(10);
    const syncMs = await timed(() =>
      contender === "casweb"
        ? syncBuffered(casweb, http, nodes, pendingStore)
        : syncNaive(http, nodes),
    );
    const peakJsHeap = sampler.stop();
    const wasmAfter = wasmMemoryBytes();
    const requests = http.requestCount;
    if (contender === "casweb") await deleteDatabase(pendingStore);
    const root = nodes[nodes.length - 1];
    const check = await http.checkMany([root.key]);
    if (check.owned.length !== 1) throw new Error(`${contender}: the root is not on the server`);
    return {
      syncMs,
      requests,
      nodes: nodes.length,
      depth: depthOf(casweb, nodes),
      jsHeapBeforeMiB: jsHeapBefore / MIB,
      peakJsHeapMiB: peakJsHeap / MIB,
      wasmBeforeMiB: wasmBefore / MIB,
      wasmAfterMiB: wasmAfter / MIB,
    };
  },
  targets(medians) {
    const ratio = speedup(medians, "syncMs", "casweb", "naive");
    const { requests, depth, nodes } = medians.casweb;
    // The engine's request budget: per level one check and one upload, each split by the
    // server's limits (1,000 keys per check, 1,000 nodes or 16 MiB per batch), plus GET /api/info.
    const budget = 1 + 2 * depth + 2 * Math.ceil(nodes / 1000);
    return [
      { label: "casweb ≥ 5× faster than the naive client", value: `${ratio.toFixed(1)}×`, met: ratio >= 5 },
      {
        label: "casweb requests O(depth): ≤ 1 + 2·depth + 2·⌈nodes/1000⌉ (server batch limits)",
        value: `${requests} requests for depth ${depth} (budget ${budget}); naive ${medians.naive.requests}`,
        met: requests <= budget,
      },
    ];
  },
};
