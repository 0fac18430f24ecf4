// Runs one measure at a time in this page on behalf of bench/run.mjs, through window.caswebBench.
// The driver loads a fresh page for every run, so runs share no heap, wasm memory or database.
import { measures } from "./measures/index.mjs";

const params = new URLSearchParams(location.search);
const casweb = await import(params.get("pkg") ?? "../build/page/casweb.js");
const wasm = await casweb.default();

function measureById(id) {
  const measure = measures.find((m) => m.id === id);
  if (!measure) throw new Error(`no measure ${id}`);
  return measure;
}

window.caswebBench = {
  /** What the driver needs to schedule runs and render tables (no functions). */
  describe() {
    return measures.map(({ id, title, description, rounds, contenders, metrics }) => ({
      id, title, description, rounds, contenders, metrics,
    }));
  },
  /** One run of one contender: resolves to { metricId: number, ... }. */
  async run(measureId, contenderId, options) {
    const context = { casweb, wasmMemoryBytes: () => wasm.memory.buffer.byteLength, ...options };
    return measureById(measureId).run(contenderId, context);
  },
  /** The measure's targets, judged on the medians: [{ label, value, met }]. */
  targets(measureId, medians) {
    return measureById(measureId).targets(medians);
  },
};
window.caswebBenchReady = true;
