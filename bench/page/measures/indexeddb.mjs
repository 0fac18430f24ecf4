// Measure 1: 10,000 puts then 10,000 gets of 4 KiB nodes: casweb's IndexedDbStorage against
// plain IndexedDB code, all calls in one transaction and one transaction per call.
import {
  collectGarbage, deleteDatabase, randomBlocks, request, speedup, timed, transactionDone,
} from "../util.mjs";

const COUNT = 10_000;
const SIZE = 4096;
// The layout casweb uses: one object store, out-of-line keys (the key text), Uint8Array values.
const STORE = "nodes";

async function openPlain(name) {
  const open = indexedDB.open(name, 1);
  open.onupgradeneeded = () => open.result.createObjectStore(STORE);
  return request(open);
}

/** Plain IndexedDB, every put (or get) in one transaction. */
const oneTransaction = {
  open: openPlain,
  async putAll(db, nodes) {
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
  close: (db) => db.close(),
};

/** Plain IndexedDB the naive way: a loop awaiting one transaction per put (or get). */
const transactionPerCall = {
  open: openPlain,
  async putAll(db, nodes) {
    for (const { key, bytes } of nodes) {
      const tx = db.transaction(STORE, "readwrite");
      tx.objectStore(STORE).put(bytes, key);
      await transactionDone(tx);
    }
  },
  async getAll(db, keys) {
    const values = [];
    for (const key of keys) {
      const tx = db.transaction(STORE, "readonly");
      values.push(await request(tx.objectStore(STORE).get(key)));
    }
    return values;
  },
  close: (db) => db.close(),
};

/** casweb: IndexedDbStorage, every call issued in one tick (so it batches them). */
function caswebStorage(casweb) {
  return {
    open: (name) => casweb.IndexedDbStorage.open(name),
    putAll: (storage, nodes) => Promise.all(nodes.map(({ key, bytes }) => storage.put(key, bytes))),
    getAll: (storage, keys) => Promise.all(keys.map((key) => storage.get(key))),
    close: (storage) => storage.close(),
  };
}

export default {
  id: "indexeddb",
  title: "1. IndexedDB: 10,000 puts and 10,000 gets of 4 KiB",
  description:
    "Each run opens a fresh database, times 10,000 puts of distinct random 4 KiB nodes issued " +
    "at once (casweb: `Promise.all` of `put`, which casweb serves with one transaction; plain " +
    "JS: one transaction, or a loop awaiting one transaction per put), then 10,000 gets of the " +
    "same keys the same way. Same store layout and default durability for all.",
  rounds: 5,
  contenders: [
    { id: "casweb", label: "casweb IndexedDbStorage" },
    { id: "js-one-tx", label: "plain JS, one transaction" },
    { id: "js-tx-per-call", label: "plain JS, one transaction per call" },
  ],
  metrics: [
    { id: "putMs", label: "10,000 puts", unit: "ms", lowerIsBetter: true },
    { id: "getMs", label: "10,000 gets", unit: "ms", lowerIsBetter: true },
  ],
  async run(contender, { casweb, runId }) {
    const api = {
      casweb: caswebStorage(casweb),
      "js-one-tx": oneTransaction,
      "js-tx-per-call": transactionPerCall,
    }[contender];
    const nodes = randomBlocks(COUNT, SIZE).map((bytes) => ({ key: casweb.keyOf(bytes), bytes }));
    const keys = nodes.map((node) => node.key);
    const name = `casweb-bench-${contender}-${runId}`;
    const db = await api.open(name);
    collectGarbage();
    const putMs = await timed(() => api.putAll(db, nodes));
    collectGarbage();
    let values;
    const getMs = await timed(async () => {
      values = await api.getAll(db, keys);
    });
    api.close(db);
    await deleteDatabase(name);
    const bytesRead = values.reduce((sum, value) => sum + (value?.byteLength ?? 0), 0);
    if (bytesRead !== COUNT * SIZE) throw new Error(`${contender} read back ${bytesRead} bytes`);
    return { putMs, getMs };
  },
  targets(medians) {
    return ["putMs", "getMs"].map((metric) => {
      const ratio = speedup(medians, metric, "casweb", "js-one-tx");
      return {
        label: `casweb ≥ 0.9× plain-JS one-transaction speed (${metric === "putMs" ? "puts" : "gets"})`,
        value: `${ratio.toFixed(2)}×`,
        met: ratio >= 0.9,
      };
    });
  },
};
