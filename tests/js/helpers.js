// JS-side helpers for the browser tests: call the exported API exactly as a JS app would, and
// drive the control service. One module for all of them on purpose: a test page fetches every
// JS snippet of its wasm at once, and wasm-bindgen-test-runner's server stalls a 7th parallel
// request (run.js, the glue and casweb's own snippets already take 5), hanging the page.

/** POSTs to the control service (scripts/test_control.py); resolves with its answer's text. */
export async function controlPost(url) {
  const response = await fetch(url, { method: "POST" });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${url} answered ${response.status}: ${text}`);
  }
  return text;
}

/** The text at `path` on the test page's origin, read synchronously; null if not 200. */
export function readTextSync(path) {
  const request = new XMLHttpRequest();
  request.open("GET", path, false);
  request.send();
  return request.status === 200 ? request.responseText : null;
}

/** Runs `fn` and returns what it threw or rejected with, or null if it succeeded. */
export async function failureOf(fn) {
  try {
    await fn();
    return null;
  } catch (error) {
    return error;
  }
}

/** A storage provider written in plain JS, backed by a Map, counting calls. */
export function mapProvider() {
  const map = new Map();
  return {
    map,
    gets: 0,
    puts: 0,
    async get(key) {
      this.gets += 1;
      return map.get(key) ?? null;
    },
    async put(key, bytes) {
      this.puts += 1;
      map.set(key, bytes);
    },
  };
}

/** A provider whose methods misbehave in the ways a careless JS object might. */
export function brokenProvider(kind) {
  switch (kind) {
    case "throws":
      return { get() { throw new Error("boom"); }, put() { throw new Error("boom"); } };
    case "rejects":
      return { get: async () => { throw new Error("nope"); }, put: async () => { throw new Error("nope"); } };
    case "wrong-type":
      return { get: async () => "not bytes", put: async () => {} };
    case "offline": {
      // Rejects like a casweb storage would when the network is gone.
      const offline = async () => {
        throw Object.assign(new Error("network error: offline"), { name: "CaswebError", code: "network_error" });
      };
      return { get: offline, put: offline };
    }
    case "server-error": {
      const unavailable = async () => {
        throw Object.assign(new Error("HTTP 503 unavailable: busy"), {
          name: "CaswebError", code: "http_error", status: 503, serverCode: "unavailable",
        });
      };
      return { get: unavailable, put: unavailable };
    }
    case "casweb-other": {
      const invalid = async () => {
        throw Object.assign(new Error("invalid node: too short"), { name: "CaswebError", code: "invalid_node" });
      };
      return { get: invalid, put: invalid };
    }
    default:
      return { get: async () => null }; // no put method
  }
}

export function call(object, method, ...args) {
  return object[method](...args);
}

export function construct(Class, ...args) {
  return new Class(...args);
}

export function classOf(instance) {
  return instance.constructor;
}

/** Opens a raw IndexedDB connection that ignores `versionchange` (like a stale old tab). */
export function openRaw(name, version) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, version);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export function closeRaw(db) {
  db.close();
}

export function quotaError() {
  return new DOMException("the disk is full", "QuotaExceededError");
}

/** POST or DELETE /api/realm/{realm}/nodes/{key}/provide: the server announces (or stops) a
 *  node the realm owns. Resolves with [status, body]. */
export async function serverProvide(baseUrl, realm, token, key, method) {
  const response = await fetch(`${baseUrl}/api/realm/${realm}/nodes/${key}/provide`, {
    method,
    headers: { Authorization: `Bearer ${token}` },
  });
  return [response.status, await response.json()];
}

/** GET /api/p2p/providers/{key}: the server's own DHT lookup. Resolves with the providers. */
export async function serverProviders(baseUrl, key, limit) {
  const response = await fetch(`${baseUrl}/api/p2p/providers/${key}?limit=${limit}&timeoutMs=10000`);
  const body = await response.json();
  if (!response.ok) throw new Error(`lookup failed: ${response.status} ${JSON.stringify(body)}`);
  return body.providers;
}

/** Word `w` of the test pattern `seed`: differs in every leaf of any chunk size. */
function patternWord(w, seed) {
  return (Math.imul(w ^ seed, 2654435761) ^ (w >>> 9)) >>> 0;
}

/** `length` bytes of the test pattern `seed` from byte `offset` (little-endian words). */
export function patternBytes(offset, length, seed) {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const p = offset + i;
    out[i] = (patternWord(Math.floor(p / 4), seed) >>> ((p % 4) * 8)) & 255;
  }
  return out;
}

/** A Blob of `size` bytes of the pattern, built a MiB at a time. */
export function patternBlob(size, seed) {
  const parts = [];
  const piece = 1 << 20;
  for (let offset = 0; offset < size; offset += piece) {
    const length = Math.min(piece, size - offset);
    const words = new Uint32Array(Math.ceil(length / 4));
    const first = offset / 4;
    for (let w = 0; w < words.length; w++) words[w] = patternWord(first + w, seed);
    parts.push(new Uint8Array(words.buffer, 0, length));
  }
  return new Blob(parts);
}

/** Reads `stream` to its end, comparing every byte with the pattern `seed` from `offset`.
 *  Resolves with `{ bytes, chunks, mismatch }` (mismatch: the first wrong position, or -1). */
export async function checkPatternStream(stream, offset, seed) {
  const reader = stream.getReader();
  let bytes = 0;
  let chunks = 0;
  let mismatch = -1;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks += 1;
    for (let i = 0; i < value.length && mismatch < 0; i++) {
      const p = offset + bytes + i;
      const expected = (patternWord(Math.floor(p / 4), seed) >>> ((p % 4) * 8)) & 255;
      if (value[i] !== expected) mismatch = p;
    }
    bytes += value.length;
  }
  return { bytes, chunks, mismatch };
}

/** Reads one chunk of `stream` and resolves with the reader (to go on or fail later). */
export async function readOnce(stream) {
  const reader = stream.getReader();
  const first = await reader.read();
  return { reader, first };
}

/** A provider over `inner` (any storage) that counts the gets and puts it passes on. */
export function countingProvider(inner) {
  return {
    gets: 0,
    puts: 0,
    get(key) {
      this.gets += 1;
      return inner.get(key);
    },
    put(key, bytes) {
      this.puts += 1;
      return inner.put(key, bytes);
    },
  };
}

/** An async iterable yielding `chunks` (arrays) one by one. */
export async function* asyncChunks(chunks) {
  for (const chunk of chunks) yield chunk;
}

/** A ReadableStream of `chunks` (arrays), pulled one by one. */
export function streamOf(chunks) {
  let next = 0;
  return new ReadableStream({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]);
      else controller.close();
    },
  });
}

/** The JS heap in use (Chromium's performance.memory), or -1 where it is not available. */
export function jsHeapBytes() {
  return performance.memory?.usedJSHeapSize ?? -1;
}

/** Everything an async iterable yields, as an array. */
export async function collectAsync(iterable) {
  const values = [];
  for await (const value of iterable) values.push(value);
  return values;
}

/** The first `count` values of an async iterable, then a `break` (which calls its return()). */
export async function takeAsync(iterable, count) {
  const values = [];
  if (count <= 0) return values;
  for await (const value of iterable) {
    values.push(value);
    if (values.length >= count) break;
  }
  return values;
}

/** Creates database `name` as casweb's schema 1 did (one "nodes" store, key text -> bytes),
 *  holding `values` under `keys`, and closes it. */
export function createSchema1Database(name, keys, values) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore("nodes");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction("nodes", "readwrite");
      keys.forEach((key, i) => tx.objectStore("nodes").put(values[i], key));
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

/** Moves every access time in casweb database `name` (opened at `version`) `ms`
 *  into the past, as if the nodes had been stored that long ago. */
export function ageAccessTimes(name, version, ms) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, version);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction("meta", "readwrite");
      const cursor = tx.objectStore("meta").openCursor();
      cursor.onsuccess = () => {
        const at = cursor.result;
        if (!at) return;
        const record = at.value;
        record.t -= ms;
        if (record.e !== undefined) record.e -= ms;
        at.update(record);
        at.continue();
      };
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

/** POST /api/admin/realms/{realm}/tokens with `credential` (a realm or admin token): what an
 *  app's backend does to give a page an access token. Resolves with { token, id, expires }. */
export async function mintToken(baseUrl, realm, credential, scope, ttl) {
  const response = await fetch(`${baseUrl}/api/admin/realms/${realm}/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${credential}`, "Content-Type": "application/json" },
    body: JSON.stringify({ scope, ttl }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`mint answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** DELETE /api/admin/realms/{realm}/tokens/{id} with `credential`. */
export async function revokeToken(baseUrl, realm, credential, id) {
  const response = await fetch(`${baseUrl}/api/admin/realms/${realm}/tokens/${id}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${credential}` },
  });
  if (!response.ok) throw new Error(`revoke answered ${response.status}: ${await response.text()}`);
}

/** A `getToken` for HttpStorage, as a page would write it: asks "the backend" (here the mint
 *  endpoint with the realm token) for a fresh write token; `getToken.calls` counts the calls. */
export function tokenRenewer(baseUrl, realm, credential, ttl) {
  const getToken = async () => {
    getToken.calls += 1;
    return (await mintToken(baseUrl, realm, credential, "write", ttl)).token;
  };
  getToken.calls = 0;
  return getToken;
}

/** The number of records in object store `store` of database `name` (opened at `version`, as
 *  a second connection would). */
export function countRecords(name, version, store) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, version);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const count = db.transaction(store, "readonly").objectStore(store).count();
      count.onsuccess = () => {
        db.close();
        resolve(count.result);
      };
      count.onerror = () => reject(count.error);
    };
  });
}

/** Writes `value` under `key` into object store `store` of database `name` (opened at
 *  `version`), as a second connection would. */
export function putRecord(name, version, store, key, value) {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open(name, version);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction(store, "readwrite");
      tx.objectStore(store).put(value, key);
      tx.oncomplete = () => {
        db.close();
        resolve();
      };
      tx.onerror = () => reject(tx.error);
    };
  });
}
