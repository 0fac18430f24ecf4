// Opens the demo's storage stack: CachedStorage(IndexedDbStorage, BufferedHttpStorage) against
// the reference server's dev realm. The P2P panel may wrap the cache (AdvertisingStorage).
import { IndexedDbStorage, HttpStorage, BufferedHttpStorage, CachedStorage } from "./pkg/index.js";

const DATABASE = "casweb-demo";
const PENDING_STORE = "casweb-demo-pending";
const CREDENTIALS_KEY = "casweb-demo-credentials";

/** Network or server failures while asking for the dev realm, as a CaswebError-like Error. */
function devEndpointError(code, message, status) {
  return Object.assign(new Error(message), { name: "CaswebError", code, status });
}

/**
 * The realm and token of a server in --dev mode (GET /api/dev). When the server cannot be
 * reached, the last credentials seen for it are used so the page still works offline;
 * `offline` is then the error.
 */
export async function devCredentials(server) {
  const remembered = JSON.parse(localStorage.getItem(CREDENTIALS_KEY) ?? "{}");
  let response;
  try {
    response = await fetch(`${server}/api/dev`, { cache: "no-store" });
  } catch {
    const offline = devEndpointError("network_error", `GET ${server}/api/dev failed`);
    if (remembered[server]) return { ...remembered[server], offline };
    throw offline;
  }
  if (response.status === 404) {
    throw new Error(`The server at ${server} is not in --dev mode, so it hands out no demo token. ` +
      "Start it with `make demo` (or `casweb-server serve --dev --www www`).");
  }
  if (!response.ok) {
    throw devEndpointError("http_error", `GET ${server}/api/dev answered ${response.status}`, response.status);
  }
  const { realm, token } = await response.json();
  remembered[server] = { realm, token };
  localStorage.setItem(CREDENTIALS_KEY, JSON.stringify(remembered));
  return { realm, token, offline: null };
}

/**
 * Opens the stack. `hooks` are BufferedHttpStorage hooks (onKeySync, onSyncEnd);
 * `wrapCache(local, useCache)` returns the cache to use in front of the server (identity without
 * P2P) and may later call `useCache(cache)` to put another one there (`stack.storage` is then a
 * new CachedStorage; operations already started finish on the old one).
 */
export async function openStorage({ server, realm, token, hooks, wrapCache }) {
  const http = new HttpStorage({ baseUrl: server, realm, token, timeoutMs: 15000 });
  const remote = await BufferedHttpStorage.open(http, { ...hooks, pendingStore: PENDING_STORE });
  const local = await IndexedDbStorage.open(DATABASE);
  const stack = { http, remote, local, storage: null };
  const useCache = (cache) => {
    stack.storage = new CachedStorage(cache, remote);
  };
  useCache(await wrapCache(local, useCache));
  return stack;
}
