// Measure 8: a 1 GiB file through the full stack with bounded memory: storeFile of a Blob into
// CachedStorage(IndexedDbStorage, BufferedHttpStorage) until synced, then readFileStream of it
// all, each byte compared; peak wasm memory growth and JS heap reported.
import { collectGarbage, deleteDatabase, heapSampler, jsHeapBytes, timed } from "../util.mjs";

const MIB = 1024 * 1024;
const SIZE = 1024 * MIB;

/** Word `w` of a pattern that differs in every 1 MiB leaf. */
const word = (w, seed) => (Math.imul(w ^ seed, 2654435761) ^ (w >>> 9)) >>> 0;

/** A stream of `size` pattern bytes, made a MiB at a time as it is read (a 1 GiB Blob built
 *  in memory fails to read back in headless Chromium: its blob store gives up with a network
 *  error; a File picked from disk is read from the file). */
function patternStream(size, seed) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= size) {
        controller.close();
        return;
      }
      const words = new Uint32Array(Math.min(MIB, size - offset) / 4);
      for (let w = 0; w < words.length; w++) words[w] = word(offset / 4 + w, seed);
      offset += words.byteLength;
      controller.enqueue(new Uint8Array(words.buffer));
    },
  });
}

/** Reads `stream` to the end comparing every 4-byte word; resolves with the bytes read. */
async function checkStream(stream, seed) {
  const reader = stream.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return bytes;
    for (let i = 0; i < value.length; i++) {
      const p = bytes + i;
      if (value[i] !== ((word(p >>> 2, seed) >>> ((p & 3) * 8)) & 255)) {
        throw new Error(`byte ${p} differs`);
      }
    }
    bytes += value.length;
  }
}

export default {
  id: "large-file",
  title: "8. A 1 GiB file in and out through the full stack: time and peak memory",
  description:
    "A 1 GiB `ReadableStream` (a pattern that differs in every 1 MiB leaf, made as it is read) " +
    "stored with `storeFile` (default " +
    "1 MiB chunks) into `CachedStorage(IndexedDbStorage, BufferedHttpStorage)` and synced to the " +
    "local server (`flush()`), then read back with `readFileStream` from the cache, every byte " +
    "compared. Wasm memory: growth over the run (it never shrinks, so this is the peak); JS " +
    "heap: the peak of `usedJSHeapSize` sampled every 10 ms minus the heap before.",
  rounds: 1,
  contenders: [{ id: "casweb", label: "casweb storeFile + readFileStream" }],
  metrics: [
    { id: "storeMs", label: "store + sync", unit: "ms", lowerIsBetter: true },
    { id: "readMs", label: "stream read", unit: "ms", lowerIsBetter: true },
    { id: "wasmGrowthMiB", label: "wasm memory growth", unit: "MiB", lowerIsBetter: true },
    { id: "peakJsHeapGrowthMiB", label: "peak JS heap growth", unit: "MiB", lowerIsBetter: true },
  ],
  async run(_contender, { casweb, wasmMemoryBytes, server, runId }) {
    const seed = (Math.random() * 2 ** 32) >>> 0;
    const input = patternStream(SIZE, seed);
    const cacheName = `casweb-bench-large-${runId}`;
    const pendingName = `casweb-bench-large-pending-${runId}`;
    const http = new casweb.HttpStorage(server);
    const buffered = await casweb.BufferedHttpStorage.open(http, { pendingStore: pendingName });
    const cache = await casweb.IndexedDbStorage.open(cacheName);
    const storage = new casweb.CachedStorage(cache, buffered);
    collectGarbage();
    const heapBefore = jsHeapBytes();
    const wasmBefore = wasmMemoryBytes();
    const sampler = heapSampler(10);
    let root;
    const storeMs = await timed(async () => {
      root = await casweb.storeFile(storage, input);
      const result = await buffered.flush();
      if (result.failed.length > 0) throw new Error(`${result.failed.length} nodes failed`);
    });
    let bytes;
    const readMs = await timed(async () => {
      bytes = await checkStream(casweb.readFileStream(storage, root), seed);
    });
    const peakHeap = sampler.stop();
    if (bytes !== SIZE) throw new Error(`read ${bytes} bytes`);
    const wasmGrowth = wasmMemoryBytes() - wasmBefore;
    buffered.dispose();
    cache.close();
    await deleteDatabase(cacheName);
    await deleteDatabase(pendingName);
    return {
      storeMs,
      readMs,
      wasmGrowthMiB: wasmGrowth / MIB,
      peakJsHeapGrowthMiB: (peakHeap - heapBefore) / MIB,
    };
  },
  targets(medians) {
    const { wasmGrowthMiB } = medians.casweb;
    return [
      {
        label: "1 GiB in and out with wasm memory growth ≤ 64 MiB",
        value: `${wasmGrowthMiB.toFixed(1)} MiB`,
        met: wasmGrowthMiB <= 64,
      },
    ];
  },
};
