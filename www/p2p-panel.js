// The demo's P2P panel: own peer id (kept across reloads, see keptIdentity), transport
// (WebRTC-direct or WebSocket), connected peers, announcement metrics and a "find providers"
// box. It also decides the cache the demo stores through: with an Advertiser in the package,
// AdvertisingStorage(IndexedDbStorage) so every stored block is announced in the background;
// without one, IndexedDB as is. Either way each
// stored file's root key is announced on every new node (app.js calls onFileStored(root) when a
// file is stored and for every stored file after a reload).
//
// Contract with app.js: mountP2pPanel(section, casweb, context) renders into `section` and
// resolves to { wrapCache(local, useCache), onFileStored(root) } (wrapCache may be async and
// may later swap the cache with storage.js's useCache(cache)). `casweb` is the
// package's two entries (casweb and casweb/p2p, its wasm loaded) in one namespace; `context.server` is the server's base URL. (The panel shows its
// own errors; app.js puts a failure to mount it in the page's error box, in this section.)
//
// Sharing: a "serve my files" switch (off by default, remembered) makes the node answer block
// requests from the local IndexedDB cache (public: anyone who knows a key can read its node),
// and "Fetch from peers" reads a file by root key through CachedStorage(IndexedDB,
// PeerStorage(node)): every node verified, from whichever browser announced it, with progress,
// whether or not the server's HTTP API answers.
//
// Peer discovery is optional: a failed connect or lookup is shown in the panel only, and never
// stops files from being stored and synced.
//
// The status line follows the node's connections, not just the connect call: "connected" while
// it has a peer (refreshed on the node's peer:connect / peer:disconnect events and every few
// seconds) and the server answers; when the last peer goes or the server stops answering it says
// "disconnected" and reconnects with backoff, as it does after a connect that failed for a
// reason that may pass (no route, timeout, network error). The server check (GET /healthz every
// few seconds) is there because the node is slow to notice a server that died: measured with
// the server killed, its WebSocket connection went after about 15 s and its WebRTC-direct one
// not within 90 s (libp2p ping failures do not close connections).
import { describeP2pError, errorDetail } from "./errors.js";
import { formatSize, plural, progressBar, throttle } from "./ui.js";

const TRANSPORT_KEY = "casweb-demo-p2p-transport";
const TRANSPORTS = { "webrtc-direct": "WebRTC-direct", websocket: "WebSocket" };
const LOOKUP = { limit: 20, timeoutMs: 10_000 };
const METRICS_INTERVAL_MS = 1000;
/** How often the connected peers are read again (in case an event was missed) and the server
 *  is asked whether it is up. */
const PEERS_INTERVAL_MS = 5000;
/** Reconnect backoff after losing the connection or a failed connect: doubling, capped. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** Connect failures worth retrying by themselves. */
const RETRYABLE = new Set(["no_route", "timeout", "network_error", "closed"]);
/** The IndexedDB database of the last Advertiser's schedule (deleted when a new node starts). */
const ADVERTISER_DB_KEY = "casweb-demo-advertiser-db";
/** The kept P2P identity (base64) in localStorage, and the Web Lock that lets one tab use it. */
const IDENTITY_KEY = "casweb-demo-p2p-identity";
const IDENTITY_LOCK = "casweb-demo-p2p-identity";
/** Whether this browser serves its stored files to peers ("true"; absent: off). */
const SERVE_KEY = "casweb-demo-p2p-serve";

/** `document.createElement(tag)` with properties and children. */
function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

/** A paragraph with a state the tests and the stylesheet can read (data-state). */
function statusLine(state, text) {
  const line = el("p", { className: "p2p-status", textContent: text });
  line.dataset.state = state;
  return line;
}

/** An Error shaped like the library's, for conditions the panel detects itself. */
function panelError(code, message) {
  return Object.assign(new Error(message), { name: "CaswebError", code });
}

function savedTransport() {
  const saved = localStorage.getItem(TRANSPORT_KEY);
  return saved in TRANSPORTS ? saved : "webrtc-direct";
}

