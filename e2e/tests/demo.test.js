// End-to-end test of the demo page (www/, served by the reference server in --dev mode):
// upload a file, wait for "synced", check on the server that the realm owns every node, reload and
// fetch it back byte-identical (cache), fetch it from a fresh browser (server); a few MiB from the
// file picker with its progress bars, downloaded through the service worker (sha256), byte ranges
// and a real video (played, seeked) from the service worker's files/ route, a cancelled store;
// the page's messages for a bad key, a stopped server and a full quota; a second browser fetching
// the file from the first over the block exchange with the realm API cut; the P2P panel when its
// server is killed and comes back. Steps run in order on one page.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkKeys, downloadBytes, env, launchBrowser, loadPackage, newPage, ownServer, screenshot, serverP2p,
  serverProvidersUntil, sha256, testBytes,
} from "./support.js";

const VIEWPORT = { width: 1200, height: 900 };
const FILE = { name: "sample.bin", mimeType: "application/octet-stream", bytes: testBytes(7, 300_000) };
const CHUNK_SIZE = 4096;
const MIB = 1024 * 1024;
/** A few MiB stored from the file picker, with 64 KiB chunks (about 70 nodes). */
const LARGE = { name: "large.bin", mimeType: "application/octet-stream", bytes: testBytes(11, 4 * MIB + 12_345) };
/** Bytes named like a video, for the Range requests (not a real video: see the video test). */
const CLIP = { name: "clip.mp4", mimeType: "video/mp4", bytes: testBytes(12, 2 * MIB + 777) };
const MEDIUM_CHUNKS = 65536;
/** The store that is cancelled: large enough to take seconds (uploads pace it), 1 MiB chunks. */
const CANCELLED = { bytes: testBytes(13, 32 * MIB), chunkSize: MIB };

/** Opens the demo in `page` (optionally against another server) and waits until it is wired. */
async function openDemo(page, query = "") {
  await page.goto(`${env.server}/${query}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
}

/** Waits until the P2P panel is connected over `transport` and has announced every stored root; its peer id. */
async function p2pConnected(page, transport) {
  try {
    await page.locator(`#p2p .p2p-status[data-state=connected]`).waitFor({ timeout: 30_000 });
  } catch (error) {
    // Say what the panel shows (its state and message) and what the page logged.
    const panel = await page.locator("#p2p").innerText().catch(() => "(no panel)");
    throw new Error(`the P2P panel did not connect: ${error.message}\npanel: ${panel}\n` +
      `page problems: ${JSON.stringify(page.problems)}`);
  }
  assert.equal(await page.locator("#p2p-transport-used").getAttribute("data-transport"), transport);
  await page.waitForFunction(() => {
    const announced = document.querySelector("#p2p-announced")?.dataset;
    return Number(announced?.total) > 0 && announced.announced === announced.total;
  }, null, { timeout: 20_000 });
  const peerId = await page.locator("#p2p-peer-id").innerText();
  assert.match(peerId, /^12D3KooW[1-9A-HJ-NP-Za-km-z]+$/);
  return peerId;
}

/**
 * Looks `root` up in the panel's find-providers box and checks that this browser (`peerId`) is
 * listed with a relayed address, then that the server's own lookup finds it too.
 */
async function findsItself(page, root, peerId) {
  await page.fill("#p2p-find-key", root);
  await page.click("#p2p-find-form button");
  await page.locator("#p2p-find-result[data-state=done]").waitFor({ timeout: 20_000 });
  const self = page.locator(`#p2p-providers > li[data-peer-id="${peerId}"]`);
  assert.equal(await self.count(), 1, `this browser (${peerId}) is among the providers`);
  assert.equal(await self.locator(".marker").getAttribute("data-marker"), "self");
  const addrs = await self.locator(".addrs code").allInnerTexts();
  assert.ok(addrs.length >= 1, "this browser is listed with an address");
  for (const addr of addrs) assert.ok(addr.endsWith(`/p2p/${peerId}`), `${addr} names the browser`);
  assert.ok(addrs.some((addr) => addr.includes("/p2p-circuit/")), `a relayed address among ${addrs}`);

  const found = (providers) => providers.some((p) => p.peerId === peerId && p.addrs.length > 0);
  const providers = await serverProvidersUntil(root, found);
  assert.ok(found(providers), `the server's lookup finds ${peerId}: ${JSON.stringify(providers)}`);
}

