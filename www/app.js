// casweb demo: files dropped or picked here are streamed into node DAGs (storeFile reads the File
// a piece at a time, so any size works in bounded memory), stored through
// CachedStorage(IndexedDbStorage, BufferedHttpStorage) and synced to the reference server. Each
// file's row has two bars, bytes stored in this browser and nodes synced to the server, and a
// Cancel button while it is being stored; a summary bar follows the sync engine's pending nodes.
// Stored roots and their sync state survive reloads. Any root can be fetched back, downloaded and
// previewed (fetch-panel.js); the service worker (sw.js) serves files with Range support, so a
// stored video plays and seeks. Imports the built package exactly as an app would; the P2P panel
// lives in p2p-panel.js.
import init, * as casweb from "./pkg/index.js";
import { IndexedDbStorage } from "./pkg/index.js";
import { isTransient } from "./errors.js";
import { CACHE_MAX_BYTES, devCredentials, openStorage } from "./storage.js";
import { mountP2pPanel } from "./p2p-panel.js";
import { FetchPanel } from "./fetch-panel.js";
import { ErrorBox, el, formatSize, plural, progressBar } from "./ui.js";

const $ = (selector) => document.querySelector(selector);
const ROOTS_KEY = "casweb-demo-roots";
const MAX_ROOTS = 50;
/** How often the sync summary reads the engine's stats, and rows repaint at most. */
const SYNC_POLL_MS = 250;
const REPAINT_MS = 100;
/** Nodes of the pending part of a DAG read at once when resuming after a reload. */
const WALK_CONCURRENCY = 8;
const server = (new URLSearchParams(location.search).get("server") ?? location.origin).replace(/\/+$/, "");
const errors = new ErrorBox($("#error"), server);

/**
 * Files, newest first. Saved once stored: { name, size, nodes, key, contentType, synced }. In
 * this page only: `stored` (false while storing), `state` ("storing" | "stored" | "cancelled"),
 * `storedBytes` (data taken so far) and `controller` (aborts the store).
 */
const roots = loadRoots();
/**
 * Sync progress of files not synced yet: record -> { pending: Set of the file's node keys not on
 * the server yet, error, counting }. Memory: about 100 bytes per pending node (a 1 GiB file is
 * about 1,000 nodes with 1 MiB chunks, 264,000 with 4 KiB ones).
 */
const progress = new Map();
/** Which tracked files each pending node key belongs to: node key -> Set of records. */
const filesOfNode = new Map();
/** Each record's table row. */
const rows = new WeakMap();
let realmName = "";
let wasmMemory = null;
/** What the service worker does for this page, or why it does not (the Storage section). */
let serviceWorkerNote = "starting...";

function loadRoots() {
  try {
    const saved = JSON.parse(localStorage.getItem(ROOTS_KEY) ?? "[]");
    return Array.isArray(saved) ? saved.map((record) => ({ ...record, stored: true, state: "stored" })) : [];
  } catch {
    return [];
  }
}

function saveRoots() {
  const saved = roots.filter((r) => r.stored).slice(0, MAX_ROOTS)
    .map(({ name, size, nodes, key, contentType, synced }) => ({ name, size, nodes, key, contentType, synced }));
  localStorage.setItem(ROOTS_KEY, JSON.stringify(saved));
}

function setConnection(state, text) {
  const pill = $("#connection");
  pill.dataset.state = state;
  pill.textContent = text;
}

function connectionText() {
  return `${server.replace(/^https?:\/\//, "")} · realm ${realmName}`;
}

/** The state a row shows: storing, cancelled, pending (syncing), retrying or synced. */
function rowState(record) {
  if (record.state === "storing" || record.state === "cancelled") return record.state;
  if (record.synced) return "synced";
  return progress.get(record)?.error ? "retrying" : "pending";
}

const STATE_TEXT = {
  storing: "storing locally", cancelled: "cancelled", pending: "syncing", retrying: "retrying", synced: "synced",
};