/**
 * The page's kept identity, so its peer id (and the records announced under it) survive a
 * reload: saved in localStorage, used by one tab at a time (a Web Lock held for the page's
 * lifetime). Resolves to { identity, kept: true }, or { identity: undefined, kept: false } (a
 * fresh identity per connect) when another tab holds it or the browser has no Web Locks.
 */
async function keptIdentity(casweb) {
  if (!navigator.locks) return { identity: undefined, kept: false };
  const held = await new Promise((resolve) => {
    navigator.locks.request(IDENTITY_LOCK, { ifAvailable: true }, (lock) => {
      resolve(lock !== null);
      return lock ? new Promise(() => {}) : undefined; // held until the page goes away
    });
  });
  if (!held) return { identity: undefined, kept: false };
  const saved = savedIdentity();
  if (saved) return { identity: saved, kept: true };
  const identity = casweb.P2pNode.generateIdentity();
  localStorage.setItem(IDENTITY_KEY, btoa(String.fromCharCode(...identity)));
  return { identity, kept: true };
}

/** The saved identity if it looks like one generateIdentity made (libp2p's protobuf encoding
 *  of an Ed25519 key: 68 bytes starting 08 01 12 40); null otherwise (it is then replaced). */
function savedIdentity() {
  try {
    const bytes = Uint8Array.from(atob(localStorage.getItem(IDENTITY_KEY) ?? ""), (c) => c.charCodeAt(0));
    const ed25519 = bytes.length === 68 && [8, 1, 18, 64].every((byte, i) => bytes[i] === byte);
    return ed25519 ? bytes : null;
  } catch {
    return null; // not base64
  }
}

/** The server's own peer id (GET /api/p2p), to mark it in lists; null if it cannot be read. */
async function serverPeerId(server) {
  try {
    const response = await fetch(`${server}/api/p2p`, { cache: "no-store" });
    return response.ok ? (await response.json()).peerId ?? null : null;
  } catch {
    return null;
  }
}

/**
 * Announces stored files' root keys on whichever node is current (used when the package has no
 * Advertiser): one startProvide at a time; every root again after a reconnect.
 */
class RootAnnouncer {
  constructor(onChange) {
    /** root key -> { state: "waiting" | "announcing" | "announced" | "failed", error } */
    this.roots = new Map();
    this.node = null;
    this.running = false;
    this.onChange = onChange;
  }

  add(root) {
    if (!this.roots.has(root)) this.roots.set(root, { state: "waiting", error: null });
    this.onChange();
    this.pump();
  }

  /** A new node (or none): every root is announced again on it. */
  attach(node) {
    this.node = node;
    for (const entry of this.roots.values()) Object.assign(entry, { state: "waiting", error: null });
    this.onChange();
    this.pump();
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const node = this.node;
        const next = node && [...this.roots].find(([, entry]) => entry.state === "waiting");
        if (!next) break;
        const [root, entry] = next;
        entry.state = "announcing";
        this.onChange();
        try {
          await node.startProvide(root);
          if (this.node === node) entry.state = "announced";
        } catch (error) {
          if (this.node === node) Object.assign(entry, { state: "failed", error });
        }
        this.onChange();
      }
    } finally {
      this.running = false;
    }
  }

  cache(local) {
    return local;
  }

  /** { announced, total, text } for the "Announced" row. */
  summary() {
    const counts = { waiting: 0, announcing: 0, announced: 0, failed: 0 };
    for (const entry of this.roots.values()) counts[entry.state]++;
    const total = this.roots.size;
    const parts = [`${counts.announced} of ${total} file root${total === 1 ? "" : "s"} announced`];
    if (counts.waiting + counts.announcing > 0) parts.push(`${counts.waiting + counts.announcing} waiting`);
    if (counts.failed > 0) {
      const error = [...this.roots.values()].reverse().find((entry) => entry.error)?.error;
      parts.push(`${counts.failed} failed (${error?.code ?? "error"}), retried on reconnect`);
    }
    return { announced: counts.announced, total, text: parts.join(", ") };
  }
}

