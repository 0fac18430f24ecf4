// The Vite example: casweb used from its npm package as an app would. A note is stored as a file
// DAG through CachedStorage(IndexedDbStorage, BufferedHttpStorage), flushed to a casweb server
// running with --dev (the server URL comes from ?server=..., default http://127.0.0.1:8080), and
// read back, verified, by its root key.
import init, {
  BufferedHttpStorage,
  CachedStorage,
  HttpStorage,
  IndexedDbStorage,
  isCaswebError,
  readFile,
  storeFile,
} from "casweb";
import wasmUrl from "casweb/casweb_bg.wasm?url";

const server = new URLSearchParams(location.search).get("server") ?? "http://127.0.0.1:8080";

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

function say(id: string, text: string, failed = false): void {
  const target = element(id);
  target.textContent = text;
  target.dataset.state = failed ? "error" : "ok";
}

function describe(error: unknown): string {
  return isCaswebError(error) ? `${error.code}: ${error.message}` : String(error);
}

/** The demo realm and a fresh access token of it, from a server in --dev mode (its dev-only
 *  GET /api/dev). */
async function devRealm(): Promise<{ realm: string; token: string }> {
  const response = await fetch(`${server}/api/dev`);
  if (!response.ok) throw new Error(`${server}/api/dev answered ${response.status}: is the server in --dev mode?`);
  return response.json();
}

async function main(): Promise<void> {
  await init({ module_or_path: wasmUrl });
  const { realm, token } = await devRealm();
  // The dev server mints short-lived tokens (as an app's backend would): ask again on expiry.
  const getToken = async () => (await devRealm()).token;
  const http = new HttpStorage({ baseUrl: server, realm, token, getToken });
  const remote = await BufferedHttpStorage.open(http, { pendingStore: "vite-example-pending" });
  const storage = new CachedStorage(await IndexedDbStorage.open("vite-example"), remote);

  element("put").addEventListener("click", async () => {
    try {
      const text = element<HTMLTextAreaElement>("note").value;
      const root = await storeFile(storage, new TextEncoder().encode(text), { contentType: "text/plain" });
      say("root", root);
      element<HTMLInputElement>("key").value = root;
    } catch (error) {
      say("root", describe(error), true);
    }
  });
  element("flush").addEventListener("click", async () => {
    try {
      const result = await remote.flush();
      const failed = result.failed.map(({ key, error }) => `${key} (${error.code})`).join(", ");
      say("flush-result",
        `synced ${result.synced.length}, skipped ${result.skipped.length}, failed ${result.failed.length}` +
        (failed ? `: ${failed}` : ""), result.failed.length > 0);
    } catch (error) {
      say("flush-result", describe(error), true);
    }
  });
  element("get").addEventListener("click", async () => {
    try {
      const file = await readFile(storage, element<HTMLInputElement>("key").value.trim());
      say("got", new TextDecoder().decode(file.data));
    } catch (error) {
      say("got", describe(error), true);
    }
  });
  say("status", `ready: ${server}, realm ${realm}`);
}

main().catch((error) => say("status", describe(error), true));
