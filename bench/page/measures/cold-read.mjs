// Measure 7: a cold read of the 10,000-node DAG (40 MiB in 4 KiB nodes) from the local server
// into a fresh IndexedDB cache: casweb's readFile (the gets of a level travel as many-nodes gets)
// against one GET per node (16 in flight, what casweb did before the many-nodes get).
import { collectGarbage, deleteDatabase, randomBlocks, speedup, timed } from "../util.mjs";

const DATA_BYTES = 40 * 1024 * 1024;
const CHUNK_SIZE = 4096;
const PER_NODE_CONCURRENCY = 16;

/** A provider reading one node per `GET .../raw/{key}` with `fetch`, counting requests. */
function perNodeProvider({ baseUrl, realm, token }) {
  const provider = {
    requests: 0,
    async get(key) {
      provider.requests += 1;
      const response = await fetch(`${baseUrl}/api/realm/${realm}/nodes/raw/${key}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`GET ${key}: ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
    async put() {
      throw new Error("read only");
    },
  };
  return provider;
}

/** Limits a provider's gets to `n` in flight (a queue in front of it). */
function limited(provider, n) {
  let running = 0;
  const waiting = [];
  const release = () => {
    running -= 1;
    waiting.shift()?.();
  };
  return {
    async get(key) {
      if (running >= n) await new Promise((resolve) => waiting.push(resolve));
      running += 1;
      try {
        return await provider.get(key);
      } finally {
        release();
      }
    },
    put: (key, bytes) => provider.put(key, bytes),
  };
}

export default {
  id: "cold-read",
  title: "7. Cold read of a 10,000-node DAG (40 MiB) from the local server: requests and time",
  description:
    "A 40 MiB file of fresh random bytes cut into 4 KiB nodes (about 10,300 nodes, 3 levels) is " +
    "uploaded once with `putMany`, then read back with `readFile` through " +
    "`CachedStorage(IndexedDbStorage, remote)` with a fresh database. casweb: the remote is an " +
    "`HttpStorage` (the gets of one tick go as many-nodes gets, `POST .../nodes/get`, up to 1,000 " +
    "keys each). Per node: the remote is a plain-JS provider doing one `fetch` GET per node, 16 in " +
    "flight. The page and the server share an origin here, so no CORS preflight is counted; a " +
    "page on another origin pays one preflight per distinct URL, i.e. per node for the per-node " +
    "reader and once for casweb's single `get` URL.",
  rounds: 3,
  contenders: [
    { id: "casweb", label: "casweb many-nodes gets" },
    { id: "perNode", label: "one GET per node (16 in flight)" },
  ],
  metrics: [
    { id: "readMs", label: "cold read", unit: "ms", lowerIsBetter: true },
    { id: "requests", label: "requests", unit: "", lowerIsBetter: true },
    { id: "nodes", label: "nodes", unit: "", lowerIsBetter: false },
  ],
  async run(contender, { casweb, server, runId }) {
    const data = randomBlocks(1, DATA_BYTES)[0];
    const dag = casweb.chunkFile(data, { chunkSize: CHUNK_SIZE });
    const uploader = new casweb.HttpStorage(server);
    const results = await uploader.putMany(dag.nodes);
    if (results.some((r) => !r.ok)) throw new Error("the upload failed");
    const name = `casweb-bench-cold-${runId}`;
    const cache = await casweb.IndexedDbStorage.open(name);
    const http = new casweb.HttpStorage(server);
    const perNode = perNodeProvider(server);
    const remote = contender === "casweb" ? http : limited(perNode, PER_NODE_CONCURRENCY);
    const storage = new casweb.CachedStorage(cache, remote);
    collectGarbage();
    let file;
    const readMs = await timed(async () => {
      file = await casweb.readFile(storage, dag.root);
    });
    if (file.data.length !== data.length) throw new Error("wrong length");
    cache.close();
    await deleteDatabase(name);
    return {
      readMs,
      requests: contender === "casweb" ? http.requestCount : perNode.requests,
      nodes: dag.nodes.length,
    };
  },
  targets(medians) {
    const ratio = speedup(medians, "readMs", "casweb", "perNode");
    const { requests, nodes } = medians.casweb;
    // Root, /api/info, then per level its keys in reads of 1,024 (each split at 1,000 keys).
    const budget = 2 + 3 * 2 + 2 * Math.ceil(nodes / 1024);
    return [
      {
        label: "casweb cold read O(depth + nodes / maxGetKeys) requests",
        value: `${requests} requests for ${nodes} nodes (budget ${budget}); per node ${medians.perNode.requests}`,
        met: requests <= budget,
      },
      { label: "casweb cold read faster than one GET per node", value: `${ratio.toFixed(1)}×`, met: ratio > 1 },
    ];
  },
};
