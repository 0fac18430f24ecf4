// CPU profiles of in-page runs (BENCH_PROFILE=dir): Chromium's sampling profiler through CDP
// around one run, saved as a .cpuprofile (open it in Chromium's DevTools, Performance panel) and
// summarized on the console as the functions with the most self time.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Starts the profiler on `page`; the returned function stops it, saves the profile as
 *  `<dir>/<name>.cpuprofile` and prints the top functions by self time. */
export async function startProfile(page, dir, name) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await cdp.send("Profiler.start");
  return async () => {
    const { profile } = await cdp.send("Profiler.stop");
    await cdp.detach();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`[bench] profile ${file}; top self time:`);
    for (const line of topSelfTime(profile, 25)) console.log(`[bench]   ${line}`);
  };
}

/** The `count` functions with the most self time, as "percent  ms  name  url:line". */
function topSelfTime(profile, count) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map();
  const deltas = profile.timeDeltas ?? [];
  profile.samples.forEach((id, i) => {
    const micros = deltas[i + 1] ?? 0; // a sample's time is the gap to the next one
    selfMicros.set(id, (selfMicros.get(id) ?? 0) + micros);
  });
  const byFunction = new Map();
  let total = 0;
  for (const [id, micros] of selfMicros) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const label = `${functionName || "(anonymous)"}  ${url.split("/").pop()}:${lineNumber + 1}`;
    byFunction.set(label, (byFunction.get(label) ?? 0) + micros);
    total += micros;
  }
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([label, micros]) =>
      `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${label}`);
}