/** The progress cell: a state label, then what is stored here and what is on the server. */
function progressCell(record) {
  const td = el("td", { className: "sync" });
  const state = rowState(record);
  const label = el("span", { className: "state", textContent: STATE_TEXT[state] });
  label.dataset.state = state;
  td.append(label);
  if (record.storedBytes !== undefined) {
    const taken = record.storedBytes;
    const detail = record.state === "storing" ? `${formatSize(taken)} of ${formatSize(record.size)}` :
      record.state === "cancelled" ? `cancelled after ${formatSize(taken)} of ${formatSize(record.size)}; ` +
        "what was stored stays, storing the file again goes on from there" :
        formatSize(record.size);
    td.append(progressBar({ label: "stored in this browser", detail, done: taken, total: record.size,
      state: record.state === "storing" ? "running" : record.state === "cancelled" ? "cancelled" : "done",
      className: "store-progress" }));
  }
  if (record.state !== "cancelled") {
    const tracked = progress.get(record);
    const done = record.synced ? record.nodes : Math.max(0, record.nodes - (tracked?.pending.size ?? 0));
    let detail = `${done} of ${plural(record.nodes, "node")}`;
    if (record.synced) detail = `${plural(record.nodes, "node")}, all on the server`;
    else if (tracked?.error) detail += isTransient(tracked.error) ? ", retrying" : ", failed";
    else if (tracked?.counting) detail += " (counting what is left...)";
    td.append(progressBar({ label: "synced to the server", detail, done, total: record.nodes,
      state: record.synced ? "done" : tracked?.error ? "retrying" : "running", className: "sync-progress" }));
  }
  return td;
}

/** What the row's last cell offers: "cancel" while storing, "fetch" once stored, nothing else. */
function actionOf(record) {
  return record.state === "storing" ? "cancel" : record.state === "cancelled" ? "none" : "fetch";
}

function actionCell(record) {
  const td = el("td");
  const action = actionOf(record);
  if (action === "cancel") {
    const cancel = el("button", { className: "link cancel", type: "button", textContent: "Cancel" });
    cancel.onclick = () => record.controller?.abort();
    td.append(cancel);
  } else if (action === "fetch") {
    const button = el("button", { className: "link", type: "button", textContent: "fetch" });
    button.onclick = () => {
      $("#fetch-key").value = record.key;
      $("#fetch").scrollIntoView({ block: "nearest" });
      fetchPanel?.fetch(record.key);
    };
    td.append(button);
  }
  td.dataset.action = action;
  return td;
}

function renderRoot(record) {
  const row = el("tr");
  rows.set(record, row);
  row.append(el("td", { className: "name", textContent: record.name }), el("td", { textContent: formatSize(record.size) }),
    el("td"), el("td", { className: "key" }), el("td"), el("td"), el("td"));
  patchRow(row, record);
  return row;
}

/** Brings `row` up to date in place: the buttons stay the same elements while their action does. */
function patchRow(row, record) {
  if (record.key) row.dataset.root = record.key;
  const cells = row.children;
  cells[2].textContent = String(record.nodes);
  cells[3].textContent = record.key ?? "-";
  cells[4].replaceWith(progressCell(record));
  if (cells[5].dataset.action !== actionOf(record)) cells[5].replaceWith(actionCell(record));
  if (cells[6].dataset.offline !== offlineState(record)) cells[6].replaceWith(offlineCell(record));
}

/** The "keep offline" cell's state: "none" until stored, then "pinned", "pinning" or "cached". */
function offlineState(record) {
  if (!record.stored || !record.key || !openStack) return "none";
  return record.pinning ? "pinning" : record.pinned ? "pinned" : "cached";
}

/**
 * "keep offline": pins the file's DAG in the cache (its nodes are never evicted; those evicted
 * already are fetched back from the server first, verified), or unpins it.
 */