/**
 * Announces through the package's Advertiser: the cache is AdvertisingStorage(local, advertiser)
 * while a node is connected (swapped in and out with storage.js's useCache), so every stored
 * block is queued; file roots are queued on each new node. Every node starts with an empty
 * schedule (its own IndexedDB database; the previous one is deleted), even with the kept
 * identity: startProvide resolves once the messages are queued, so a schedule kept across a
 * reload could count as announced a record that never left the page that went away. A tab with
 * a fresh identity deletes its database when the page goes away (best effort: pagehide).
 */
class AdvertiserAnnouncer {
  constructor(casweb, onChange) {
    this.casweb = casweb;
    this.onChange = onChange;
    this.roots = new Set();
    this.local = null;
    this.useCache = null;
    this.advertiser = null;
    this.error = null;
    /** attach() calls run one after another. */
    this.attaching = Promise.resolve();
  }

  /** The cache to start with: `local` until an advertiser runs (then useCache swaps it). */
  cache(local, useCache) {
    this.local = local;
    this.useCache = useCache;
    return local;
  }

  add(root) {
    this.roots.add(root);
    this.queue(root);
    this.onChange();
  }

  queue(root) {
    try {
      this.advertiser?.advertise(root);
    } catch (error) {
      this.error = error;
    }
  }

  /** Moves the advertiser to `node` (null: none); `kept` says whether it has the kept identity. */
  attach(node, kept = false) {
    this.attaching = this.attaching.then(() => this.replace(node, kept));
    return this.attaching;
  }

  async replace(node, kept) {
    const old = this.advertiser;
    this.advertiser = null;
    this.error = null;
    if (old) this.useCache?.(this.local);
    if (old?.running) await old.stop().catch(() => {});
    old?.free();
    if (node && this.local) {
      const databaseName = `casweb-demo-advertiser-${node.peerId}-${node.transport}`;
      if (kept) {
        // Opening waits for the deletion, also of a database with the same name.
        const previous = localStorage.getItem(ADVERTISER_DB_KEY);
        if (previous) indexedDB.deleteDatabase(previous);
        localStorage.setItem(ADVERTISER_DB_KEY, databaseName);
      } else {
        addEventListener("pagehide", () => indexedDB.deleteDatabase(databaseName), { once: true });
      }
      try {
        const advertiser = new this.casweb.Advertiser(node, { databaseName });
        await advertiser.start();
        this.advertiser = advertiser;
        this.useCache?.(new this.casweb.AdvertisingStorage(this.local, advertiser));
        for (const root of this.roots) this.queue(root);
      } catch (error) {
        this.error = error;
      }
    }
    this.onChange();
  }

  /** { announced, total, text } for the "Announced" row. */
  summary() {
    const total = this.roots.size;
    const announced = [...this.roots].filter((root) => this.advertiser?.isAdvertised(root)).length;
    if (!this.advertiser) {
      return { announced, total, text: this.error ?
        `advertiser failed to start (${this.error.code ?? this.error.message})` : "waiting for a connection" };
    }
    const m = this.advertiser.metrics();
    const parts = [`${announced} of ${total} file root${total === 1 ? "" : "s"}`,
      `${m.advertised} of ${m.tracked} blocks announced`, `${m.queued + m.due} queued`, `${m.inFlight} in flight`,
      `${(m.announcedPerSecond ?? 0).toFixed(1)}/s`];
    if (m.failing > 0 || m.failuresTotal > 0) parts.push(`${m.failing} failing (${m.failuresTotal} failures)`);
    if (m.paused) parts.push("paused: no peer connected");
    return { announced, total, text: parts.join(", ") };
  }
}

export async function mountP2pPanel(section, casweb, context = {}) {
  const body = section.querySelector(".panel-body");
  return new P2pPanel(body, casweb, context).start();
}

