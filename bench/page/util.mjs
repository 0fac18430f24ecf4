// Helpers shared by the measures: random node data, timing, garbage collection, heap sampling.

/** `count` distinct random byte arrays of `size` bytes, each with its own buffer. */
export function randomBlocks(count, size) {
  const blocks = [];
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(size);
    for (let offset = 0; offset < size; offset += 65536) {
      crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
    }
    blocks.push(bytes);
  }
  return blocks;
}

/** A small deterministic PRNG (mulberry32), so every contender sees the same shapes. */
export function prng(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `work` and resolves to its duration in milliseconds. */
export async function timed(work) {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** A full garbage collection when Chromium exposes gc() (--js-flags=--expose-gc). */
export function collectGarbage() {
  if (typeof globalThis.gc === "function") globalThis.gc();
}

/** The JS heap in use (needs --enable-precise-memory-info for exact numbers). */
export function jsHeapBytes() {
  return performance.memory?.usedJSHeapSize ?? 0;
}

/** Samples the JS heap every `intervalMs` until stopped; stop() resolves to the peak. */
export function heapSampler(intervalMs = 10) {
  let peak = jsHeapBytes();
  const timer = setInterval(() => {
    peak = Math.max(peak, jsHeapBytes());
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, jsHeapBytes());
    },
  };
}

/** Resolves when an IndexedDB request succeeds, rejects with its error. */
export function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Resolves when a transaction completes, rejects if it aborts or fails. */
export function transactionDone(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
    tx.onerror = () => reject(tx.error);
  });
}

/** Deletes an IndexedDB database (waits until it is gone). */
export function deleteDatabase(name) {
  return request(indexedDB.deleteDatabase(name));
}

/** speed ratio of `contender` against `baseline` on a lower-is-better metric. */
export function speedup(medians, metric, contender, baseline) {
  return medians[baseline][metric] / medians[contender][metric];
}