function offlineCell(record) {
  const td = el("td", { className: "offline" });
  const state = offlineState(record);
  td.dataset.offline = state;
  if (state === "none") return td;
  const box = el("input", { type: "checkbox", checked: state !== "cached", disabled: state === "pinning" });
  box.onchange = () => keepOffline(record, box.checked);
  td.append(el("label", {}, box, state === "pinning" ? " fetching..." : " keep offline"));
  return td;
}

async function keepOffline(record, keep) {
  const { local, remote } = openStack;
  record.pinning = keep;
  updateRoot(record);
  try {
    if (keep) {
      await local.pin(record.key, { from: remote });
      record.pinned = true;
    } else {
      await local.unpin(record.key);
      record.pinned = false;
    }
  } catch (error) {
    errors.show(error, { place: "store" });
  } finally {
    record.pinning = false;
    updateRoot(record);
    renderCache(local);
  }
}

function renderRoots() {
  $("#roots tbody").replaceChildren(...roots.map(renderRoot));
  $("#no-roots").hidden = roots.length > 0;
  $("#roots").hidden = roots.length === 0;
}

/** Repaints the rows of `dirty` records at most every REPAINT_MS (progress comes per node). */
const dirty = new Set();
let repaint = null;
function updateRoot(record) {
  dirty.add(record);
  repaint ??= setTimeout(() => {
    repaint = null;
    for (const r of dirty) {
      const row = rows.get(r);
      if (row?.isConnected) patchRow(row, r);
    }
    dirty.clear();
  }, REPAINT_MS);
}

/** Follows `keys` (node keys of `record` not on the server yet). */
function track(record, keys) {
  if (!progress.has(record)) progress.set(record, { pending: new Set(), error: null, counting: false });
  const tracked = progress.get(record);
  for (const key of keys) {
    tracked.pending.add(key);
    if (!filesOfNode.has(key)) filesOfNode.set(key, new Set());
    filesOfNode.get(key).add(record);
  }
  return tracked;
}

function untrack(record) {
  for (const key of progress.get(record)?.pending ?? []) {
    const files = filesOfNode.get(key);
    files?.delete(record);
    if (files?.size === 0) filesOfNode.delete(key);
  }
  progress.delete(record);
}

function markSynced(record) {
  // Owning a root means owning its whole DAG (the server's invariant).
  record.synced = true;
  untrack(record);
  saveRoots();
  updateRoot(record);
}

/** BufferedHttpStorage's onKeySync: moves the files' sync bars, marks files synced. */
function onKeySync(key, status, error) {
  for (const record of filesOfNode.get(key) ?? []) {
    const tracked = progress.get(record);
    if (status === "done") {
      tracked.pending.delete(key);
      tracked.error = null;
      if (key === record.key) markSynced(record);
    } else if (status === "error") {
      tracked.error = error;
    }
    updateRoot(record);
  }
  if (status === "done") filesOfNode.delete(key);
  if (status === "error") {
    setConnection(isTransient(error) ? "offline" : "online",
      isTransient(error) ? "server unreachable: uploads wait and retry" : connectionText());
    errors.show(error, { place: "store", fromSync: true });
  }
}

/** BufferedHttpStorage's onSyncEnd: a clean pass means the server is back. */
function onSyncEnd(result) {
  if (result.failed.length === 0 && (result.synced.length > 0 || result.skipped.length > 0)) {
    setConnection("online", connectionText());
    if (errors.fromSync) errors.clear();
  }
}

/**
 * After a reload: files whose root is still pending are tracked again (the root at once, so its
 * "done" is not missed); the rest are synced. The pending part of each DAG is then walked in the
 * background, WALK_CONCURRENCY nodes at a time (bounded memory, whatever the file's size): a node
 * that is not pending is owned by the server with its whole subtree, so the walk does not go
 * below it. Keys synced during the walk are dropped from the counts at its end.
 */
