// Drives the benchmarks: runs every in-page measure in headless Chromium (a fresh page per run,
// contenders alternating each round), adds the bundle sizes, and writes results.json and
// BENCHMARKS.md. Started by scripts/bench.sh, which builds everything and starts the server.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

import { bundleMeasure } from "./node/bundle.mjs";
import { p2pMeasures } from "./node/p2p.mjs";
import { startProfile } from "./node/profile.mjs";
import { renderMarkdown } from "./node/report.mjs";

const { values: args } = parseArgs({
  options: {
    page: { type: "string" }, // URL of bench/page/index.html
    server: { type: "string" }, // JSON: { baseUrl, realm, token }
    builds: { type: "string" }, // JSON: { pkgDir, pkgUrl, blankPage } (bundle measure, native runs)
    "p2p-dir": { type: "string" }, // directory of the P2P JSON results bench.sh collected
    rounds: { type: "string" }, // overrides every measure's own number of rounds
    only: { type: "string" }, // comma-separated measure ids
    results: { type: "string" },
    markdown: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    profile: { type: "string" }, // directory: save a CPU profile of every in-page run there
  },
});

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
  "--disable-dev-shm-usage",
  "--enable-precise-memory-info",
  "--js-flags=--expose-gc",
];
const RUN_TIMEOUT_MS = 15 * 60 * 1000;
// Measures computed outside the bench page (bundle.mjs, p2p.mjs).
const NOT_IN_PAGE = new Set(["bundle", "lookups", "lookups-1", "advertiser", "advertiser-memory"]);

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function describeMachine(browserVersion) {
  const osRelease = readFileSync("/etc/os-release", "utf8").match(/^PRETTY_NAME="?([^"\n]*)/m);
  let rustc = "rustc unknown";
  try {
    rustc = execFileSync("rustc", ["--version"], { encoding: "utf8" }).trim();
  } catch {
    // rustc is not on PATH: the machine line says so.
  }
  return {
    cpu: os.cpus()[0]?.model.trim() ?? "unknown",
    cores: os.cpus().length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${osRelease?.[1] ?? os.type()} (${os.release()})`,
    browser: `Chromium ${browserVersion}`,
    node: process.version,
    rustc,
  };
}

async function openBenchPage(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(RUN_TIMEOUT_MS);
  const errors = [];
  page.on("pageerror", (error) => errors.push(error));
  await page.goto(args.page);
  await page.waitForFunction(() => window.caswebBenchReady === true || undefined, null, {
    timeout: 60_000,
  }).catch((error) => {
    throw errors[0] ?? error;
  });
  return page;
}

let nativeModules;

/** One run of a native contender (`native: true`): the measure's `runNative`, here in Node, with
 *  the package's storage module (the npm build in `--builds`' pkgDir) as `casweb`. */
async function runNative(measureId, contenderId, options) {
  nativeModules ??= (async () => {
    const { measures } = await import("./page/measures/index.mjs");
    const casweb = await import(pathToFileURL(join(JSON.parse(args.builds).pkgDir, "index.js")).href);
    await casweb.default();
    return { measures, casweb };
  })();
  const { measures, casweb } = await nativeModules;
  return measures.find((m) => m.id === measureId).runNative(contenderId, { casweb, ...options });
}

/** One run of an in-page contender, in a fresh page (profiled with --profile). */
async function runInPage(browser, measure, contender, options, round) {
  const page = await openBenchPage(browser);
  const stopProfile = args.profile
    ? await startProfile(page, args.profile, `${measure.id}-${contender.id}-${round}`)
    : null;
  const sample = await page.evaluate(
    ([measureId, contenderId, runOptions]) => window.caswebBench.run(measureId, contenderId, runOptions),
    [measure.id, contender.id, options],
  );
  await stopProfile?.();
  await page.close();
  return sample;
}

async function runMeasure(browser, measure, server) {
  const rounds = Number(args.rounds ?? measure.rounds);
  const samples = Object.fromEntries(measure.contenders.map((c) => [c.id, []]));
  for (let round = 0; round < rounds; round++) {
    // Rotate the order each round so no contender always runs first (or right after another).
    const order = measure.contenders.map((_, i) => measure.contenders[(i + round) % measure.contenders.length]);
    for (const contender of order) {
      const options = { server, runId: `${measure.id}-${contender.id}-${round}-${Date.now()}` };
      const sample = contender.native
        ? await runNative(measure.id, contender.id, options)
        : await runInPage(browser, measure, contender, options, round);
      samples[contender.id].push(sample);
      const shown = measure.metrics.map((m) => `${m.id}=${Number(sample[m.id]).toFixed(1)}`).join(" ");
      console.log(`[bench] ${measure.id} round ${round + 1}/${rounds} ${contender.id}: ${shown}`);
    }
  }
  const medians = Object.fromEntries(
    Object.entries(samples).map(([id, runs]) => [
      id,
      Object.fromEntries(measure.metrics.map((m) => [m.id, median(runs.map((run) => run[m.id]))])),
    ]),
  );
  const page = await openBenchPage(browser);
  const targets = await page.evaluate(([id, m]) => window.caswebBench.targets(id, m), [measure.id, medians]);
  await page.close();
  return { ...measure, samples, medians, targets };
}

/** With --only, the other measures of the previous results file are kept (same machine assumed),
 *  so refreshing one measure does not drop the rest from the report. */
function mergeWithPrevious(measures, only) {
  if (!only || !existsSync(args.results)) return measures;
  const previous = JSON.parse(readFileSync(args.results, "utf8")).measures ?? [];
  const fresh = new Set(measures.map((m) => m.id));
  return [...previous.filter((m) => !fresh.has(m.id)), ...measures];
}

async function main() {
  const server = JSON.parse(args.server);
  const only = args.only?.split(",");
  const browser = await chromium.launch({ executablePath: args.chromium, args: CHROMIUM_ARGS });
  try {
    // The page (and the build it loads) only when an in-page measure is wanted.
    let inPage = [];
    if (!only || only.some((id) => !NOT_IN_PAGE.has(id))) {
      const describePage = await openBenchPage(browser);
      inPage = await describePage.evaluate(() => window.caswebBench.describe());
      await describePage.close();
    }
    const measures = [];
    for (const measure of inPage.filter((m) => !only || only.includes(m.id))) {
      measures.push(await runMeasure(browser, measure, server));
    }
    if (args.builds && (!only || only.includes("bundle"))) {
      measures.push(await bundleMeasure(browser, JSON.parse(args.builds)));
    }
    if (args["p2p-dir"]) measures.push(...p2pMeasures(args["p2p-dir"]));
    const date = new Date().toISOString();
    for (const measure of measures) measure.date = date;
    const results = { date, machine: describeMachine(browser.version()), measures: mergeWithPrevious(measures, only) };
    writeFileSync(args.results, `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(args.markdown, renderMarkdown(results, args.markdown));
    for (const measure of measures) {
      for (const target of measure.targets) {
        const mark = target.met === undefined ? "shown " : target.met ? "met   " : "MISSED";
        console.log(`[bench] ${mark} ${target.label}: ${target.value}`);
      }
    }
  } finally {
    await browser.close();
  }
}

await main();