/** The root key the chunker gives `bytes` (as the page stores them). */
async function rootOf(bytes, chunkSize, contentType) {
  const casweb = await loadPackage();
  const { nodes } = casweb.chunkFile(bytes, { chunkSize, contentType });
  return { root: nodes.at(-1).key, nodes: nodes.length };
}

/** Picks `file` ({ name, mimeType, bytes }) with `chunkSize`; resolves once it is stored. */
async function storeFromPicker(page, file, chunkSize) {
  const { root, nodes } = await rootOf(file.bytes, chunkSize, file.mimeType);
  await page.selectOption("#chunk-size", String(chunkSize));
  await page.setInputFiles("#file", { name: file.name, mimeType: file.mimeType, buffer: Buffer.from(file.bytes) });
  const row = page.locator(`tr[data-root="${root}"]`);
  await row.waitFor({ timeout: 30_000 });
  return { root, nodes, row };
}

/** Waits until the service worker controls the page (body[data-sw=ready]). */
async function serviceWorkerReady(page) {
  try {
    await page.locator("body[data-sw=ready]").waitFor({ state: "attached", timeout: 15_000 });
  } catch (error) {
    const state = await page.evaluate(() => ({
      sw: document.body.dataset.sw, controlled: Boolean(navigator.serviceWorker?.controller),
      note: document.querySelector("#stats")?.innerText,
    })).catch(() => "(page gone)");
    throw new Error(`the service worker does not control the page: ${error.message}\n${JSON.stringify(state)}`);
  }
}

/** The error box's text once it shows. */
async function errorText(page) {
  const box = page.locator("#error");
  await box.waitFor({ state: "visible", timeout: 20_000 });
  return box.innerText();
}