function resumeTracking(remote, local) {
  const pending = new Set(remote.pendingKeys());
  const resumed = [];
  for (const record of roots.filter((r) => !r.synced)) {
    if (pending.has(record.key)) resumed.push(record);
    else record.synced = true;
  }
  for (const record of resumed) track(record, [record.key]).counting = true;
  saveRoots();
  (async () => {
    for (const record of resumed) {
      await countPending(record, local, pending).catch(() => {});
      const tracked = progress.get(record);
      if (!tracked) continue; // synced meanwhile
      const still = new Set(remote.pendingKeys());
      for (const key of [...tracked.pending]) {
        if (!still.has(key)) onKeySync(key, "done");
      }
      tracked.counting = false;
      updateRoot(record);
    }
  })();
}

async function countPending(record, local, pending) {
  const queue = [record.key];
  const seen = new Set(queue);
  const worker = async () => {
    while (queue.length > 0 && progress.has(record)) {
      const bytes = await local.get(queue.pop());
      if (!progress.has(record)) return; // synced meanwhile
      const children = bytes ? casweb.childKeys(bytes).filter((key) => pending.has(key) && !seen.has(key)) : [];
      for (const key of children) seen.add(key);
      track(record, children);
      queue.push(...children);
      updateRoot(record);
    }
  };
  // Workers stop when the queue is empty for a moment; run rounds until it stays empty.
  while (queue.length > 0 && progress.has(record)) {
    await Promise.all(Array.from({ length: WALK_CONCURRENCY }, worker));
  }
}

/** The sync engine's summary bar (polled: stats() is a cheap synchronous read). */
let syncPeak = 0;
let syncShown = "";
function renderSync(remote) {
  const { pending, failed, bufferedBytes } = remote.stats();
  syncPeak = pending === 0 ? 0 : Math.max(syncPeak, pending);
  const shown = `${pending}/${failed}/${bufferedBytes}/${syncPeak}`;
  if (shown === syncShown) return;
  syncShown = shown;
  const box = $("#sync");
  box.dataset.pending = String(pending);
  box.dataset.failed = String(failed);
  if (pending === 0) {
    box.replaceChildren(el("p", { className: "hint", textContent: "Syncing to the server: nothing pending." }));
    return;
  }
  let detail = `${plural(pending, "node")} to upload, ${formatSize(bufferedBytes)} in the upload buffer`;
  if (failed > 0) detail += `, ${failed} failed (retrying)`;
  box.replaceChildren(progressBar({ label: "syncing to the server", detail, done: syncPeak - pending,
    total: syncPeak, state: failed > 0 ? "retrying" : "running" }));
}

/** The cache against its cap (usage() is one small read, never a scan), and the origin's quota. */
let persisted = null;
async function renderCache(local) {
  const [usage, estimate] = await Promise.all([local.usage(), IndexedDbStorage.estimate().catch(() => null)]);
  persisted ??= await IndexedDbStorage.persisted().catch(() => false);
  const box = $("#cache");
  box.dataset.bytes = String(usage.bytes);
  box.dataset.pinnedBytes = String(usage.pinnedBytes);
  const detail = `${formatSize(usage.bytes)} of ${formatSize(CACHE_MAX_BYTES)} (${plural(usage.nodes, "node")}), ` +
    `${formatSize(usage.pinnedBytes)} kept offline; past the cap the least recently used synced nodes are evicted`;
  const parts = [progressBar({ label: "local cache", detail, done: usage.bytes, total: CACHE_MAX_BYTES,
    className: "cache-usage" })];
  const quota = estimate ? `This site uses ${formatSize(estimate.usage)} of a ${formatSize(estimate.quota)} quota. ` : "";
  const note = el("p", { className: "hint", textContent: quota + (persisted
    ? "Storage is persistent: the browser will not clear it under storage pressure."
    : "The browser may clear this storage under pressure. ") });
  if (!persisted) {
    const ask = el("button", { className: "link", type: "button", textContent: "Ask to keep it" });
    ask.id = "persist";
    ask.onclick = async () => {
      persisted = await IndexedDbStorage.persist().catch(() => false);
      if (!persisted) ask.textContent = "The browser said no (it decides from how the site is used); ask again";
      else renderCache(local);
    };
    note.append(ask);
  }
  parts.push(note);
  box.replaceChildren(...parts);
}

