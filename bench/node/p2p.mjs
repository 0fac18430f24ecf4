// Measures 4 and 6b (run outside the page by scripts/bench.sh): getProviders latency and
// Advertiser throughput from scripts/p2p-bench.sh's JSON, and the Advertiser's memory per key
// from tests/advertiser_memory.rs, turned into measures for the report.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

// WebSocket first, so the stock-flush row's ratios show what casweb's flush fix changes.
const LOOKUP_CONTENDERS = [
  { id: "websocket", label: "WebSocket (casweb's prompt flush), limit 1", targetP50Ms: 30 },
  { id: "websocket-stock-flush", label: "WebSocket (stock flush, 100 ms poll), limit 1" },
  { id: "webrtc-direct", label: "WebRTC-direct, limit 1", targetP50Ms: 10 },
  { id: "websocket-defaults", label: "WebSocket, default options (limit 20)", targetP50Ms: 50 },
  { id: "webrtc-direct-defaults", label: "WebRTC-direct, default options (limit 20)", targetP50Ms: 50 },
];

/** Rows `{ name: "<contender>#<round>", p50_ms, p95_ms, max_ms, announce_ms }` of a DHT of
 *  `nodes` nodes, reported as measure `id`. */
function lookupMeasure(rows, id, title, nodes) {
  const metrics = [
    { id: "p50Ms", label: "p50", unit: "ms", lowerIsBetter: true },
    { id: "p95Ms", label: "p95", unit: "ms", lowerIsBetter: true },
    { id: "maxMs", label: "max", unit: "ms", lowerIsBetter: true },
    { id: "announceMs", label: "startProvide", unit: "ms", lowerIsBetter: true },
  ];
  const samples = {};
  for (const { id } of LOOKUP_CONTENDERS) {
    const runs = rows.filter((row) => row.name.split("#")[0] === id);
    if (runs.length === 0) continue; // a report written before this contender existed
    samples[id] = runs.map((row) => ({
      p50Ms: row.p50_ms, p95Ms: row.p95_ms, maxMs: row.max_ms, announceMs: row.announce_ms,
    }));
  }
  const medians = Object.fromEntries(
    Object.entries(samples).map(([id, runs]) => [
      id,
      Object.fromEntries(metrics.map((m) => [m.id, median(runs.map((run) => run[m.id]))])),
    ]),
  );
  const lookups = rows[0]?.samples ?? 0;
  return {
    id,
    title,
    description:
      "`getProviders(key, { limit: 1 })` and `getProviders(key)` with the default options (limit " +
      "20, 10 s: the lookup ends when the query has asked the closest peers) from headless " +
      `Chromium (release wasm) on a local DHT of ${nodes} \`casweb-server p2p\` node(s), one ` +
      `provider, ${lookups} lookups per round after 5 warm-up ones, the transports alternating ` +
      "each round (tests/p2p_bench.rs via scripts/p2p-bench.sh). startProvide: the time to " +
      "announce one key. The stock-flush row turns casweb's WebSocket flush fix off " +
      "(`promptWebSocketFlush: false`) to show what it changes.",
    contenders: LOOKUP_CONTENDERS.filter((c) => samples[c.id]).map(({ id, label }) => ({ id, label })),
    metrics,
    samples,
    medians,
    runsLabel: "round(s) per transport, each the percentiles of its own lookups",
    targets: LOOKUP_CONTENDERS.filter((c) => c.targetP50Ms && samples[c.id]).map((c) => ({
      label: `${c.label} p50 ≤ ${c.targetP50Ms} ms`,
      value: `${medians[c.id].p50Ms.toFixed(1)} ms`,
      met: medians[c.id].p50Ms <= c.targetP50Ms,
    })),
  };
}

/** The Advertiser's target at its default limit (issue 18). */
const ADVERTISER_TARGET_PER_SECOND = 200;

