// Interop: a js-libp2p node (Node, libp2p 2.10 with its kad-dht, pinned in e2e/package.json) on
// casweb's DHT, as a third party would join it: it dials the reference server over TCP, announces
// a casweb key (as a CIDv1 of the key's multihash, see docs/p2p.md) that a casweb page then finds,
// and finds a key the server announces.
import "./node20.js";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify } from "@libp2p/identify";
import { ping } from "@libp2p/ping";
import { kadDHT } from "@libp2p/kad-dht";
import { multiaddr } from "@multiformats/multiaddr";
import { CID } from "multiformats/cid";
import * as Digest from "multiformats/hashes/digest";
import { devRealm, env, launchBrowser, loadPackage, newPage, serverP2p, serverProvidersUntil } from "./support.js";

/** The multihash code of a casweb key (docs/p2p.md) and CIDv1's `raw` codec. */
const CASWEB_KEY_CODE = 0x300cab;
const RAW = 0x55;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The 16 bytes of a casweb key's text (Crockford base32, 26 characters, 2 padding bits). */
function keyBytes(text) {
  let value = 0n;
  for (const ch of text) value = (value << 5n) | BigInt(ALPHABET.indexOf(ch));
  value >>= 2n;
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return bytes;
}

/** The CID that addresses a casweb key on the DHT. */
function cidOf(key) {
  return CID.createV1(RAW, Digest.create(CASWEB_KEY_CODE, keyBytes(key)));
}

/** A leaf node of unique content, as a casweb key and bytes. */
function uniqueNode(casweb, tag) {
  const data = new TextEncoder().encode(`interop ${tag} ${Date.now()} ${Math.random()}`);
  const dag = casweb.chunkFile(data);
  return dag.nodes[dag.nodes.length - 1];
}

/** Retries `attempt` until it returns something truthy or `withinMs` passes (announcements are
 *  unacknowledged: a record may land a moment after `provide` resolved). */
async function eventually(attempt, withinMs = 10_000) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const result = await attempt();
    if (result || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe("a js-libp2p node on casweb's DHT", () => {
  let casweb;
  let node;
  let browser;
  let server;

  before(async () => {
    casweb = await loadPackage();
    server = await serverP2p();
    node = await createLibp2p({
      addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({ protocol: server.protocol, clientMode: false, peerInfoMapper: (info) => info }),
      },
    });
    const tcpAddress = server.addrs.find((a) => a.includes("/tcp/") && !a.includes("/ws"));
    assert.ok(tcpAddress, `the server lists no TCP address: ${server.addrs}`);
    await node.dial(multiaddr(tcpAddress));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  test("the server speaks the multihash-keyed protocol", () => {
    assert.equal(server.protocol, "/casweb/kad/2.0.0");
  });

  test("a key it announces is found by a casweb page", async () => {
    const { key } = uniqueNode(casweb, "js-provides");
    await node.contentRouting.provide(cidOf(key));
    // The server's own lookup (the same casweb DHT code as the page's) sees the js node...
    const seen = await serverProvidersUntil(key, (list) => list.some((p) => p.peerId === node.peerId.toString()), 10_000);
    assert.ok(seen.some((p) => p.peerId === node.peerId.toString()), JSON.stringify(seen));
    // ...and so does a casweb page, through the JS API.
    const context = await browser.newContext();
    try {
      const page = await newPage(context);
      await page.goto(`${env.server}/`);
      const providers = await page.evaluate(async ({ serverUrl, key }) => {
        const { P2pNode } = await import("/pkg/p2p.js"); // connect loads its wasm module
        const p2p = await P2pNode.connect({ serverUrl, transports: ["websocket"] });
        try {
          for (let i = 0; i < 20; i++) {
            const found = await p2p.getProviders(key, { limit: 5, timeoutMs: 5000 }).catch(() => []);
            if (found.length > 0) return found.map((p) => p.peerId);
            await new Promise((resolve) => setTimeout(resolve, 300));
          }
          return [];
        } finally {
          await p2p.close();
        }
      }, { serverUrl: env.server, key });
      assert.ok(providers.includes(node.peerId.toString()), `page found ${providers}`);
    } finally {
      await context.close();
    }
  });

  test("it finds a key the server announces", async () => {
    const leaf = uniqueNode(casweb, "server-provides");
    const { realm, token } = await devRealm();
    const headers = { Authorization: `Bearer ${token}` };
    const put = await fetch(`${env.server}/api/realm/${realm}/nodes/raw/${leaf.key}`, {
      method: "PUT", headers, body: leaf.bytes,
    });
    assert.equal(put.status, 200, await put.text());
    const provide = await fetch(`${env.server}/api/realm/${realm}/nodes/${leaf.key}/provide`, { method: "POST", headers });
    assert.equal(provide.status, 200, await provide.text());
    const found = await eventually(async () => {
      const peers = [];
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 3000);
      try {
        for await (const provider of node.contentRouting.findProviders(cidOf(leaf.key), { signal: controller.signal })) {
          peers.push(provider.id.toString());
          if (peers.includes(server.peerId)) break;
        }
      } catch {
        // aborted: nothing found within 3 s this time
      } finally {
        clearTimeout(timer);
      }
      return peers.includes(server.peerId) ? peers : null;
    });
    assert.ok(found, "the js node did not find the server as a provider");
  });
});