function renderStats({ http, remote, local }) {
  renderCache(local).catch(() => {}); // a closed store (page unloading): the next tick repaints
  const db = local.stats();
  const engine = remote.stats();
  const heap = performance.memory?.usedJSHeapSize;
  const entries = [
    ["Server", `${server} (realm ${realmName})`],
    ["IndexedDB", `${plural(db.recordsWritten, "node")} written, ${db.putsSkipped} already present, ` +
      `${db.writeTransactions} write / ${db.readTransactions} read transactions`],
    ["Sync engine", `${plural(engine.pending, "node")} pending (${engine.failed} failed), ` +
      `${formatSize(engine.bufferedBytes)} buffered, ${plural(engine.passes, "pass")}`],
    ["HTTP requests", String(http.requestCount)],
    ["Memory", `WebAssembly ${formatSize(wasmMemory?.buffer.byteLength ?? 0)}` +
      (heap ? `, JavaScript heap ${formatSize(heap)}` : "")],
    ["Service worker", serviceWorkerNote],
  ];
  $("#stats").replaceChildren(...entries.flatMap(([term, value]) => [
    el("dt", { textContent: term }), el("dd", { textContent: value }),
  ]));
}

/**
 * Stores one file: the File itself goes to storeFile, which reads it a piece at a time. The
 * storage handed to it notes each node key as it is put (so the sync bar can follow the file's
 * nodes before its root is known), then forwards to the stack.
 */
async function storeOne(stack, file, chunkSize) {
  const contentType = (file.type || "application/octet-stream").slice(0, 56);
  const record = { name: file.name, size: file.size, nodes: 0, key: null, contentType, synced: false,
    stored: false, state: "storing", storedBytes: 0, controller: new AbortController() };
  roots.unshift(record);
  renderRoots();
  const tracked = track(record, []);
  const seen = new Set();
  const noting = {
    get: (key, options) => stack.storage.get(key, options),
    put: (key, bytes, options) => {
      if (record.state === "storing" && !seen.has(key)) {
        seen.add(key);
        track(record, [key]);
        record.nodes = seen.size;
      }
      return stack.storage.put(key, bytes, options);
    },
  };
  try {
    const root = await casweb.storeFile(noting, file, {
      chunkSize, contentType, signal: record.controller.signal,
      onProgress: ({ bytes }) => {
        record.storedBytes = bytes;
        updateRoot(record);
      },
    });
    Object.assign(record, { key: root, stored: true, state: "stored", storedBytes: file.size, controller: null });
    const older = roots.findIndex((r) => r !== record && r.key === root);
    if (older >= 0) {
      untrack(roots[older]);
      roots.splice(older, 1);
    }
    // The root is put last; if the engine has already synced it, so is the file.
    if (!tracked.pending.has(root)) markSynced(record);
    saveRoots();
    renderRoots();
    stack.onFileStored(root);
  } catch (error) {
    untrack(record);
    record.controller = null;
    if (error?.code === "aborted") {
      record.state = "cancelled";
      updateRoot(record);
    } else {
      roots.splice(roots.indexOf(record), 1);
      renderRoots();
      errors.show(error, { place: "store", file: file.name });
    }
  }
}

async function storeFiles(stack, files) {
  errors.clear("store");
  // Rows of cancelled stores go when new files come.
  for (let i = roots.length - 1; i >= 0; i--) if (roots[i].state === "cancelled") roots.splice(i, 1);
  renderRoots();
  const chunkSize = Number($("#chunk-size").value);
  for (const file of files) {
    await storeOne(stack, file, chunkSize);
    renderStats(stack);
  }
}

