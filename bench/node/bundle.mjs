// Measure 5 (computed in Node, not in the page): wasm bundle sizes of the builds bench.sh made,
// after wasm-bindgen, after wasm-opt, and gzip -9 of the latter.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const KB = 1000;
const TARGETS_KB = { full: 550, storage: 120 };

/** builds: [{ id, label, bindgenWasm, optimizedWasm }] (paths written by bench.sh). */
export function bundleMeasure(builds, wasmOptFlags) {
  const samples = {};
  const medians = {};
  for (const build of builds) {
    const bindgen = readFileSync(build.bindgenWasm);
    const optimized = readFileSync(build.optimizedWasm);
    const values = {
      bindgenKB: bindgen.length / KB,
      optimizedKB: optimized.length / KB,
      gzipKB: gzipSync(optimized, { level: 9 }).length / KB,
    };
    samples[build.id] = [values];
    medians[build.id] = values;
  }
  return {
    id: "bundle",
    title: "5. Bundle size",
    deterministic: true,
    description:
      "`casweb_bg.wasm` as wasm-pack (wasm-bindgen, release profile) writes it, after " +
      `\`wasm-opt ${wasmOptFlags}\`, and that file compressed with gzip level 9. Full: default ` +
      "features; storage-only: `--no-default-features` (no `p2p`). KB = 1,000 bytes.",
    contenders: builds.map(({ id, label }) => ({ id, label })),
    metrics: [
      { id: "bindgenKB", label: "after wasm-bindgen", unit: "KB", lowerIsBetter: true },
      { id: "optimizedKB", label: "after wasm-opt", unit: "KB", lowerIsBetter: true },
      { id: "gzipKB", label: "gzip -9", unit: "KB", lowerIsBetter: true },
    ],
    samples,
    medians,
    targets: builds.map(({ id, label }) => ({
      label: `${label} ≤ ${TARGETS_KB[id]} KB gzip`,
      value: `${medians[id].gzipKB.toFixed(1)} KB`,
      met: medians[id].gzipKB <= TARGETS_KB[id],
    })),
  };
}
