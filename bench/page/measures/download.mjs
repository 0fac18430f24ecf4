// Measure 7b: downloading the 40 MiB DAG's nodes in many-nodes gets, and how the answer's body is
// read: casweb's HttpStorage.getMany against plain `fetch` reading the same answers with
// `arrayBuffer()`, a `Blob` (what casweb does since this measure found it faster), or the body
// stream, and Node's fetch outside the browser as the ceiling. The upload's lesson (a `Blob` body 3.4× faster than a `Uint8Array`)
// asked whether downloads have such a choice too.
import { collectGarbage, randomBlocks, speedup, timed } from "../util.mjs";
import { BODY_READERS, getPlain } from "../wire.mjs";

const DATA_BYTES = 40 * 1024 * 1024;
const CHUNK_SIZE = 4096;

/** A fresh 40 MiB DAG of 4 KiB nodes, uploaded (not timed); resolves to its keys. */
async function uploadedDag(casweb, server) {
  const dag = casweb.chunkFile(randomBlocks(1, DATA_BYTES)[0], { chunkSize: CHUNK_SIZE });
  const results = await new casweb.HttpStorage(server).putMany(dag.nodes);
  if (results.some((r) => !r.ok)) throw new Error("the upload failed");
  return { keys: dag.nodes.map((n) => n.key), nodeBytes: dag.nodes.reduce((sum, n) => sum + n.bytes.byteLength, 0) };
}

/** Reads every key with `read` and checks that at least the nodes' bytes arrived. */
async function download({ keys, nodeBytes }, read) {
  collectGarbage();
  let got;
  const downloadMs = await timed(async () => {
    got = await read(keys);
  });
  if (got.bytes < nodeBytes) throw new Error(`${got.bytes} bytes for ${nodeBytes} bytes of nodes`);
  return { downloadMs, requests: got.requests, nodes: keys.length };
}

function plainReader(server, name) {
  return (keys) => getPlain(server, keys, BODY_READERS[name]);
}

export default {
  id: "download",
  title: "7b. Downloading the 40 MiB DAG in many-nodes gets: how the answer's body is read",
  description:
    "The 10,323 nodes of a fresh 40 MiB DAG (4 KiB nodes), uploaded before the clock starts, read " +
    "back from the local server in many-nodes gets (`POST .../nodes/get`, 1,000 keys each, 4 in " +
    "flight). casweb: `HttpStorage.getMany(keys)` (plans the same requests, reads each answer " +
    "as a `Blob` then its `arrayBuffer()`, copies it into wasm, parses it and checks every " +
    "node's hash). Plain " +
    "JS, no casweb code and no parsing (the transfer alone): the answers read with " +
    "`arrayBuffer()`, with `blob()` then its `arrayBuffer()`, or chunk by chunk from the body " +
    "stream into one array. Ceiling: the `arrayBuffer()` reader run by Node's `fetch` outside " +
    "the browser.",
  rounds: 3,
  contenders: [
    { id: "casweb", label: "casweb HttpStorage.getMany (parsed, hashes checked)" },
    { id: "arrayBuffer", label: "plain fetch, arrayBuffer()" },
    { id: "blob", label: "plain fetch, blob() then arrayBuffer()" },
    { id: "stream", label: "plain fetch, body stream read into one array" },
    { id: "node-arrayBuffer", label: "ceiling: Node's fetch (native), arrayBuffer()", native: true },
  ],
  metrics: [
    { id: "downloadMs", label: "download", unit: "ms", lowerIsBetter: true },
    { id: "requests", label: "requests", unit: "", lowerIsBetter: true },
    { id: "nodes", label: "nodes", unit: "", lowerIsBetter: false },
  ],
  async run(contender, { casweb, server }) {
    const dag = await uploadedDag(casweb, server);
    if (contender !== "casweb") return download(dag, plainReader(server, contender));
    const http = new casweb.HttpStorage(server);
    await http.checkMany([dag.keys[0]]); // GET /api/info before the clock, as the plain readers know the limits
    const before = http.requestCount;
    return download(dag, async (keys) => {
      const nodes = await http.getMany(keys);
      const bytes = nodes.reduce((sum, node) => sum + node.byteLength, 0);
      return { bytes, requests: http.requestCount - before };
    });
  },
  async runNative(contender, { casweb, server }) {
    if (contender !== "node-arrayBuffer") throw new Error(`no native contender ${contender}`);
    return download(await uploadedDag(casweb, server), plainReader(server, "arrayBuffer"));
  },
  targets(medians) {
    const casweb = speedup(medians, "downloadMs", "casweb", "blob");
    const blob = speedup(medians, "downloadMs", "blob", "arrayBuffer");
    const stream = speedup(medians, "downloadMs", "stream", "arrayBuffer");
    const browser = speedup(medians, "downloadMs", "arrayBuffer", "node-arrayBuffer");
    return [
      {
        label: "casweb getMany against the plain download it makes (blob(); casweb also parses and hashes)",
        value: `${casweb.toFixed(2)}×`,
      },
      {
        label: "other body readers against arrayBuffer() (above 1: faster)",
        value: `blob ${blob.toFixed(2)}×, stream ${stream.toFixed(2)}×`,
      },
      { label: "the browser's plain download against the native ceiling", value: `${browser.toFixed(2)}× the native rate` },
    ];
  },
};