class P2pPanel {
  constructor(body, casweb, { server }) {
    this.casweb = casweb;
    this.server = server;
    this.node = null;
    /** Bumped by every (re)connect; a connect that finishes after a newer one started is dropped. */
    this.generation = 0;
    /** Removes the current node's event listeners. */
    this.listeners = null;
    this.serverPeer = null;
    /** Promise of keptIdentity(): the identity every connect uses. */
    this.identity = null;
    this.identityKept = false;
    this.advertiser = null;
    this.announcer = null;
    /** The pending reconnect, and the delay of the next one. */
    this.retryTimer = null;
    this.retryDelay = RETRY_FIRST_MS;
    this.render(body);
  }

  render(body) {
    this.status = statusLine("connecting", "peer discovery: connecting...");
    this.statusDetail = el("small", { className: "error-detail" });
    this.transportSelect = el("select", { id: "p2p-transport" },
      ...Object.entries(TRANSPORTS).map(([value, label]) => el("option", { value, textContent: label })));
    this.transportSelect.value = savedTransport();
    this.transportSelect.addEventListener("change", () => {
      localStorage.setItem(TRANSPORT_KEY, this.transportSelect.value);
      this.connect();
    });
    this.peerId = el("code", { id: "p2p-peer-id", textContent: "-" });
    this.identityNote = el("small", { id: "p2p-identity", className: "hint" });
    this.transport = el("span", { id: "p2p-transport-used", textContent: "-" });
    this.addresses = el("ul", { id: "p2p-addresses", className: "p2p-list" });
    this.peers = el("ul", { id: "p2p-peers", className: "p2p-list" });
    this.announced = el("span", { id: "p2p-announced", textContent: "-" });
    const row = (term, value) => [el("dt", { textContent: term }), el("dd", {}, value)];
    this.findKey = el("input", {
      id: "p2p-find-key", placeholder: "26-character key", spellcheck: false, autocomplete: "off",
    });
    this.findForm = el("form", { id: "p2p-find-form", className: "inline-form" },
      this.findKey, el("button", { type: "submit", textContent: "Find providers" }));
    this.findForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.findProviders(this.findKey.value);
    });
    this.findResult = el("div", { id: "p2p-find-result", className: "result" });
    this.serveToggle = el("input", { type: "checkbox", id: "p2p-serve" });
    this.serveToggle.checked = localStorage.getItem(SERVE_KEY) === "true";
    this.serveToggle.addEventListener("change", () => {
      localStorage.setItem(SERVE_KEY, String(this.serveToggle.checked));
      this.applyServing();
    });
    this.fetchKey = el("input", {
      id: "p2p-fetch-key", placeholder: "file root key", spellcheck: false, autocomplete: "off",
    });
    this.fetchForm = el("form", { id: "p2p-fetch-form", className: "inline-form" },
      this.fetchKey, el("button", { type: "submit", textContent: "Fetch from peers" }));
    this.fetchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.fetchFromPeers(this.fetchKey.value);
    });
    this.fetchResult = el("div", { id: "p2p-fetch-result", className: "result" });
    body.replaceChildren(
      el("div", { className: "p2p-head" },
        el("div", {}, this.status, this.statusDetail),
        el("label", { className: "hint" }, "Transport ", this.transportSelect)),
      el("dl", { id: "p2p-info", className: "stats p2p-info" },
        ...row("Peer id", el("span", {}, this.peerId, " ", this.identityNote)),
        ...row("Transport", this.transport),
        ...row("Reachable at", this.addresses),
        ...row("Connected peers", this.peers),
        ...row("Announced", this.announced)),
      el("h3", { textContent: "Find providers" }),
      el("p", {
        className: "hint",
        textContent: "Asks the DHT which peers hold a key (any node key; a file's root key finds " +
          "the browsers that stored it).",
      }),
      this.findForm,
      this.findResult,
      el("h3", { textContent: "Share and fetch" }),
      el("label", { className: "hint" }, this.serveToggle,
        " Serve my stored files to peers (public: anyone who knows a key can read its node from this browser)"),
      el("p", {
        className: "hint",
        textContent: "Reads a file by root key from the browsers that announce it, through the " +
          "server's relay only (not its HTTP API), every node verified, into this browser's cache.",
      }),
      this.fetchForm,
      this.fetchResult,
    );
  }

  /** Starts connecting in the background; resolves at once with the hooks app.js uses. */
  async start() {
    serverPeerId(this.server).then((id) => {
      this.serverPeer = id;
      this.refreshPeers();
    });
    const { Advertiser, AdvertisingStorage } = this.casweb;
    const render = () => this.renderAnnounced();
    this.announcer = typeof Advertiser === "function" && typeof AdvertisingStorage === "function" ?
      new AdvertiserAnnouncer(this.casweb, render) : new RootAnnouncer(render);
    setInterval(render, METRICS_INTERVAL_MS);
    setInterval(() => this.checkConnection(), PEERS_INTERVAL_MS);
    this.identity = keptIdentity(this.casweb);
    this.connect();
    return {
      wrapCache: (local, useCache) => {
        this.local = local;
        this.applyServing();
        return this.announcer.cache(local, useCache);
      },
      onFileStored: (root) => this.announcer.add(root),
    };
  }

  setStatus(state, text, detail = "") {
    this.status.dataset.state = state;
    this.status.textContent = text;
    this.statusDetail.textContent = detail;
  }

  /** Reconnects after the backoff delay (doubling up to RETRY_MAX_MS); returns the delay. */
  scheduleReconnect() {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelay;
    this.retryDelay = Math.min(RETRY_MAX_MS, delay * 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
    return delay;
  }

  /** The node lost its last peer, or its server is gone: say so and reconnect. */
  lost(node, why) {
    if (node !== this.node || this.status.dataset.state === "disconnected") return;
    const seconds = Math.round(this.scheduleReconnect() / 1000);
    this.addresses.replaceChildren();
    this.peers.replaceChildren(el("li", { className: "hint", textContent: "none" }));
    this.setStatus("disconnected", `peer discovery: disconnected (${why}); reconnecting in ${seconds} s...`);
  }

  /** While connected: the peers again, and whether the server still answers. */
  async checkConnection() {
    const node = this.node;
    if (!node || this.status.dataset.state !== "connected") return;
    this.refreshPeers();
    try {
      // no-cors: any answer will do (the server may be on another origin); only a network error counts.
      await fetch(`${this.server}/healthz`, { mode: "no-cors", cache: "no-store" });
    } catch {
      this.lost(node, `the server at ${this.server} does not answer`);
    }
  }

  /** Connects over the selected transport, closing the previous node first. */
  async connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const generation = ++this.generation;
    const transport = this.transportSelect.value;
    const old = this.node;
    this.node = null;
    this.listeners?.abort();
    const detached = this.announcer?.attach(null);
    this.peerId.textContent = "-";
    this.transport.textContent = "-";
    this.addresses.replaceChildren();
    this.peers.replaceChildren();
    this.setStatus("connecting", `peer discovery: connecting over ${TRANSPORTS[transport]}...`);
    await detached;
    // A node whose server is gone may take long to close: wait a little, not for ever.
    if (old) await Promise.race([old.close().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 2000))]);
    if (generation !== this.generation) return;
    let node;
    try {
      node = await this.connectWithIdentity(transport);
    } catch (error) {
      if (generation !== this.generation) return;
      const retry = RETRYABLE.has(error?.code) ? ` Retrying in ${Math.round(this.scheduleReconnect() / 1000)} s.` : "";
      this.setStatus("error", describeP2pError(error, { server: this.server, transport: TRANSPORTS[transport] }) + retry,
        errorDetail(error));
      return;
    }
    if (generation !== this.generation) {
      node.close().catch(() => {});
      return;
    }
    this.node = node;
    this.listeners = new AbortController();
    const { signal } = this.listeners;
    for (const type of ["peer:connect", "peer:disconnect"]) {
      node.events.addEventListener(type, () => this.refreshPeers(), { signal });
    }
    for (const type of ["address:confirmed", "address:expired"]) {
      node.events.addEventListener(type, () => this.refreshAddresses(), { signal });
    }
    this.peerId.textContent = node.peerId;
    this.identityNote.dataset.kept = String(this.identityKept);
    this.identityNote.textContent = this.identityKept ? "(kept: the same after a reload)" :
      "(fresh: another tab uses the kept identity)";
    this.transport.textContent = TRANSPORTS[node.transport] ?? node.transport;
    this.transport.dataset.transport = node.transport;
    this.retryDelay = RETRY_FIRST_MS;
    this.setStatus("connected", `peer discovery: connected over ${TRANSPORTS[node.transport] ?? node.transport}`);
    this.refreshPeers();
    this.refreshAddresses();
    this.announcer?.attach(node, this.identityKept);
    this.applyServing();
  }

  /** Serves the local cache to peers while the switch is on (the package may predate serving). */
  applyServing() {
    const node = this.node;
    if (!node || typeof node.serve !== "function") return;
    try {
      if (this.serveToggle.checked && this.local) node.serve(this.local);
      else node.stopServing();
    } catch (error) {
      this.setStatus(this.status.dataset.state, this.status.textContent, `serving: ${errorDetail(error)}`);
    }
  }

  /** Reads a file from peers into the local cache, verified, with a progress bar. */
  async fetchFromPeers(rawKey) {
    const key = rawKey.trim();
    const node = this.node;
    const { CachedStorage, PeerStorage, readFile } = this.casweb;
    const started = performance.now();
    const show = (...children) => this.fetchResult.replaceChildren(...children);
    let reached = { bytes: 0, totalBytes: 0 };
    const render = throttle(() => show(progressBar({
      label: "fetching from peers",
      detail: reached.totalBytes ? `${formatSize(reached.bytes)} of ${formatSize(reached.totalBytes)}` : formatSize(reached.bytes),
      done: reached.bytes,
      total: reached.totalBytes ?? 0,
    })));
    this.fetchResult.dataset.state = "fetching";
    show(el("span", { className: "hint", textContent: "looking for providers..." }));
    let peers;
    try {
      if (!node) throw panelError("not_connected", "peer discovery is not connected");
      if (typeof PeerStorage !== "function") throw panelError("unsupported", "this package cannot fetch from peers");
      peers = new PeerStorage(node);
      const storage = this.local ? new CachedStorage(this.local, peers) : peers;
      const file = await readFile(storage, key, {
        onProgress: (progress) => {
          reached = progress;
          render();
        },
      });
      render.cancel();
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const { requests, lookups } = peers.stats();
      const url = URL.createObjectURL(new Blob([file.data], { type: file.contentType || "application/octet-stream" }));
      this.fetchResult.dataset.state = "done";
      show(progressBar({ label: "fetched from peers", detail: formatSize(file.data.length), done: 1, total: 1, state: "done" }),
        el("p", { className: "hint", textContent: `${formatSize(file.data.length)} verified in ${seconds} s ` +
          `(${plural(lookups, "lookup")}, ${plural(requests, "request")} to peers), kept in this browser's cache.` }),
        el("a", { href: url, download: key, textContent: "Download" }));
    } catch (error) {
      render.cancel();
      this.fetchResult.dataset.state = "error";
      const tried = peers?.stats();
      const text = error?.code === "not_found" ? `No peer gave ${key} (or part of it) in time` +
        (tried ? ` (${plural(tried.lookups, "lookup")}, ${plural(tried.requests, "request")} to peers, ` +
          `${plural(tried.droppedProviders, "provider")} given up on).` : ".") :
        describeP2pError(error, { server: this.server, key });
      // Why each provider was given up on: the first thing to know when no peer gave the file.
      const dropped = (peers?.droppedProviders?.() ?? []).map(({ peerId, code, message }) =>
        `${peerId}: ${code} (${message})`);
      show(el("p", { className: "error p2p-error" },
        el("span", { className: "error-text", textContent: text }),
        el("small", { className: "error-detail", textContent: [errorDetail(error), ...dropped].join("; ") })));
    }
  }

  /** P2pNode.connect, with the kept identity when this tab holds it. */
  async connectWithIdentity(transport) {
    const { identity, kept } = await this.identity;
    this.identityKept = kept;
    return this.casweb.P2pNode.connect({ serverUrl: this.server, transports: [transport], identity });
  }

  /** Lists the connected peers; none left (or a node that stopped answering) is a lost connection. */
  async refreshPeers() {
    const node = this.node;
    if (!node) return;
    let ids;
    try {
      ids = await node.connectedPeers();
    } catch {
      ids = [];
    }
    if (node !== this.node) return;
    this.peers.replaceChildren(...(ids.length ? ids.map((id) => this.peerItem(id)) :
      [el("li", { className: "hint", textContent: "none" })]));
    if (ids.length === 0) this.lost(node, "no peer left: is the server down?");
  }

  async refreshAddresses() {
    const node = this.node;
    if (!node) return;
    let addrs;
    try {
      addrs = await node.externalAddresses();
    } catch {
      return;
    }
    if (node !== this.node) return;
    this.addresses.replaceChildren(...(addrs.length ? addrs.map((addr) => el("li", {}, el("code", { textContent: addr }))) :
      [el("li", { className: "hint", textContent: "no relayed address (not reachable by other peers)" })]));
  }

  /** A list item for a peer id, marked when it is this browser or the server. */
  peerItem(id, ...rest) {
    const item = el("li", {}, el("code", { className: "peer", textContent: id }));
    item.dataset.peerId = id;
    const marker = id === this.node?.peerId ? ["self", "this browser"] :
      id === this.serverPeer ? ["server", "the server"] : null;
    if (marker) {
      const badge = el("span", { className: "marker", textContent: marker[1] });
      badge.dataset.marker = marker[0];
      item.append(" ", badge);
    }
    item.append(...rest);
    return item;
  }

  renderAnnounced() {
    const { announced, total, text } = this.announcer.summary();
    this.announced.dataset.announced = String(announced);
    this.announced.dataset.total = String(total);
    this.announced.textContent = total === 0 && !this.node ? "no files stored yet" : text;
  }

  async findProviders(rawKey) {
    const key = rawKey.trim();
    const node = this.node;
    const started = performance.now();
    this.findResult.dataset.state = "searching";
    this.findResult.replaceChildren(el("span", { className: "hint", textContent: "asking the DHT..." }));
    let providers;
    try {
      if (!node) {
        throw panelError("not_connected", "peer discovery is not connected");
      }
      providers = await node.getProviders(key, LOOKUP);
    } catch (error) {
      this.findResult.dataset.state = "error";
      this.findResult.replaceChildren(el("p", { className: "error p2p-error" },
        el("span", { className: "error-text", textContent: describeP2pError(error,
          { server: this.server, key, connecting: this.status.dataset.state === "connecting" }) }),
        el("small", { className: "error-detail", textContent: errorDetail(error) })));
      return;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.findResult.dataset.state = "done";
    const summary = el("p", {
      className: "hint",
      textContent: providers.length === 0 ?
        `Nobody announces ${key} (the lookup finished after ${seconds} s).` :
        `${providers.length} provider${providers.length === 1 ? "" : "s"} of ${key}, found in ${seconds} s:`,
    });
    const list = el("ul", { id: "p2p-providers", className: "p2p-list providers" },
      ...providers.map(({ peerId, addrs }) => this.peerItem(peerId,
        el("ul", { className: "addrs" }, ...(addrs.length ? addrs.map((addr) => el("li", {}, el("code", { textContent: addr }))) :
          [el("li", { className: "hint", textContent: "no known address" })])))));
    this.findResult.replaceChildren(summary, list);
  }
}
