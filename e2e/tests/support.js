// Shared pieces of the end-to-end tests: the environment scripts/e2e-test.sh provides, Debian's
// Chromium through playwright-core, screenshots kept as artifacts, deterministic test data and
// a direct look at the server's HTTP API (independent of the library under test).
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with scripts/e2e-test.sh`);
  return value;
}

/** What scripts/e2e-test.sh started. */
export const env = {
  /** The reference server in --dev mode, also serving www/. */
  server: required("CASWEB_E2E_SERVER"),
  /** The built Vite example (vite preview). */
  viteApp: required("CASWEB_E2E_VITE_APP"),
  /** A 127.0.0.1 port nothing listens on (a stopped server). */
  deadPort: required("CASWEB_E2E_DEAD_PORT"),
  /** Where screenshots are kept. */
  artifacts: required("CASWEB_E2E_ARTIFACTS"),
  /** The built package (pkg/), for computing keys in Node. */
  pkg: required("CASWEB_E2E_PKG"),
};

/** Headless Debian Chromium; never a downloaded browser. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"],
  });
}

/** A page whose console errors and uncaught exceptions are collected in `page.problems`. */
export async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`uncaught: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console: ${message.text()}`);
  });
  return page;
}

/** Saves a full-page screenshot as `<artifacts>/<name>.png`; returns its path. */
export async function screenshot(page, name) {
  mkdirSync(env.artifacts, { recursive: true });
  const path = join(env.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Deterministic pseudo-random bytes (xorshift), so a failing run can be replayed. */
export function testBytes(seed, length) {
  const bytes = new Uint8Array(length);
  let state = (seed * 0x9e3779b9) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** The built package, initialised in Node from the wasm bytes (for chunkFile / keyOf). */
export async function loadPackage() {
  const casweb = await import(join(env.pkg, "casweb.js"));
  await casweb.default({ module_or_path: readFileSync(join(env.pkg, "casweb_bg.wasm")) });
  return casweb;
}

/** The demo realm's credentials, from the server's dev-only endpoint. */
export async function devRealm() {
  const response = await fetch(`${env.server}/api/dev`);
  if (!response.ok) throw new Error(`GET /api/dev answered ${response.status}`);
  return response.json();
}

/** POST /api/realm/{realm}/nodes/check straight to the server: { missing, unowned, owned }. */
export async function checkKeys(keys) {
  const { realm, token } = await devRealm();
  const response = await fetch(`${env.server}/api/realm/${realm}/nodes/check`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ keys }),
  });
  if (!response.ok) throw new Error(`check answered ${response.status}: ${await response.text()}`);
  return response.json();
}

/** Clicks `trigger` and returns the bytes of the download it starts. */
export async function downloadBytes(page, trigger) {
  const [download] = await Promise.all([page.waitForEvent("download"), trigger.click()]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: new Uint8Array(readFileSync(path)) };
}
