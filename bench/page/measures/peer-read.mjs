// Measure 10: a 5 MiB file read by a browser that has no copy: from another browser node through
// the server's relay (the block exchange: PeerStorage, every node verified) against from the
// server over HTTP (HttpStorage many-nodes gets). Both into a fresh IndexedDB cache.
import { collectGarbage, deleteDatabase, randomBlocks, timed } from "../util.mjs";

const DATA_BYTES = 5 * 1024 * 1024;
/** 64 KiB nodes: about 80 leaves under one root; the HTTP reader and the peers get the same DAG. */
const CHUNK_SIZE = 65536;

/** Announces `root` from `provider` until `seeker` finds it (ADD_PROVIDER is unacknowledged). */
async function announce(provider, seeker, root) {
  await provider.startProvide(root);
  for (let i = 0; i < 50; i++) {
    const found = await seeker.getProviders(root, { limit: 20, timeoutMs: 5000 }).catch(() => []);
    if (found.some((p) => p.peerId === provider.peerId)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the provider was not found within 5 s");
}

export default {
  id: "peer-read",
  title: "10. A 5 MiB file from a peer through the relay vs from the server over HTTP",
  description:
    "Fresh random bytes in 64 KiB nodes (about 80 leaves under one root) read with `readFile` through " +
    "`CachedStorage(IndexedDbStorage, remote)` with a fresh database. Peer: two `P2pNode`s in " +
    "the page joined over WebSocket; node A serves a `MemoryStorage` holding the file and announces " +
    "its root, the remote is `PeerStorage(B)` (one DHT lookup, then one block request per level " +
    "and per 4 MiB, every node verified), so every byte goes page → server relay → page. HTTP: " +
    "the file is uploaded with `putMany` and the remote is an `HttpStorage`. The time excludes " +
    "announcing (the lookup is included).",
  rounds: 3,
  contenders: [
    { id: "peer", label: "from a peer via the relay" },
    { id: "http", label: "from the server over HTTP" },
  ],
  metrics: [
    { id: "readMs", label: "read", unit: "ms", lowerIsBetter: true },
    { id: "requests", label: "requests", unit: "", lowerIsBetter: true },
  ],
  async run(contender, { casweb, server, runId }) {
    const data = randomBlocks(1, DATA_BYTES)[0];
    const dag = casweb.chunkFile(data, { chunkSize: CHUNK_SIZE });
    const name = `casweb-bench-peer-${runId}`;
    const cache = await casweb.IndexedDbStorage.open(name);
    const nodes = [];
    let remote;
    let requests;
    if (contender === "peer") {
      const connect = () => casweb.P2pNode.connect({ serverUrl: server.baseUrl, transports: ["websocket"] });
      const [a, b] = [await connect(), await connect()];
      nodes.push(a, b);
      const served = new casweb.MemoryStorage();
      for (const node of dag.nodes) await served.put(node.key, node.bytes);
      a.serve(served);
      await announce(a, b, dag.root);
      remote = new casweb.PeerStorage(b, { timeoutMs: 60_000 });
      requests = () => remote.stats().requests + remote.stats().lookups;
    } else {
      const results = await new casweb.HttpStorage(server).putMany(dag.nodes);
      if (results.some((r) => !r.ok)) throw new Error("the upload failed");
      remote = new casweb.HttpStorage(server);
      requests = () => remote.requestCount;
    }
    const storage = new casweb.CachedStorage(cache, remote);
    collectGarbage();
    let file;
    const readMs = await timed(async () => {
      file = await casweb.readFile(storage, dag.root);
    });
    if (file.data.length !== data.length) throw new Error("wrong length");
    const result = { readMs, requests: requests() };
    for (const node of nodes) await node.close();
    cache.close();
    await deleteDatabase(name);
    return result;
  },
  targets(medians) {
    const { peer, http } = medians;
    return [
      {
        label: "5 MiB from a peer through the relay: O(depth) requests (a lookup, one per level)",
        value: `${peer.requests} (lookups and block requests); HTTP ${http.requests}`,
        met: peer.requests <= 4,
      },
      {
        label: "from a peer within 5× the time from the server over HTTP",
        value: `${peer.readMs.toFixed(0)} ms vs ${http.readMs.toFixed(0)} ms`,
        met: peer.readMs <= 5 * http.readMs,
      },
    ];
  },
};
