// Measure 9: a bounded cache. 10,000 puts of 4 KiB (40 MiB) into an IndexedDbStorage capped at
// 8 MiB, so eviction runs all along, then gets of the 1,500 most recent keys: against the same
// store without a cap, and plain JS IndexedDB (one transaction per batch, no bookkeeping) as
// the floor.
import {
  collectGarbage, deleteDatabase, randomBlocks, request, speedup, timed, transactionDone,
} from "../util.mjs";

const COUNT = 10_000;
const SIZE = 4096;
/** Puts issued per tick, as storeFile's window issues them. */
const BATCH = 500;
const CAP = 8 * 1024 * 1024;
/** Gets of the most recent keys: 6 MiB, within the cap's low-water mark (90 %). */
const RECENT = 1_500;
const STORE = "nodes";

/** Plain IndexedDB: each batch in one transaction, nothing else written. */
const plain = {
  async open(name) {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    return request(open);
  },
  async putBatch(db, nodes) {
    const tx = db.transaction(STORE, "readwrite");
    const store = tx.objectStore(STORE);
    for (const { key, bytes } of nodes) store.put(bytes, key);
    await transactionDone(tx);
  },
  async getAll(db, keys) {
    const tx = db.transaction(STORE, "readonly");
    const store = tx.objectStore(STORE);
    const values = await Promise.all(keys.map((key) => request(store.get(key))));
    await transactionDone(tx);
    return values;
  },
  async settle() {},
  close: (db) => db.close(),
};

/** casweb's IndexedDbStorage, with or without a cap: a batch is a `Promise.all` of puts. */
function caswebStorage(casweb, options) {
  return {
    open: (name) => casweb.IndexedDbStorage.open(name, options),
    putBatch: (storage, nodes) => Promise.all(nodes.map(({ key, bytes }) => storage.put(key, bytes))),
    getAll: (storage, keys) => Promise.all(keys.map((key) => storage.get(key))),
    async settle(storage) {
      const usage = await storage.evict();
      if (options?.maxBytes && usage.bytes > options.maxBytes) {
        throw new Error(`usage ${usage.bytes} over the cap ${options.maxBytes}`);
      }
      return storage.stats();
    },
    close: (storage) => storage.close(),
  };
}

export default {
  id: "cache",
  title: "9. A bounded cache: 40 MiB of 4 KiB puts through an 8 MiB cap, then gets",
  description:
    "Each run opens a fresh database and times 10,000 puts of distinct random 4 KiB nodes, 500 " +
    "issued at once and the next 500 when they resolve (as `storeFile` does), then 1,500 gets " +
    "of the most recent keys issued at once. casweb capped: `IndexedDbStorage.open(name, " +
    "{ maxBytes: 8 MiB })`, so eviction runs in the background from the 2,000th put on (puts " +
    "wait for room once the cap is reached; every get also lands in the access log). casweb " +
    "uncapped: the same store without `maxBytes` (its puts still keep the usage record). " +
    "Plain JS: one transaction per batch of 500, no bookkeeping: the floor.",
  rounds: 5,
  contenders: [
    { id: "capped", label: "casweb, maxBytes 8 MiB (evicting)" },
    { id: "uncapped", label: "casweb, no cap" },
    { id: "js", label: "plain JS IndexedDB" },
  ],
  metrics: [
    { id: "putMs", label: "10,000 puts", unit: "ms", lowerIsBetter: true },
    { id: "getMs", label: "1,500 gets", unit: "ms", lowerIsBetter: true },
    { id: "evicted", label: "nodes evicted", unit: "", lowerIsBetter: false },
  ],
  async run(contender, { casweb, runId }) {
    const api = {
      capped: caswebStorage(casweb, { maxBytes: CAP }),
      uncapped: caswebStorage(casweb, undefined),
      js: plain,
    }[contender];
    const nodes = randomBlocks(COUNT, SIZE).map((bytes) => ({ key: casweb.keyOf(bytes), bytes }));
    const recent = nodes.slice(-RECENT).map((node) => node.key);
    const name = `casweb-bench-cache-${contender}-${runId}`;
    const db = await api.open(name);
    collectGarbage();
    const putMs = await timed(async () => {
      for (let i = 0; i < COUNT; i += BATCH) await api.putBatch(db, nodes.slice(i, i + BATCH));
    });
    collectGarbage();
    let values;
    const getMs = await timed(async () => {
      values = await api.getAll(db, recent);
    });
    const stats = await api.settle(db);
    api.close(db);
    await deleteDatabase(name);
    const found = values.filter((value) => value?.byteLength === SIZE).length;
    if (found !== RECENT) throw new Error(`${contender}: ${found} of the ${RECENT} recent keys read`);
    return { putMs, getMs, evicted: stats?.nodesEvicted ?? 0 };
  },
  targets(medians) {
    const puts = speedup(medians, "putMs", "capped", "uncapped");
    const gets = speedup(medians, "getMs", "capped", "uncapped");
    const floor = speedup(medians, "putMs", "uncapped", "js");
    return [
      {
        label: "capped puts (eviction running) ≥ 0.5× the uncapped speed",
        value: `${puts.toFixed(2)}×`,
        met: puts >= 0.5,
      },
      {
        label: "capped gets ≥ 0.8× the uncapped speed",
        value: `${gets.toFixed(2)}×`,
        met: gets >= 0.8,
      },
      {
        label: "uncapped puts ≥ 0.5× plain JS (the usage record and meta records cost)",
        value: `${floor.toFixed(2)}×`,
        met: floor >= 0.5,
      },
    ];
  },
};