/** Rows `{ limit, default, keys, seconds, per_second, failures }`. */
function advertiserMeasure(rows) {
  const contenders = rows.map((row) => ({
    id: `limit-${row.limit}`,
    label: `maxConcurrent ${row.limit}${row.default ? " (default)" : ""}`,
  }));
  const samples = {};
  const medians = {};
  for (const row of rows) {
    const values = { perSecond: row.per_second, keys: row.keys, failures: row.failures };
    samples[`limit-${row.limit}`] = [values];
    medians[`limit-${row.limit}`] = values;
  }
  return {
    id: "advertiser",
    title: "4b. Advertiser announcements per second",
    description:
      "An Advertiser in headless Chromium (release wasm, WebSocket) announcing fresh keys to a " +
      "local DHT of 5 `casweb-server p2p` nodes, at three `maxConcurrent` limits, the default " +
      "among them (tests/advertiser_bench.rs via scripts/p2p-bench.sh); the time runs from the " +
      "first `advertise` to the last key announced.",
    contenders,
    metrics: [
      { id: "perSecond", label: "announcements/s", unit: "", lowerIsBetter: false },
      { id: "keys", label: "keys", unit: "", lowerIsBetter: false },
      { id: "failures", label: "failures", unit: "", lowerIsBetter: false },
    ],
    samples,
    medians,
    runsLabel: "run(s) per limit",
    targets: rows.filter((row) => row.default).map((row) => ({
      label: `maxConcurrent ${row.limit} (default) ≥ ${ADVERTISER_TARGET_PER_SECOND} announcements/s`,
      value: `${row.per_second.toFixed(1)}/s`,
      met: row.per_second >= ADVERTISER_TARGET_PER_SECOND,
    })),
  };
}

/** Rows `{ keys, bytesPerKey }` printed by tests/advertiser_memory.rs. */
function advertiserMemoryMeasure(rows) {
  const contenders = rows.map((row) => ({ id: `keys-${row.keys}`, label: `${row.keys.toLocaleString("en-US")} keys` }));
  const samples = {};
  const medians = {};
  for (const row of rows) {
    samples[`keys-${row.keys}`] = [{ bytesPerKey: row.bytesPerKey }];
    medians[`keys-${row.keys}`] = { bytesPerKey: row.bytesPerKey };
  }
  const worst = Math.max(...rows.map((row) => row.bytesPerKey));
  return {
    id: "advertiser-memory",
    title: "6b. Advertiser memory per tracked key",
    deterministic: true,
    description:
      "Heap bytes the Advertiser's scheduler holds per announced key (scheduled for refresh), " +
      "beyond the 16-byte key itself, measured natively with a counting allocator " +
      "(tests/advertiser_memory.rs; wasm32 has the same layout for these types but 4-byte " +
      "pointers, so the browser needs no more).",
    contenders,
    metrics: [{ id: "bytesPerKey", label: "bytes per key beyond the key", unit: "B", lowerIsBetter: false }],
    samples,
    medians,
    targets: [{ label: "at most 64 bytes per tracked key beyond the key", value: `${worst.toFixed(1)} B`, met: worst <= 64 }],
  };
}

/** The measures whose JSON files exist in `dir` (written by scripts/bench.sh). */
export function p2pMeasures(dir) {
  const read = (name) => {
    const file = path.join(dir, name);
    return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
  };
  const measures = [];
  const lookups = read("lookups-bench.json");
  if (lookups) measures.push(lookupMeasure(lookups, "lookups", "4a. getProviders on a local 20-node DHT", 20));
  const single = read("lookups-1-bench.json");
  if (single) {
    measures.push(lookupMeasure(single, "lookups-1", "4c. getProviders on a 1-node DHT (the demo's)", 1));
  }
  const advertiser = read("advertiser-bench.json");
  if (advertiser) measures.push(advertiserMeasure(advertiser));
  const memory = read("advertiser-memory.json");
  if (memory) measures.push(advertiserMemoryMeasure(memory));
  return measures;
}
