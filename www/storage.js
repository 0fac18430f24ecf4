// Opens the demo's storage stacks against the reference server's dev realm: the page's
// CachedStorage(IndexedDbStorage, BufferedHttpStorage) (the P2P panel may wrap the cache in an
// AdvertisingStorage), and the service worker's read-only CachedStorage(IndexedDbStorage,
// HttpStorage) over the same IndexedDB database.
import { IndexedDbStorage, HttpStorage, BufferedHttpStorage, CachedStorage } from "./pkg/index.js";

/**
 * The page's cache cap: past it, synced nodes are evicted, least recently used first, and
 * fetched again (verified) when read; files kept offline (pinned) and nodes not yet on the
 * server stay (docs/storage.md, "Lifecycle").
 */
export const CACHE_MAX_BYTES = 512 * 1024 * 1024;

/** The IndexedDB database of stored nodes, shared by the page and the service worker. */
export const DATABASE = "casweb-demo";
const PENDING_STORE = "casweb-demo-pending";
const CREDENTIALS_KEY = "casweb-demo-credentials";

/** Network or server failures while asking for the dev realm, as a CaswebError-like Error. */
function devEndpointError(code, message, status) {
  return Object.assign(new Error(message), { name: "CaswebError", code, status });
}

/**
 * The realm and token of a server in --dev mode (GET /api/dev), or a rejection: `network_error`
 * when the server cannot be reached, `http_error` for another answer than 200 (an Error saying
 * how to start it for 404: not in --dev mode). Works in pages and workers.
 */
export async function fetchDevCredentials(server) {
  let response;
  try {
    response = await fetch(`${server}/api/dev`, { cache: "no-store" });
  } catch {
    throw devEndpointError("network_error", `GET ${server}/api/dev failed`);
  }
  if (response.status === 404) {
    throw new Error(`The server at ${server} is not in --dev mode, so it hands out no demo token. ` +
      "Start it with `make demo` (or `casweb-server serve --dev --www www`).");
  }
  if (!response.ok) {
    throw devEndpointError("http_error", `GET ${server}/api/dev answered ${response.status}`, response.status);
  }
  const { realm, token } = await response.json();
  return { realm, token };
}

/**
 * The page's credentials: fetchDevCredentials, remembered in localStorage so that when the
 * server cannot be reached the last credentials seen for it are used and the page still works
 * offline; `offline` is then the error.
 */
export async function devCredentials(server) {
  const remembered = JSON.parse(localStorage.getItem(CREDENTIALS_KEY) ?? "{}");
  let credentials;
  try {
    credentials = await fetchDevCredentials(server);
  } catch (error) {
    if (error.code === "network_error" && remembered[server]) return { ...remembered[server], offline: error };
    throw error;
  }
  remembered[server] = credentials;
  localStorage.setItem(CREDENTIALS_KEY, JSON.stringify(remembered));
  return { ...credentials, offline: null };
}

/**
 * A fresh access token from the dev server, for HttpStorage's `getToken`: the short-lived token
 * the page holds is renewed when the server refuses it (expired), so a long session keeps
 * syncing. In an app, the app's own backend mints it (README, "Syncing to a server").
 */
async function renewedToken(server) {
  return (await fetchDevCredentials(server)).token;
}

/**
 * The service worker's stack, for reading only: CachedStorage(IndexedDbStorage, HttpStorage),
 * or the IndexedDB storage alone when `credentials` is null (server unreachable: files stored
 * in this browser still play). Nodes fetched from the server are written back into IndexedDB;
 * nothing is ever put through it, so the page's sync engine stays the only writer to the server.
 */
export async function openReadStorage({ server, credentials, local }) {
  if (!credentials) return local;
  const http = new HttpStorage({
    baseUrl: server, ...credentials, timeoutMs: 15000, getToken: () => renewedToken(server),
  });
  return new CachedStorage(local, http);
}

/**
 * Opens the stack. `hooks` are BufferedHttpStorage hooks (onKeySync, onSyncEnd);
 * `wrapCache(local, useCache)` returns the cache to use in front of the server (identity without
 * P2P) and may later call `useCache(cache)` to put another one there (`stack.storage` is then a
 * new CachedStorage; operations already started finish on the old one).
 */
export async function openStorage({ server, realm, token, hooks, wrapCache }) {
  const http = new HttpStorage({
    baseUrl: server, realm, token, timeoutMs: 15000, getToken: () => renewedToken(server),
  });
  const remote = await BufferedHttpStorage.open(http, { ...hooks, pendingStore: PENDING_STORE });
  const local = await IndexedDbStorage.open(DATABASE, { maxBytes: CACHE_MAX_BYTES });
  const stack = { http, remote, local, storage: null };
  const useCache = (cache) => {
    stack.storage = new CachedStorage(cache, remote);
  };
  useCache(await wrapCache(local, useCache));
  return stack;
}
