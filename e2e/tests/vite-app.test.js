// End-to-end test of the built Vite example (examples/vite-app, casweb installed from the npm
// tarball): put a note, flush it to the server, check the server owns it, get it back in a
// fresh browser (so from the server); only the storage wasm module is downloaded.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { checkKeys, env, launchBrowser, loadPackage, newPage, screenshot } from "./support.js";

const NOTE = "A note from the Vite example's end-to-end test.\n".repeat(40);

describe("vite example", () => {
  let browser;
  let root;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  /** A page of the example in a fresh context, ready to use. */
  async function openApp(context) {
    const page = await newPage(context);
    await page.goto(`${env.viteApp}/?server=${encodeURIComponent(env.server)}`);
    await page.locator("#status[data-state=ok]").waitFor({ timeout: 20_000 });
    return page;
  }

  test("puts a note, flushes it, and the server owns every node", async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 800 } });
    const wasm = [];
    context.on("request", (request) => {
      if (new URL(request.url()).pathname.endsWith(".wasm")) wasm.push(request.url());
    });
    const page = await openApp(context);
    await page.fill("#note", NOTE);
    await page.click("#put");
    await page.locator("#root[data-state=ok]").waitFor();
    root = await page.locator("#root").innerText();
    await page.click("#flush");
    await page.locator("#flush-result[data-state=ok]").waitFor({ timeout: 30_000 });
    assert.match(await page.locator("#flush-result").innerText(), /failed 0/);

    const casweb = await loadPackage();
    const keys = casweb.chunkFile(new TextEncoder().encode(NOTE), { contentType: "text/plain" })
      .nodes.map((node) => node.key);
    assert.equal(keys.at(-1), root);
    const check = await checkKeys(keys);
    assert.equal(check.owned.length, keys.length);

    await page.click("#get");
    await page.locator("#got[data-state=ok]").waitFor();
    await screenshot(page, "vite-app");
    assert.deepEqual(page.problems, []);
    // The example never imports casweb/p2p: only the storage module is downloaded.
    assert.equal(wasm.length, 1, `wasm fetched: ${wasm}`);
    assert.match(wasm[0], /casweb_bg[-.\w]*\.wasm$/);
    await context.close();
  });

  test("a fresh browser gets the note back from the server", async () => {
    const context = await browser.newContext();
    const page = await openApp(context);
    await page.fill("#key", root);
    await page.click("#get");
    await page.locator("#got[data-state=ok]").waitFor({ timeout: 20_000 });
    assert.equal(await page.locator("#got").textContent(), NOTE);
    await context.close();
  });
});
