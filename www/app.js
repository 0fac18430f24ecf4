// casweb demo: files dropped here are chunked into node DAGs, stored through
// CachedStorage(IndexedDbStorage, BufferedHttpStorage) and synced to the reference server, with a
// progress bar per file; stored roots and their sync state survive reloads; any root can be
// fetched back (cache first, else the server), verified and downloaded.
// Imports the built package exactly as an app would; the P2P panel lives in p2p-panel.js.
import init, * as casweb from "./pkg/index.js";
import { describeError, errorDetail, isTransient } from "./errors.js";
import { devCredentials, openStorage } from "./storage.js";
import { mountP2pPanel } from "./p2p-panel.js";

const $ = (selector) => document.querySelector(selector);
const ROOTS_KEY = "casweb-demo-roots";
const MAX_ROOTS = 50;
const server = (new URLSearchParams(location.search).get("server") ?? location.origin).replace(/\/+$/, "");

/** Files, newest first: { name, size, nodes, key, contentType, synced, stored }; only stored ones are saved. */
const roots = loadRoots();
/** Sync progress of files not synced yet: root key -> { keys: Set, done: Set, error }. */
const progress = new Map();
/** Which tracked files each node key belongs to: node key -> Set of root keys. */
const filesOfNode = new Map();
/** Whether the error box currently shows a sync failure (cleared by the next clean pass). */
let errorFromSync = false;

function loadRoots() {
  try {
    const saved = JSON.parse(localStorage.getItem(ROOTS_KEY) ?? "[]");
    return Array.isArray(saved) ? saved.map((record) => ({ ...record, stored: true })) : [];
  } catch {
    return [];
  }
}

function saveRoots() {
  localStorage.setItem(ROOTS_KEY, JSON.stringify(roots.filter((r) => r.stored).slice(0, MAX_ROOTS)));
}

function showError(error, context = {}) {
  const box = $("#error");
  box.querySelector(".error-text").textContent = describeError(error, { server, ...context });
  box.querySelector(".error-detail").textContent = errorDetail(error);
  box.hidden = false;
  errorFromSync = Boolean(context.fromSync);
}

function clearError() {
  $("#error").hidden = true;
  errorFromSync = false;
}

