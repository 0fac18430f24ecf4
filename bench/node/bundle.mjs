// Measure 5: what a page downloads. The npm package's two wasm modules as build-pkg.sh ships them
// (after wasm-opt), raw, gzip -9 and brotli (quality 11), computed in Node; and the time a page
// takes from `import` to its first stored node, measured in Chromium with an empty HTTP cache.
import { readFileSync } from "node:fs";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const KB = 1000;
const TARGETS_KB = { storage: 120, set: 550 };
const ROUNDS = 7;

const CONTENDERS = [
  { id: "storage", label: "`casweb` (storage module)", files: ["casweb_bg.wasm"] },
  { id: "p2p", label: "`casweb/p2p` (P2P module, loaded on first use)", files: ["casweb_p2p_bg.wasm"] },
  { id: "set", label: "both (a page that uses P2P)", files: ["casweb_bg.wasm", "casweb_p2p_bg.wasm"] },
];

function sizes(pkgDir, files) {
  const total = { rawKB: 0, gzipKB: 0, brotliKB: 0 };
  for (const file of files) {
    const bytes = readFileSync(`${pkgDir}/${file}`);
    total.rawKB += bytes.length / KB;
    total.gzipKB += gzipSync(bytes, { level: 9 }).length / KB;
    total.brotliKB += brotliCompressSync(bytes, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
    }).length / KB;
  }
  return total;
}

/**
 * In the page: ms from import() of the entries `id` needs to its first put into IndexedDB
 * resolved (storage), to initP2p() resolved (p2p), or to both (set, the two loaded at once);
 * `wasmMs`: to the modules instantiated (the rest is opening the database and the put).
 */
async function loadInPage([pkgUrl, id, database]) {
  const started = performance.now();
  const instantiated = [];
  const storage = async () => {
    const casweb = await import(`${pkgUrl}/index.js`);
    await casweb.default();
    instantiated.push(performance.now() - started);
    const store = await casweb.IndexedDbStorage.open(database);
    const bytes = new TextEncoder().encode("the first node");
    await store.put(casweb.keyOf(bytes), bytes);
  };
  const p2p = async () => {
    await (await import(`${pkgUrl}/p2p.js`)).initP2p();
    instantiated.push(performance.now() - started);
  };
  await Promise.all([id !== "p2p" && storage(), id !== "storage" && p2p()]);
  return { loadMs: performance.now() - started, wasmMs: Math.max(...instantiated) };
}

/**
 * builds: { pkgDir, pkgUrl, blankPage } (written by bench.sh: the package directory, its URL on
 * the bench server, an empty page of that origin). Each load is a new browser context (empty
 * HTTP cache and IndexedDB), contenders alternating each round.
 */
export async function bundleMeasure(browser, builds) {
  const samples = Object.fromEntries(CONTENDERS.map(({ id }) => [id, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const { id, files } of CONTENDERS) {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        await page.goto(builds.blankPage);
        const times = await page.evaluate(loadInPage, [builds.pkgUrl, id, `first-put-${round}`]);
        samples[id].push({ ...sizes(builds.pkgDir, files), ...times });
        console.log(`[bench] bundle round ${round + 1}/${ROUNDS} ${id}: ${times.loadMs.toFixed(1)} ms ` +
          `(wasm ${times.wasmMs.toFixed(1)} ms)`);
      } finally {
        await context.close();
      }
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
  const medians = Object.fromEntries(Object.entries(samples).map(([id, runs]) => [id, {
    ...runs[0], loadMs: median(runs.map((run) => run.loadMs)), wasmMs: median(runs.map((run) => run.wasmMs)),
  }]));
  return {
    id: "bundle",
    title: "5. Bundle size",
    description:
      "The npm package's wasm modules as `scripts/build-pkg.sh` ships them (wasm-pack, then " +
      "`wasm-opt -Oz`, no name section): raw, gzip -9 and brotli (quality 11). `casweb` is the " +
      "storage module (storage, sync, files, topo sort; release profile), `casweb/p2p` the P2P " +
      "module (profile release-p2p) that a page fetches only when it uses P2P. Times: ms from " +
      "`import()` of the entry to its wasm instantiated, and to the first `put` into IndexedDB " +
      "resolved (`casweb`: `init()`, `IndexedDbStorage.open` of a new database, one `put`), " +
      "`initP2p()` resolved (`casweb/p2p`), or both with the two loaded at once, in a new " +
      "browser context each time (empty HTTP cache; the server on loopback, so this is fetching, " +
      "compiling and instantiating, not network). KB = 1,000 bytes.",
    contenders: CONTENDERS.map(({ id, label }) => ({ id, label })),
    metrics: [
      { id: "rawKB", label: "raw", unit: "KB", lowerIsBetter: true },
      { id: "gzipKB", label: "gzip -9", unit: "KB", lowerIsBetter: true },
      { id: "brotliKB", label: "brotli", unit: "KB", lowerIsBetter: true },
      { id: "wasmMs", label: "import to instantiated", unit: "ms", lowerIsBetter: true },
      { id: "loadMs", label: "import to first put (P2P: to loaded)", unit: "ms", lowerIsBetter: true },
    ],
    runsLabel: "cold loads each for the times (sizes: one build, deterministic)",
    samples,
    medians,
    targets: ["storage", "set"].map((id) => ({
      label: `${CONTENDERS.find((c) => c.id === id).label} ≤ ${TARGETS_KB[id]} KB gzip`,
      value: `${medians[id].gzipKB.toFixed(1)} KB`,
      met: medians[id].gzipKB <= TARGETS_KB[id],
    })),
  };
}
