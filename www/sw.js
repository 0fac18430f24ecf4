// casweb demo service worker: answers GET and HEAD for `files/<root key>` (files-route.js) by
// streaming the file out of casweb storage, with HTTP Range support, so a <video> can seek, an
// <img> can show, and a download is saved as it streams; nothing is held whole in memory.
//
// Why a service worker with its own storage, and not the page answering over a MessageChannel:
// a request for a file is then answered whoever makes it (a <video> seeking, a download, the
// URL opened in another tab) with no page involved, and the bytes go from IndexedDB (or the
// server) to the response without crossing the page's main thread. The worker is a module
// (registered with { type: "module" }) importing the casweb package like the page, and opens a
// read-only stack over the same IndexedDB database: CachedStorage(IndexedDbStorage, HttpStorage)
// with the dev realm's token from GET /api/dev (storage.js), so a file stored in this browser
// plays even before it is synced (or with the server down), and a file stored elsewhere is
// fetched from the server (and cached). It never writes through the sync engine: the page's
// BufferedHttpStorage stays the only uploader.
//
// Per request: the root node gives the size and content type (`fileInfo`; verified), the Range
// header the bytes wanted (parseRange), and readFileStream(storage, root, { offset, length })
// the body: only the nodes covering the range are fetched, each verified before its bytes go
// out. 200 for the whole file, 206 with Content-Range for a range, 416 for a range past the end;
// Accept-Ranges: bytes always. A node missing everywhere is 404, a bad or tampered DAG 502 (or a
// body that errors, if the damage is inside the range). When the browser drops the request (a
// seek), the response stream is cancelled and its fetches stop.
//
// Scope: the demo's directory (the page must be controlled for its <video> requests to come
// here); a static route sends every other request straight to the network.
import init, { fileInfo, IndexedDbStorage, isCaswebError, readFileStream } from "./pkg/index.js";
import { contentDisposition, parseFileUrl, parseRange } from "./files-route.js";
import { CACHE_MAX_BYTES, DATABASE, fetchDevCredentials, openReadStorage } from "./storage.js";

self.addEventListener("install", (event) => {
  // Chromium's static routing (ServiceWorker static routing API): only files/ wakes the worker.
  if (typeof event.addRoutes === "function" && typeof URLPattern === "function") {
    const files = new URLPattern({ pathname: `${new URL(self.registration.scope).pathname}files/*` });
    event.waitUntil(event.addRoutes([{ condition: { not: { urlPattern: files } }, source: "network" }])
      .catch(() => {}));
  }
  self.skipWaiting();
});

// Controls the open demo pages at once, so their first <video> already comes here.
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET" && request.method !== "HEAD") return;
  const route = parseFileUrl(request.url, self.registration.scope);
  if (route) event.respondWith(serve(request, route));
});

let ready = null;
let local = null;
/** Storage per server: a promise, kept while it has the server's credentials. */
const stacks = new Map();

/** The storage for `server`: with the server when its credentials can be had, else local only. */
async function storageFor(server) {
  ready ??= init().catch((error) => {
    ready = null;
    throw error;
  });
  await ready;
  local ??= IndexedDbStorage.open(DATABASE, { maxBytes: CACHE_MAX_BYTES }).catch((error) => {
    local = null;
    throw error;
  });
  if (!stacks.has(server)) {
    const stack = (async () => {
      let credentials = null;
      try {
        credentials = await fetchDevCredentials(server);
      } catch (error) {
        stacks.delete(server); // local only for now; the next request asks the server again
        if (error.code !== "network_error") throw error;
      }
      return openReadStorage({ server, credentials, local: await local });
    })();
    stacks.set(server, stack);
    stack.catch(() => stacks.delete(server));
  }
  return stacks.get(server);
}

async function serve(request, { root, name, download, server }) {
  let storage;
  let info;
  try {
    storage = await storageFor(server);
    info = await fileInfo(storage, root, { signal: request.signal });
  } catch (error) {
    // A token the server refuses even after renewal (its data was reset): start afresh next time.
    if (error?.code === "unauthorized") stacks.delete(server);
    return failure(error);
  }
  const { size, contentType } = info;
  const headers = new Headers({
    "Accept-Ranges": "bytes",
    "Content-Type": contentType || "application/octet-stream",
    // The bytes of a root key never change.
    "Cache-Control": "private, max-age=31536000, immutable",
    ETag: `"${root}"`,
    "Content-Disposition": contentDisposition(name, download),
  });
  const range = parseRange(request.headers.get("Range"), size);
  if (range === "unsatisfiable") {
    headers.set("Content-Range", `bytes */${size}`);
    return new Response(null, { status: 416, headers });
  }
  const offset = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : size;
  headers.set("Content-Length", String(length));
  if (range) headers.set("Content-Range", `bytes ${range.start}-${range.end}/${size}`);
  const body = request.method === "HEAD" || length === 0 ? null :
    readFileStream(storage, root, { offset, length });
  return new Response(body, { status: range ? 206 : 200, headers });
}

/** A plain-text error response for a failure before the first byte. */
function failure(error) {
  const code = isCaswebError(error) ? error.code : "internal";
  const status = code === "not_found" ? 404 : code === "invalid_key" ? 400 :
    ["hash_mismatch", "invalid_node", "corrupt_dag", "network_error", "timeout", "http_error",
      "unauthorized"].includes(code) ? 502 :
      code === "aborted" ? 499 : 500;
  const message = error instanceof Error ? error.message : String(error);
  return new Response(`${code}: ${message}\n`, {
    status, headers: { "Content-Type": "text/plain; charset=utf-8", "X-Casweb-Error": code },
  });
}