function setConnection(state, text) {
  const pill = $("#connection");
  pill.dataset.state = state;
  pill.textContent = text;
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** The sync cell of a file: state label, node count and a progress bar. */
function syncCell(record) {
  const td = document.createElement("td");
  td.className = "sync";
  const tracked = progress.get(record.key);
  const state = record.synced ? "synced" : record.stored ? "pending" : "storing";
  const done = record.synced ? record.nodes : (tracked?.done.size ?? 0);
  const label = document.createElement("span");
  label.className = "state";
  label.dataset.state = tracked?.error && !record.synced ? "retrying" : state;
  label.textContent = state;
  const detail = document.createElement("span");
  detail.className = "detail";
  detail.textContent = record.synced ? `${record.nodes} nodes on the server` :
    tracked?.error ? `${done} / ${record.nodes} nodes, ${isTransient(tracked.error) ? "retrying" : "failed"}` :
    `${done} / ${record.nodes} nodes`;
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("div");
  fill.style.width = `${record.nodes ? (100 * done) / record.nodes : 100}%`;
  bar.append(fill);
  td.append(label, detail, bar);
  return td;
}

function renderRoot(record) {
  const row = document.createElement("tr");
  row.dataset.root = record.key;
  const action = document.createElement("td");
  const button = document.createElement("button");
  button.className = "link";
  button.textContent = "fetch";
  button.disabled = !record.stored;
  button.onclick = () => {
    $("#fetch-key").value = record.key;
    $("#fetch-form").requestSubmit();
  };
  action.append(button);
  row.append(cell(record.name, "name"), cell(formatSize(record.size)), cell(String(record.nodes)),
    cell(record.key, "key"), syncCell(record), action);
  return row;
}

function renderRoots() {
  $("#roots tbody").replaceChildren(...roots.map(renderRoot));
  $("#no-roots").hidden = roots.length > 0;
  $("#roots").hidden = roots.length === 0;
}

function updateRoot(key) {
  const record = roots.find((r) => r.key === key);
  const row = document.querySelector(`tr[data-root="${key}"]`);
  if (record && row) row.replaceWith(renderRoot(record));
}

/** Follows `keys` of file `root` until its root node is on the server. */
function track(root, keys, done = []) {
  progress.set(root, { keys: new Set(keys), done: new Set(done), error: null });
  for (const key of keys) {
    if (!filesOfNode.has(key)) filesOfNode.set(key, new Set());
    filesOfNode.get(key).add(root);
  }
}

function untrack(root) {
  for (const key of progress.get(root)?.keys ?? []) {
    const files = filesOfNode.get(key);
    files?.delete(root);
    if (files?.size === 0) filesOfNode.delete(key);
  }
  progress.delete(root);
}

/** BufferedHttpStorage's onKeySync: moves the progress bars, marks files synced. */
function onKeySync(key, status, error) {
  for (const root of filesOfNode.get(key) ?? []) {
    const tracked = progress.get(root);
    if (status === "done") {
      tracked.done.add(key);
      tracked.error = null;
    } else if (status === "error") {
      tracked.error = error;
    }
    const record = roots.find((r) => r.key === root);
    if (status === "done" && key === root && record) {
      // Owning a root means owning its whole DAG (the server's invariant).
      record.synced = true;
      untrack(root);
      saveRoots();
    }
    updateRoot(root);
  }
  if (status === "error") {
    setConnection(isTransient(error) ? "offline" : "online",
      isTransient(error) ? "server unreachable: uploads wait and retry" : connectionText());
    showError(error, { fromSync: true });
  }
}

/** BufferedHttpStorage's onSyncEnd: a clean pass means the server is back. */
function onSyncEnd(result) {
  if (result.failed.length === 0 && (result.synced.length > 0 || result.skipped.length > 0)) {
    setConnection("online", connectionText());
    if (errorFromSync) clearError();
  }
}

let realmName = "";
function connectionText() {
  return `${server.replace(/^https?:\/\//, "")} · realm ${realmName}`;
}

/** Every node key of the DAG under `root`, read from the local cache, a level at a time. */
async function dagKeys(local, root) {
  const keys = new Set([root]);
  let level = [root];
  while (level.length > 0) {
    const nodes = await Promise.all(level.map((key) => local.get(key)));
    level = [];
    for (const bytes of nodes) {
      for (const child of bytes ? casweb.childKeys(bytes) : []) {
        if (!keys.has(child)) {
          keys.add(child);
          level.push(child);
        }
      }
    }
  }
  return keys;
}

/**
 * After a reload: files whose root is still pending resume tracking; the rest are synced.
 * The engine may already be syncing, so the pending set is read again after the DAG walks and
 * used at once (no await between reading it and tracking, so no onKeySync is missed).
 */
async function resumeTracking(remote, local) {
  const unsynced = roots.filter((r) => !r.synced && remote.pendingKeys().includes(r.key));
  const walked = await Promise.all(unsynced.map((record) => dagKeys(local, record.key)));
  const pending = new Set(remote.pendingKeys());
  for (const record of roots.filter((r) => !r.synced)) {
    const index = unsynced.indexOf(record);
    if (index < 0 || !pending.has(record.key)) {
      record.synced = true;
      continue;
    }
    const keys = walked[index];
    track(record.key, keys, [...keys].filter((key) => !pending.has(key)));
  }
  saveRoots();
}

function renderStats({ http, remote, local }) {
  const db = local.stats();
  const engine = remote.stats();
  const entries = [
    ["Server", `${server} (realm ${realmName})`],
    ["IndexedDB", `${db.recordsWritten} nodes written, ${db.putsSkipped} already present, ` +
      `${db.writeTransactions} write / ${db.readTransactions} read transactions`],
    ["Sync engine", `${engine.pending} nodes pending (${engine.failed} failed), ${engine.passes} passes`],
    ["HTTP requests", String(http.requestCount)],
  ];
  $("#stats").replaceChildren(...entries.flatMap(([term, value]) => [
    Object.assign(document.createElement("dt"), { textContent: term }),
    Object.assign(document.createElement("dd"), { textContent: value }),
  ]));
}

async function storeFiles(stack, files) {
  clearError();
  const chunkSize = Number($("#chunk-size").value);
  for (const file of files) {
    let record;
    try {
      const data = new Uint8Array(await file.arrayBuffer());
      const options = { chunkSize, contentType: (file.type || "application/octet-stream").slice(0, 56) };
      const keys = casweb.chunkFile(data, options).nodes.map((node) => node.key);
      const key = keys[keys.length - 1];
      const existing = roots.findIndex((r) => r.key === key);
      if (existing >= 0) roots.splice(existing, 1);
      record = { name: file.name, size: data.length, nodes: keys.length, key,
        contentType: options.contentType, synced: false, stored: false };
      roots.unshift(record);
      untrack(key);
      track(key, keys);
      renderRoots();
      await casweb.storeFile(stack.storage, data, options);
      record.stored = true;
      saveRoots();
      updateRoot(key);
      stack.onFileStored(key);
    } catch (error) {
      if (record) {
        roots.splice(roots.indexOf(record), 1);
        untrack(record.key);
        renderRoots();
      }
      showError(error, { file: file.name });
    }
    renderStats(stack);
  }
}

async function fetchFile(stack, rawKey) {
  clearError();
  const key = rawKey.trim();
  const result = $("#fetch-result");
  result.replaceChildren("fetching and verifying...");
  const requestsBefore = stack.http.requestCount;
  try {
    const file = await casweb.readFile(stack.storage, key);
    const requests = stack.http.requestCount - requestsBefore;
    const source = requests === 0 ? "read from this browser's cache" : `fetched from the server (${requests} requests)`;
    const name = roots.find((r) => r.key === key)?.name ?? `${key}.bin`;
    const link = document.createElement("a");
    link.className = "button";
    link.href = URL.createObjectURL(new Blob([file.data], { type: file.contentType }));
    link.download = name;
    link.textContent = `Download ${name}`;
    const summary = document.createElement("span");
    summary.className = "verified";
    summary.dataset.source = requests === 0 ? "cache" : "server";
    summary.textContent = `✓ ${formatSize(file.data.length)} (${file.contentType || "no type"}), ` +
      `every node verified, ${source}.`;
    result.replaceChildren(summary, " ", link);
  } catch (error) {
    result.replaceChildren();
    showError(error, { key });
  }
  renderStats(stack);
}

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
  $("#fetch-form").addEventListener("submit", (event) => {
    event.preventDefault();
    fetchFile(stack, $("#fetch-key").value);
  });
  setInterval(() => renderStats(stack), 1000);
}

async function main() {
  $("#error .dismiss").addEventListener("click", clearError);
  renderRoots();
  await init();
  const credentials = await devCredentials(server);
  realmName = credentials.realm;
  let p2p;
  try {
    p2p = await mountP2pPanel($("#p2p"), casweb, { server, showError });
  } catch (error) {
    showError(error);
    p2p = { wrapCache: (local) => local };
  }
  const stack = await openStorage({
    server,
    realm: credentials.realm,
    token: credentials.token,
    hooks: { onKeySync, onSyncEnd },
    wrapCache: p2p.wrapCache,
  });
  // The panel announces stored files to peers (again after a reload), unless its cache does.
  stack.onFileStored = p2p.onFileStored ?? (() => {});
  await resumeTracking(stack.remote, stack.local);
  for (const record of roots) if (record.stored) stack.onFileStored(record.key);
  renderRoots();
  renderStats(stack);
  bindPage(stack);
  if (credentials.offline) {
    setConnection("offline", "server unreachable: working offline");
    showError(credentials.offline, { fromSync: true });
  } else {
    setConnection("online", connectionText());
  }
  document.body.dataset.ready = "true";
}

main().catch((error) => {
  setConnection("offline", "not connected");
  showError(error);
});
