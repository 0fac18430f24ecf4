// End-to-end test of the demo page (www/, served by the reference server in --dev mode):
// upload a file, wait for "synced", check on the server that the realm owns every node, reload and
// fetch it back byte-identical (cache), fetch it from a fresh browser (server), and the page's
// messages for a bad key, a stopped server and a full quota. Steps run in order on one page.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkKeys, downloadBytes, env, launchBrowser, loadPackage, newPage, screenshot, serverP2p,
  serverProvidersUntil, testBytes,
} from "./support.js";

const VIEWPORT = { width: 1200, height: 900 };
const FILE = { name: "sample.bin", mimeType: "application/octet-stream", bytes: testBytes(7, 300_000) };
const CHUNK_SIZE = 4096;

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

  test("after a reload the file is still synced and comes back byte-identical from the cache", async () => {
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    const row = page.locator(`tr[data-root="${root}"]`);
    await row.locator(".state[data-state=synced]").waitFor();
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
      await cdp.send("Storage.overrideQuotaForOrigin", { origin: env.server, quotaSize: 64 * 1024 });
      await openDemo(other);
      await other.setInputFiles("#file", {
        name: "too-big.bin", mimeType: FILE.mimeType, buffer: Buffer.from(testBytes(8, 1_000_000)),
      });
      const text = await errorText(other);
      assert.match(text, /storage quota/);
      assert.match(text, /quota_exceeded/);
      assert.equal(await other.locator("tr[data-root]").count(), 0, "nothing listed as stored");
      await screenshot(other, "demo-quota");
    } finally {
      await fresh.close();
    }
  });
});