describe("demo page", () => {
  let browser;
  let context;
  let page;
  /** The uploaded file's root key, set by the upload step. */
  let root;

  before(async () => {
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
    page = await newPage(context);
  });

  after(async () => {
    await browser?.close();
  });

  test("opens connected to the demo realm, with the P2P panel in a defined state", async () => {
    await openDemo(page);
    assert.equal(await page.locator("#connection").getAttribute("data-state"), "online");
    assert.match(await page.locator("#connection").innerText(), /realm demo/);
    const p2pState = await page.locator("#p2p .p2p-status").getAttribute("data-state");
    assert.ok(p2pState, "the P2P panel shows a status line");
  });

  test("uploads a file and shows it synced", async () => {
    await page.selectOption("#chunk-size", String(CHUNK_SIZE));
    await page.setInputFiles("#file", { name: FILE.name, mimeType: FILE.mimeType, buffer: Buffer.from(FILE.bytes) });
    const row = page.locator("tr[data-root]").first();
    await row.locator(".state[data-state=synced]").waitFor({ timeout: 60_000 });
    root = await row.getAttribute("data-root");
    assert.match(root, /^[0-9A-Z]{26}$/);
    assert.equal(await row.locator(".name").innerText(), FILE.name);
    await screenshot(page, "demo-synced");
  });

  test("the server owns every node of the file", async () => {
    const casweb = await loadPackage();
    const keys = casweb.chunkFile(FILE.bytes, { chunkSize: CHUNK_SIZE, contentType: FILE.mimeType })
      .nodes.map((node) => node.key);
    assert.equal(keys.at(-1), root, "the page's root key is the chunker's");
    assert.ok(keys.length > 50, `a DAG of many nodes (${keys.length})`);
    const row = page.locator(`tr[data-root="${root}"]`);
    assert.equal(await row.locator("td").nth(2).innerText(), String(keys.length));
    const check = await checkKeys(keys);
    assert.deepEqual(check.missing, []);
    assert.deepEqual(check.unowned, []);
    assert.equal(check.owned.length, keys.length);
  });

  test("'keep offline' pins the file in the cache, shown against the cap", async () => {
    const row = page.locator(`tr[data-root="${root}"]`);
    await row.locator("td.offline input").check();
    await row.locator("td.offline[data-offline=pinned]").waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => Number(document.querySelector("#cache")?.dataset.pinnedBytes) > 0, null,
      { timeout: 5_000 });
    const pinned = Number(await page.locator("#cache").getAttribute("data-pinned-bytes"));
    const cached = Number(await page.locator("#cache").getAttribute("data-bytes"));
    assert.ok(pinned >= FILE.bytes.length, `the file's DAG is kept offline (${pinned} bytes pinned)`);
    assert.ok(cached >= pinned, `the cache counts it (${cached} bytes)`);
    assert.match(await page.locator("#cache .cache-usage").innerText(), /local cache/);
  });

  test("after a reload the file is still synced and comes back byte-identical from the cache", async () => {
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    const row = page.locator(`tr[data-root="${root}"]`);
    await row.locator(".state[data-state=synced]").waitFor();
    await row.locator("td.offline[data-offline=pinned]").waitFor(); // the pin outlives the page
    await row.locator("button", { hasText: "fetch" }).click();
    await page.locator(".verified[data-source=cache]").waitFor({ timeout: 20_000 });
    const download = await downloadBytes(page, page.locator("#fetch-result a.button"));
    assert.equal(download.name, FILE.name);
    assert.ok(Buffer.from(download.bytes).equals(Buffer.from(FILE.bytes)), "downloaded bytes differ");
    await screenshot(page, "demo-fetched");
  });

  test("a fresh browser fetches it by root key from the server, verified", async () => {
    const fresh = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
    try {
      const other = await newPage(fresh);
      await openDemo(other);
      await other.fill("#fetch-key", root);
      await other.click("#fetch-form button");
      await other.locator(".verified[data-source=server]").waitFor({ timeout: 20_000 });
      const download = await downloadBytes(other, other.locator("#fetch-result a.button"));
      assert.ok(Buffer.from(download.bytes).equals(Buffer.from(FILE.bytes)), "downloaded bytes differ");
    } finally {
      await fresh.close();
    }
  });

  test("looks up its providers", async () => {
    assert.equal(await page.locator("#p2p-transport").inputValue(), "webrtc-direct", "WebRTC-direct by default");
    const peerId = await p2pConnected(page, "webrtc-direct");
    const server = await serverP2p();
    const peers = page.locator(`#p2p-peers > li[data-peer-id="${server.peerId}"]`);
    await peers.waitFor({ timeout: 10_000 });
    assert.equal(await peers.locator(".marker").getAttribute("data-marker"), "server");
    assert.ok((await page.locator("#p2p-addresses code").count()) >= 1, "the panel shows a relayed address");
    await findsItself(page, root, peerId);
    await screenshot(page, "demo-p2p-providers");
  });

  test("looks up its providers over WebSocket, reconnecting when the transport is switched", async () => {
    const before = await page.locator("#p2p-peer-id").innerText();
    assert.equal(await page.locator("#p2p-identity").getAttribute("data-kept"), "true");
    await page.selectOption("#p2p-transport", "websocket");
    const peerId = await p2pConnected(page, "websocket");
    assert.equal(peerId, before, "the new node has the kept identity");
    await findsItself(page, root, peerId);
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    assert.equal(await page.locator("#p2p-transport").inputValue(), "websocket", "the choice is remembered");
    assert.equal(await p2pConnected(page, "websocket"), peerId, "the peer id survives a reload");
    await screenshot(page, "demo-p2p-websocket");
  });

  test("a second tab gets a fresh identity while the first holds the kept one", async () => {
    const kept = await page.locator("#p2p-peer-id").innerText();
    const second = await newPage(context);
    try {
      await openDemo(second);
      const peerId = await p2pConnected(second, "websocket");
      assert.notEqual(peerId, kept);
      assert.equal(await second.locator("#p2p-identity").getAttribute("data-kept"), "false");
      assert.deepEqual(second.problems, []);
    } finally {
      await second.close();
    }
  });

  test("a second browser fetches the file from this one through the relay, with the HTTP API unreachable", async () => {
    await page.check("#p2p-serve");
    // This browser is reachable: it holds a relay reservation (a relayed address is shown), and
    // the DHT hands out its record with that address (after the reload of an earlier test the
    // reservation can take a while to come back).
    await page.locator("#p2p-addresses code").first().waitFor({ timeout: 20_000 });
    const peerId = await page.locator("#p2p-peer-id").innerText();
    const reachable = (providers) => providers.some((p) => p.peerId === peerId && p.addrs.some((a) => a.includes("/p2p-circuit/")));
    const providers = await serverProvidersUntil(root, reachable, 20_000);
    assert.ok(reachable(providers), `the DHT lists this browser with a relayed address: ${JSON.stringify(providers)}`);
    const fresh = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
    try {
      const other = await newPage(fresh);
      await other.addInitScript(() => localStorage.setItem("casweb-demo-p2p-transport", "websocket"));
      // Only the realm API is cut: the page still gets its bootstrap addresses (/api/p2p).
      await other.route(/\/api\/realm\//, (route) => route.abort());
      await openDemo(other);
      await other.locator("#p2p .p2p-status[data-state=connected]").waitFor({ timeout: 30_000 });
      await other.fill("#p2p-fetch-key", root);
      await other.click("#p2p-fetch-form button");
      const result = other.locator("#p2p-fetch-result");
      await other.waitForFunction(() => ["done", "error"].includes(document.querySelector("#p2p-fetch-result")?.dataset.state),
        null, { timeout: 60_000 });
      assert.equal(await result.getAttribute("data-state"), "done",
        `${await result.innerText()} (this browser is ${peerId}; the DHT listed ${JSON.stringify(providers)})`);
      const download = await downloadBytes(other, other.locator("#p2p-fetch-result a"));
      assert.ok(Buffer.from(download.bytes).equals(Buffer.from(FILE.bytes)), "the bytes from the peer differ");
      await screenshot(other, "demo-p2p-fetched-from-peer");
    } finally {
      await fresh.close();
    }
  });

  test("stores a few MiB from the file picker: storing to 100 %, then synced with nothing pending", async () => {
    // Every value the row's "stored in this browser" bar shows, in order.
    await page.evaluate(() => {
      window.storeProgressSeen = [];
      new MutationObserver(() => {
        const bar = document.querySelector("#roots tbody tr .store-progress");
        const value = Number(bar?.dataset.percent);
        if (bar && window.storeProgressSeen.at(-1) !== value) window.storeProgressSeen.push(value);
      }).observe(document.querySelector("#roots tbody"), { childList: true, subtree: true });
    });
    const { nodes, row } = await storeFromPicker(page, LARGE, MEDIUM_CHUNKS);
    const seen = await page.evaluate(() => window.storeProgressSeen);
    assert.equal(seen.at(-1), 100, `the bar ends at 100 % (${seen})`);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), `the bar only moves forward (${seen})`);
    const bar = row.locator(".store-progress");
    assert.equal(await bar.getAttribute("data-percent"), "100");
    assert.match(await bar.innerText(), /stored in this browser/);
    assert.equal(await row.locator("td").nth(2).innerText(), String(nodes), "the Nodes column counts the DAG");
    await row.locator(".state[data-state=synced]").waitFor({ timeout: 60_000 });
    assert.match(await row.locator(".sync-progress").innerText(), new RegExp(`synced to the server\\s+${nodes} nodes, all on the server`));
    await page.locator("#sync[data-pending='0']").waitFor({ timeout: 10_000 });
    assert.match(await page.locator("#sync").innerText(), /nothing pending/);
    assert.ok(await page.locator("#error").isHidden(), "no error shown");
    await screenshot(page, "demo-large-synced");
  });

  test("downloads it through the service worker, byte-identical (sha256)", async () => {
    await serviceWorkerReady(page);
    const { root } = await rootOf(LARGE.bytes, MEDIUM_CHUNKS, LARGE.mimeType);
    await page.locator(`tr[data-root="${root}"] button`, { hasText: "fetch" }).click();
    await page.locator("#fetch-result[data-state=done] .verified[data-source=cache]").waitFor({ timeout: 20_000 });
    assert.equal(await page.locator("#fetch-progress .progress").getAttribute("data-percent"), "100");
    const link = page.locator("#fetch-result a.button");
    assert.match(await link.getAttribute("href"), new RegExp(`/files/${root}\\?`), "the link is the service worker's route");
    const download = await downloadBytes(page, link);
    assert.equal(download.name, LARGE.name);
    assert.equal(download.bytes.length, LARGE.bytes.length);
    assert.equal(sha256(download.bytes), sha256(LARGE.bytes), "downloaded bytes differ");
  });

  test("the service worker answers byte ranges of a stored file (206, Content-Range)", async () => {
    const { root } = await storeFromPicker(page, CLIP, MEDIUM_CHUNKS);
    await serviceWorkerReady(page);
    const size = CLIP.bytes.length;
    const casweb = await loadPackage();
    const unknown = casweb.keyOf(testBytes(99, 100));
    // Asked from another tab of the browser (any page in the worker's scope is controlled), so
    // that the 416 and 404 asked for here are not counted as the demo page's console errors.
    const probe = await newPage(context);
    await probe.goto(`${env.server}/style.css`);
    await probe.waitForFunction(() => Boolean(navigator.serviceWorker.controller), null, { timeout: 10_000 });
    const answers = await probe.evaluate(async ({ root, unknown, ranges }) => {
      const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
      const out = [];
      for (const [key, range] of [...ranges.map((range) => [root, range]), [unknown, null]]) {
        const response = await fetch(`/files/${key}`, { headers: range ? { Range: range } : {} });
        const body = await response.arrayBuffer();
        out.push({
          range, status: response.status, headers: Object.fromEntries(response.headers), length: body.byteLength,
          sha256: hex(await crypto.subtle.digest("SHA-256", body)),
          bytes: body.byteLength <= 1000 ? [...new Uint8Array(body)] : null,
        });
      }
      return out;
    }, { root, unknown, ranges: ["bytes=1000-1999", "bytes=65000-140000", "bytes=-100", `bytes=${size - 10}-`, null, `bytes=${size}-`] });
    await probe.close();
    const expect = (answer, start, end) => {
      assert.equal(answer.status, 206, `${answer.range}: 206`);
      assert.equal(answer.headers["content-range"], `bytes ${start}-${end}/${size}`, `${answer.range}: Content-Range`);
      assert.equal(answer.headers["content-length"], String(end - start + 1));
      assert.equal(answer.headers["accept-ranges"], "bytes");
      assert.equal(answer.headers["content-type"], CLIP.mimeType);
      assert.equal(answer.sha256, sha256(CLIP.bytes.subarray(start, end + 1)), `${answer.range}: the right bytes`);
    };
    const [first, across, suffix, tail, whole, past, missing] = answers;
    expect(first, 1000, 1999);
    assert.deepEqual(first.bytes, [...CLIP.bytes.subarray(1000, 2000)]);
    expect(across, 65000, 140000); // across node boundaries (64 KiB chunks)
    expect(suffix, size - 100, size - 1);
    expect(tail, size - 10, size - 1);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers["accept-ranges"], "bytes");
    assert.equal(whole.length, size);
    assert.equal(whole.sha256, sha256(CLIP.bytes));
    assert.equal(past.status, 416);
    assert.equal(past.headers["content-range"], `bytes */${size}`);
    assert.equal(missing.status, 404, "an unknown root is 404");
  });

  test("a stored video plays and seeks in the preview, streamed by the service worker", async () => {
    // A real WebM (VP8), recorded from a canvas in the page: no video file or tool needed.
    const webm = await page.evaluate(async () => {
      const canvas = Object.assign(document.createElement("canvas"), { width: 160, height: 120 });
      const context = canvas.getContext("2d");
      const recorder = new MediaRecorder(canvas.captureStream(25),
        { mimeType: "video/webm;codecs=vp8", videoBitsPerSecond: 4_000_000 });
      const chunks = [];
      recorder.ondataavailable = (event) => chunks.push(event.data);
      // Noise, so that the video is a few hundred KiB: several nodes with 64 KiB chunks.
      const paint = setInterval(() => {
        for (let i = 0; i < 300; i++) {
          context.fillStyle = `hsl(${Math.random() * 360} 80% 50%)`;
          context.fillRect(Math.random() * 160, Math.random() * 120, 8, 8);
        }
      }, 40);
      recorder.start(250);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      recorder.stop();
      await new Promise((resolve) => { recorder.onstop = resolve; });
      clearInterval(paint);
      return [...new Uint8Array(await new Blob(chunks).arrayBuffer())];
    });
    const video = { name: "canvas.webm", mimeType: "video/webm", bytes: Uint8Array.from(webm) };
    const { root, row, nodes } = await storeFromPicker(page, video, MEDIUM_CHUNKS);
    assert.ok(nodes > 2, `the video spans several nodes (${nodes}, ${video.bytes.length} bytes)`);
    await serviceWorkerReady(page);
    const served = [];
    const onResponse = (response) => {
      if (response.url().includes(`/files/${root}`)) served.push({ status: response.status(), sw: response.fromServiceWorker() });
    };
    page.on("response", onResponse);
    try {
      await row.locator("button", { hasText: "fetch" }).click();
      await page.locator("#preview video").waitFor({ timeout: 20_000 });
      const playback = await page.evaluate(async () => {
        const element = document.querySelector("#preview video");
        element.muted = true;
        await element.play();
        const deadline = Date.now() + 10_000;
        while (element.currentTime < 0.5 && !element.error && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const played = element.currentTime;
        element.pause();
        const seeked = new Promise((resolve) => element.addEventListener("seeked", resolve, { once: true }));
        element.currentTime = 0.2;
        await Promise.race([seeked, new Promise((resolve) => setTimeout(resolve, 5000))]);
        return { played, at: element.currentTime, width: element.videoWidth, error: element.error?.message ?? null };
      });
      assert.equal(playback.error, null);
      assert.equal(playback.width, 160, "the frames decode");
      assert.ok(playback.played >= 0.5, `it plays (${playback.played} s)`);
      assert.ok(Math.abs(playback.at - 0.2) < 0.1, `it seeks back to 0.2 s (at ${playback.at} s)`);
      assert.ok(served.some((answer) => answer.sw && answer.status === 206),
        `the service worker answered the video's range requests: ${JSON.stringify(served)}`);
      await screenshot(page, "demo-video");
    } finally {
      page.off("response", onResponse);
    }
  });

  test("a file dropped on the drop zone is stored the same way; a text file gets a preview", async () => {
    const line = "casweb drop test: a line of text\n";
    const text = line.repeat(3000); // about 100 KB: two 64 KiB nodes, a cut preview
    const { root } = await rootOf(new TextEncoder().encode(text), MEDIUM_CHUNKS, "text/plain");
    await page.selectOption("#chunk-size", String(MEDIUM_CHUNKS));
    await page.evaluate((text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], "dropped.txt", { type: "text/plain" }));
      document.querySelector("#drop").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, text);
    const row = page.locator(`tr[data-root="${root}"]`);
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.locator(".name").innerText(), "dropped.txt");
    await row.locator("button", { hasText: "fetch" }).click();
    const preview = page.locator("#preview pre");
    await preview.waitFor({ timeout: 20_000 });
    assert.match(await page.locator("#preview").innerText(), /The first 64\.0 KiB of 9\d\.\d KiB/);
    assert.ok((await preview.innerText()).startsWith(line.trim()), "the preview shows the text");
  });

  test("cancelling a large store says cancelled, not an error, and storing it again completes", async () => {
    const path = join(tmpdir(), "casweb-e2e-cancelled.bin");
    writeFileSync(path, CANCELLED.bytes);
    const { root, nodes } = await rootOf(CANCELLED.bytes, CANCELLED.chunkSize, "application/octet-stream");
    await page.selectOption("#chunk-size", String(CANCELLED.chunkSize));
    await page.setInputFiles("#file", path);
    const storing = page.locator("#roots tbody tr").first();
    // Clicked from the page as soon as the first progress shows: a click from here could come
    // after the store has finished on a fast machine.
    const clickedAt = await page.evaluate(() => new Promise((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const poll = () => {
        const row = document.querySelector("#roots tbody tr");
        const percent = Number(row?.querySelector(".store-progress")?.dataset.percent);
        if (row?.querySelector(".state")?.dataset.state === "storing" && percent > 0) {
          row.querySelector("button.cancel").click();
          resolve(percent);
        } else if (Date.now() > deadline) {
          reject(new Error("the store showed no progress within 20 s"));
        } else {
          setTimeout(poll, 10);
        }
      };
      poll();
    }));
    assert.ok(clickedAt < 100, `cancelled while storing (at ${clickedAt} %)`);
    const state = storing.locator(".state[data-state=cancelled]");
    await state.waitFor({ timeout: 10_000 });
    assert.equal(await state.innerText(), "cancelled");
    assert.match(await storing.locator(".store-progress").innerText(), /cancelled after/);
    assert.ok(await page.locator("#error").isHidden(), "a cancel is not an error");
    await screenshot(page, "demo-cancelled");

    await page.setInputFiles("#file", path);
    const row = page.locator(`tr[data-root="${root}"]`);
    await row.waitFor({ timeout: 60_000 });
    assert.equal(await row.locator(".store-progress").getAttribute("data-percent"), "100");
    assert.equal(await row.locator("td").nth(2).innerText(), String(nodes));
    assert.equal(await page.locator(".state[data-state=cancelled]").count(), 0, "the cancelled row is gone");
    assert.ok(await page.locator("#error").isHidden(), "no error shown");
  });

  test("the find-providers box explains a bad key", async () => {
    await page.fill("#p2p-find-key", "not-a-key");
    await page.click("#p2p-find-form button");
    const result = page.locator("#p2p-find-result[data-state=error]");
    await result.waitFor({ timeout: 10_000 });
    assert.match(await result.innerText(), /not a valid key[\s\S]*invalid_key/);
  });

  test("a bad key gets a clear message", async () => {
    await page.fill("#fetch-key", "not-a-key");
    await page.click("#fetch-form button");
    const text = await errorText(page);
    assert.match(text, /not a valid key/);
    assert.match(text, /invalid_key/);
    assert.equal(await page.locator("#fetch #error").count(), 1, "shown next to the fetch form");
    await page.click("#error .dismiss");
  });

  test("the page had no uncaught errors", (t) => {
    if (page.knownIssues.length > 0) {
      t.diagnostic(`${page.knownIssues.length} uncaught errors of the known libp2p-webrtc-websys ` +
        "closure bug (rust-libp2p#6551) tolerated");
    }
    assert.deepEqual(page.problems, []);
  });

  test("a stopped server gets a clear message", async () => {
    const fresh = await browser.newContext({ viewport: VIEWPORT });
    try {
      const other = await newPage(fresh);
      await other.goto(`${env.server}/?server=http://127.0.0.1:${env.deadPort}`);
      const text = await errorText(other);
      assert.match(text, new RegExp(`Cannot reach the casweb server at http://127.0.0.1:${env.deadPort}`));
      assert.equal(await other.locator("#connection").getAttribute("data-state"), "offline");
      await screenshot(other, "demo-server-stopped");
    } finally {
      await fresh.close();
    }
  });

  test("a full storage quota gets a clear message", async () => {
    const fresh = await browser.newContext({ viewport: VIEWPORT });
    try {
      const other = await newPage(fresh);
      const cdp = await fresh.newCDPSession(other);
      // Room for the page's empty databases (about 72 KiB each in Chromium 156), not for the file.
      await cdp.send("Storage.overrideQuotaForOrigin", { origin: env.server, quotaSize: 512 * 1024 });
      await openDemo(other);
      await other.setInputFiles("#file", {
        name: "too-big.bin", mimeType: FILE.mimeType, buffer: Buffer.from(testBytes(8, 1_000_000)),
      });
      const text = await errorText(other);
      assert.match(text, /storage quota/);
      assert.match(text, /quota_exceeded/);
      assert.equal(await other.locator("#store #error").count(), 1, "shown next to the store form");
      assert.equal(await other.locator("tr[data-root]").count(), 0, "nothing listed as stored");
      await screenshot(other, "demo-quota");
    } finally {
      await fresh.close();
    }
  });

  test("the P2P panel leaves 'connected' when its server is killed, and reconnects when it is back", async () => {
    const own = await ownServer();
    const fresh = await browser.newContext({ viewport: VIEWPORT });
    try {
      const other = await newPage(fresh);
      await other.goto(`${own.url}/`);
      await other.waitForSelector("body[data-ready=true]", { timeout: 20_000 });
      const connected = other.locator("#p2p .p2p-status[data-state=connected]");
      await connected.waitFor({ timeout: 30_000 });
      // Every state the status line goes through from now on.
      await other.evaluate(() => {
        window.p2pStates = [];
        const status = document.querySelector("#p2p .p2p-status");
        new MutationObserver(() => window.p2pStates.push(status.dataset.state))
          .observe(status, { attributes: true, attributeFilter: ["data-state"] });
      });
      await own.stop();
      await other.waitForFunction(() => window.p2pStates.includes("disconnected"), null, { timeout: 20_000 });
      assert.match(await other.locator("#p2p .p2p-status").innerText(), /disconnected|Cannot reach|reconnecting|connecting/);
      assert.equal(await other.locator("#p2p-peers li[data-peer-id]").count(), 0, "no peer listed");
      await screenshot(other, "demo-p2p-server-killed");
      await own.start();
      await connected.waitFor({ timeout: 45_000 });
    } finally {
      await fresh.close();
      await own.close();
    }
  });
});