/**
 * Registers sw.js (a module worker) and waits until it controls this page; sets
 * `body[data-sw]` to "ready", "unavailable" or "error". Files are served by it only when ready.
 */
async function startServiceWorker() {
  const { body } = document;
  if (!navigator.serviceWorker) {
    body.dataset.sw = "unavailable";
    serviceWorkerNote = "not available (this browser or context has no service workers): no media previews";
    return;
  }
  try {
    await navigator.serviceWorker.register("sw.js", { type: "module" });
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve, reject) => {
        navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
        setTimeout(() => reject(new Error("it does not control this page (after a hard reload?): reload the page")),
          10_000);
      });
    }
    body.dataset.sw = "ready";
    serviceWorkerNote = "serves files/<root key> with Range support (downloads, previews, video seeking)";
  } catch (error) {
    body.dataset.sw = "error";
    serviceWorkerNote = `not serving files: ${error.message}`;
  }
}

let fetchPanel = null;
/** The storage stack, once open (the "keep offline" boxes need it). */
let openStack = null;

function bindPage(stack) {
  $("#file").addEventListener("change", (event) => {
    storeFiles(stack, [...event.target.files]);
    event.target.value = "";
  });
  const drop = $("#drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    storeFiles(stack, [...event.dataTransfer.files]);
  });
  fetchPanel = new FetchPanel({
    stack, errors, server, nameOf: (key) => roots.find((r) => r.key === key)?.name ?? null,
  }).bind();
  setInterval(() => renderStats(stack), 1000);
  setInterval(() => renderSync(stack.remote), SYNC_POLL_MS);
}

/** The package's P2P entry (casweb/p2p), its wasm module loaded: the larger one, fetched only
 *  by pages that use P2P, here while the storage module starts. */
async function loadP2p() {
  const p2p = await import("./pkg/p2p.js");
  await p2p.initP2p();
  return p2p;
}

async function main() {
  renderRoots();
  const p2pEntry = loadP2p();
  p2pEntry.catch(() => {}); // reported by the panel below
  ({ memory: wasmMemory } = await init());
  const credentials = await devCredentials(server);
  realmName = credentials.realm;
  let p2p;
  try {
    p2p = await mountP2pPanel($("#p2p"), { ...casweb, ...(await p2pEntry) }, { server });
  } catch (error) {
    errors.show(error, { place: "p2p" });
    p2p = { wrapCache: (local) => local };
  }
  const stack = await openStorage({
    server,
    realm: credentials.realm,
    token: credentials.token,
    hooks: { onKeySync, onSyncEnd },
    wrapCache: p2p.wrapCache,
  });
  // Registered once IndexedDB is open: the worker's scripts count against the origin's quota,
  // and a tight quota should fail the registration, not the opening of the page's database.
  const serviceWorker = startServiceWorker();
  // The panel announces stored files to peers (again after a reload), unless its cache does.
  stack.onFileStored = p2p.onFileStored ?? (() => {});
  openStack = stack;
  const pinned = new Set((await stack.local.pins()).map((pin) => pin.root));
  for (const record of roots) record.pinned = pinned.has(record.key);
  resumeTracking(stack.remote, stack.local);
  for (const record of roots) if (record.stored) stack.onFileStored(record.key);
  renderRoots();
  bindPage(stack);
  renderSync(stack.remote);
  renderStats(stack);
  serviceWorker.then(() => renderStats(stack));
  if (credentials.offline) {
    setConnection("offline", "server unreachable: working offline");
    errors.show(credentials.offline, { place: "store", fromSync: true });
  } else {
    setConnection("online", connectionText());
  }
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  setConnection("offline", "not connected");
  errors.show(error);
});
