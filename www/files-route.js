// The route the service worker (sw.js) answers: `files/<root key>` under the demo's base URL,
// with optional query parameters `name` (a file name), `download=1` (save rather than show) and
// `server` (the casweb server to fetch missing nodes from, when it is not the page's origin).
// Pure functions shared by the page, which builds the URLs, and the service worker, which parses
// them and the requests' Range headers.

const PREFIX = "files/";
const KEY = /^[0-9A-Z]{26}$/;

/**
 * The URL of file `root`, relative to `base` (the demo's directory, e.g. the service worker's
 * scope or the page's URL).
 */
export function fileUrl(base, root, { name, download = false, server } = {}) {
  const url = new URL(`${PREFIX}${root}`, base);
  if (name) url.searchParams.set("name", name);
  if (download) url.searchParams.set("download", "1");
  if (server && server !== url.origin) url.searchParams.set("server", server);
  return url.href;
}

/**
 * What `url` asks for, or null if it is not a file URL under `base`:
 * { root, name, download, server } (server defaults to `base`'s origin).
 */
export function parseFileUrl(url, base) {
  const target = new URL(url);
  const prefix = new URL(PREFIX, base);
  if (target.origin !== prefix.origin || !target.pathname.startsWith(prefix.pathname)) return null;
  const root = target.pathname.slice(prefix.pathname.length);
  if (!KEY.test(root)) return null;
  const params = target.searchParams;
  return {
    root,
    name: params.get("name") ?? "",
    download: params.get("download") === "1",
    server: (params.get("server") ?? prefix.origin).replace(/\/+$/, ""),
  };
}

/**
 * The byte range a `Range` header asks of a file of `size` bytes (RFC 9110 section 14):
 * null to send the whole file (no header, a unit other than bytes, several ranges, or a header
 * that does not parse: all may be ignored), { start, end } (inclusive) for one satisfiable range,
 * or "unsatisfiable" (416).
 */
export function parseRange(header, size) {
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header ?? "");
  if (!match || (match[1] === "" && match[2] === "")) return null;
  if (match[1] === "") {
    // A suffix: the last N bytes.
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (match[2] !== "" && Number(match[2]) < start) return null; // invalid: ignored
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/** A Content-Disposition value for `name` (ASCII fallback plus the UTF-8 name, RFC 6266). */
export function contentDisposition(name, download) {
  const type = download ? "attachment" : "inline";
  if (!name) return type;
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
