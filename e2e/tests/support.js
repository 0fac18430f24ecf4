// Shared pieces of the end-to-end tests: the environment scripts/e2e-test.sh provides, Debian's
// Chromium through playwright-core, screenshots kept as artifacts, deterministic test data and
// a direct look at the server's HTTP API (independent of the library under test).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

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
  /** The packed npm tarball (target/npm/casweb.tgz). */
  tarball: required("CASWEB_E2E_TARBALL"),
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

/**
 * A known upstream bug, tolerated (and counted) until casweb's libp2p dependency has the fix:
 * libp2p-webrtc-websys lets the browser call an RTCDataChannel event handler whose Rust closure
 * was already dropped when a stream is torn down (https://github.com/libp2p/rust-libp2p/issues/6551).
 * Harmless for the connection, but an uncaught error in the page.
 */
function isKnownWebRtcClosureBug(error) {
  return error.message === "closure invoked recursively or after being dropped" &&
    /RTCDataChannel/.test(error.stack ?? "");
}

/**
 * A page whose console errors and uncaught exceptions are collected in `page.problems`; the
 * known upstream WebRTC closure bug goes to `page.knownIssues` instead.
 */
export async function newPage(context) {
  const page = await context.newPage();
  page.problems = [];
  page.knownIssues = [];
  page.on("pageerror", (error) => {
    if (isKnownWebRtcClosureBug(error)) page.knownIssues.push(`uncaught: ${error.message}`);
    else page.problems.push(`uncaught: ${error.message}`);
  });
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
  const casweb = await import(join(env.pkg, "index.js"));
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

/** GET /api/p2p straight to the server: { peerId, addrs }. */
export async function serverP2p() {
  const response = await fetch(`${env.server}/api/p2p`);
  if (!response.ok) throw new Error(`GET /api/p2p answered ${response.status}`);
  return response.json();
}

/**
 * The server's own DHT lookup of `key` (GET /api/p2p/providers/{key}), asked again until
 * `accept(providers)` holds or `withinMs` has passed (ADD_PROVIDER is unacknowledged, so a record
 * may land a moment after the browser announced it). Resolves to the last providers seen.
 */
export async function serverProvidersUntil(key, accept, withinMs = 5000) {
  const deadline = Date.now() + withinMs;
  let providers = [];
  for (;;) {
    const response = await fetch(`${env.server}/api/p2p/providers/${key}?limit=20&timeoutMs=2000`);
    // 504 `timeout`: the lookup ended with nobody found yet.
    if (response.ok) providers = (await response.json()).providers;
    else if (response.status !== 504) throw new Error(`provider lookup answered ${response.status}: ${await response.text()}`);
    if (accept(providers) || Date.now() >= deadline) return providers;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The SHA-256 of some bytes, in hex. */
export function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A free TCP port on 127.0.0.1 (free when asked: another process could take it after). */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/**
 * A reference server of its own (--dev, serving www/, a fresh data directory, a free port), for
 * tests that stop it: the binary scripts/e2e-test.sh built (or $CASWEB_E2E_SERVER_BIN).
 * `stop()` kills it with SIGKILL (as if it crashed), `start()` starts it again on the same port
 * and data, `close()` stops it for good and deletes its data.
 */
export async function ownServer() {
  const root = dirname(env.pkg);
  const binary = process.env.CASWEB_E2E_SERVER_BIN ??
    join(resolve(root, process.env.CARGO_TARGET_DIR ?? "target"), "debug", "casweb-server");
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "casweb-e2e-own-server-"));
  const url = `http://127.0.0.1:${port}`;
  let child = null;
  const server = {
    url,
    async start() {
      const started = spawn(binary, ["serve", "--dev", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir,
        "--www", join(root, "www")], { stdio: "ignore" });
      child = started;
      let exited = false;
      started.once("exit", () => { exited = true; });
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (exited) throw new Error(`${binary} exited before answering ${url}/api/dev`);
        try {
          if ((await fetch(`${url}/api/dev`)).ok) return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`${binary} did not answer ${url}/api/dev within 30 s`);
        await new Promise((wake) => setTimeout(wake, 100));
      }
    },
    async stop() {
      const running = child;
      child = null;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const gone = new Promise((done) => running.once("exit", done));
      running.kill("SIGKILL");
      await gone;
    },
    async close() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
