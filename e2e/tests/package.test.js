// The npm tarball as a consumer gets it: its contents, both entries' declarations (complete, no
// `any`, no internals), every JS/TS sample of the docs type-checked with `tsc --strict` against
// them, and the package used from Node 20 with a plain `await init()`, errors included; the
// `casweb/p2p` entry loaded on first use, its errors of the same CaswebError class.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { devRealm, env } from "./support.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const unpacked = mkdtempSync(join(tmpdir(), "casweb-package-"));
const pkg = join(unpacked, "package");
execFileSync("tar", ["xzf", env.tarball, "-C", unpacked]);
const read = (name) => readFileSync(join(pkg, name), "utf8");

after(() => rmSync(unpacked, { recursive: true, force: true }));

/** Names a declaration file exports: classes, functions, interfaces, types, consts. */
function exportedNames(source) {
  const names = new Set();
  for (const match of source.matchAll(/^export (?:declare )?(?:class|function|interface|type|const|enum) (\w+)/gm)) {
    names.add(match[1]);
  }
  for (const match of source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const name of match[1].split(",")) {
      const trimmed = name.trim().replace(/^type /, "").split(/\s+as\s+/).pop();
      if (trimmed) names.add(trimmed);
    }
  }
  return names;
}

/**
 * The fields `export interface name { ... }` declares in `source`, as `{ required, optional }`
 * (nested object types are skipped: only the interface's own fields).
 */
function interfaceFields(source, name) {
  const start = source.search(new RegExp(`^export interface ${name} (?:extends [\\w, ]+ )?\\{`, "m"));
  assert.ok(start >= 0, `no interface ${name}`);
  let depth = 0;
  let body = "";
  for (let i = source.indexOf("{", start); i < source.length; i++) {
    const ch = source[i];
    if (ch === "{") depth += 1;
    if (ch === "}") depth -= 1;
    if (depth === 0) break;
    if (depth === 1 && ch !== "{") body += ch;
  }
  body = body.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  const required = new Set();
  const optional = new Set();
  for (const [, field, question] of body.matchAll(/(?:^|[;\n{])\s*(\w+)(\?)?\s*:/g)) {
    (question ? optional : required).add(field);
  }
  return { required, optional };
}

/** Asserts `value` has every required field of interface `name` and no undeclared one. */
function assertShape(source, name, value) {
  const { required, optional } = interfaceFields(source, name);
  for (const field of required) assert.ok(field in value, `${name}.${field} is missing at run time`);
  for (const field of Object.keys(value)) {
    assert.ok(required.has(field) || optional.has(field), `${name} does not declare ${field}`);
  }
}

/** The body of `export interface InitOutput { ... }` removed: wasm-bindgen's internals. */
function withoutInternals(declarations) {
  return declarations.replace(/export interface InitOutput \{[\s\S]*?\n\}/, "");
}

describe("npm package", () => {
  test("holds the entry, the wasm, both licenses and the npm README", () => {
    const files = execFileSync("tar", ["tzf", env.tarball], { encoding: "utf8" }).split("\n");
    for (const file of ["index.js", "index.d.ts", "p2p.js", "p2p.d.ts", "guard.js", "load.js", "error.js",
      "error.d.ts", "casweb.js", "casweb.d.ts", "casweb_bg.wasm", "casweb_p2p.js", "casweb_p2p.d.ts",
      "casweb_p2p_bg.wasm", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "package.json"]) {
      assert.ok(files.includes(`package/${file}`), `package/${file} missing from the tarball`);
    }
    assert.match(read("LICENSE-MIT"), /MIT License/);
    assert.match(read("LICENSE-APACHE"), /Apache License\s+Version 2\.0/);
    assert.equal(read("README.md"), readFileSync(join(repo, "npm", "README.md"), "utf8"));
    assert.doesNotMatch(read("README.md"), /make demo|\]\((?:\.\.?\/|docs\/|src\/|examples\/|scripts\/)/,
      "the npm README must not send package users to the repository's make targets or relative links");
    const manifest = JSON.parse(read("package.json"));
    assert.equal(manifest.license, "MIT OR Apache-2.0");
    assert.equal(manifest.engines.node, ">=20");
    assert.equal(manifest.exports["."].default, "./index.js");
    assert.equal(manifest.exports["./p2p"].default, "./p2p.js");
    assert.equal(manifest.exports["./p2p"].types, "./p2p.d.ts");
    assert.equal(manifest.types, "./index.d.ts");
    for (const file of manifest.files) {
      assert.ok(files.some((f) => f.startsWith(`package/${file}`)), `package.json lists ${file}, not packed`);
    }
  });

  test("the storage wasm has no libp2p and neither wasm has a name section (download size)", async () => {
    for (const file of ["casweb_bg.wasm", "casweb_p2p_bg.wasm"]) {
      const module = await WebAssembly.compile(readFileSync(join(pkg, file)));
      assert.equal(WebAssembly.Module.customSections(module, "name").length, 0, file);
    }
    assert.doesNotMatch(read("casweb.js"), /P2pNode|Advertiser|PeerStorage/);
    assert.doesNotMatch(read("casweb_p2p.js"), /class (MemoryStorage|IndexedDbStorage|HttpStorage)\b/);
  });

  // Each entry (index and p2p) against the declarations wasm-bindgen generated for its module.
  for (const [entryFile, generatedFile, own] of [
    ["index.d.ts", "casweb.d.ts", ["init", "initSync", "CaswebModule"]],
    ["p2p.d.ts", "casweb_p2p.d.ts", ["initP2p"]],
  ]) {
    test(`declarations of ${entryFile}: every public name re-exported, no any, no internals`, () => {
      const generated = read(generatedFile);
      const entry = read(entryFile);
      const internal = new Set(["InitOutput", "initSync", "InitInput", "SyncInitInput", "__wbg_init"]);
      const entryNames = exportedNames(entry);
      for (const name of exportedNames(generated)) {
        if (!internal.has(name)) assert.ok(entryNames.has(name), `${entryFile} does not re-export ${name}`);
      }
      for (const name of ["CaswebError", "isCaswebError", "CaswebErrorCode", ...own]) {
        assert.ok(entryNames.has(name) || entry.includes(`function ${name}`), `${entryFile} lacks ${name}`);
      }
      for (const [file, text] of [[generatedFile, withoutInternals(generated)], [entryFile, entry],
        ["error.d.ts", read("error.d.ts")]]) {
        const anys = text.split("\n").filter((line) => /\bany\b/.test(line.replace(/\/\*\*?.*?\*\/|\/\/.*$|^\s*\*.*$/g, "")));
        assert.deepEqual(anys, [], `${file} has \`any\` in its public surface`);
      }
      assert.doesNotMatch(entry, /__casweb|__wbg|InitOutput/);
      assert.doesNotMatch(generated, /__casweb\w*Handle/);
    });
  }

  for (const [entryFile, generatedFile] of [["index.js", "casweb.d.ts"], ["p2p.js", "casweb_p2p.d.ts"]]) {
    test(`${entryFile} knows which methods return a promise (checked against ${generatedFile})`, () => {
      const table = Function(`return ${read(entryFile).match(/const ASYNC_METHODS = (\{[\s\S]*?\n\});/)[1]}`)();
      const generated = read(generatedFile);
      for (const match of generated.matchAll(/^export class (\w+) \{([\s\S]*?)^\}/gm)) {
        const [, name, body] = match;
        const declared = [...body.matchAll(/^\s+(static )?(\w+)\([^;]*\): Promise</gm)]
          .map(([, isStatic, method]) => (isStatic ? `static:${method}` : method)).sort();
        assert.deepEqual([...(table[name] ?? [])].sort(), declared, `ASYNC_METHODS.${name}`);
      }
    });
  }

  test("every JS and TS sample of the docs type-checks with tsc --strict", () => {
    const docs = [join(repo, "README.md"), join(repo, "npm", "README.md"),
      join(repo, "examples", "vite-app", "README.md"),
      ...readdirSync(join(repo, "docs")).filter((f) => f.endsWith(".md")).map((f) => join(repo, "docs", f))];
    const work = mkdtempSync(join(tmpdir(), "casweb-samples-"));
    try {
      const samples = [];
      for (const doc of docs) {
        const text = readFileSync(doc, "utf8");
        for (const match of text.matchAll(/^```(js|javascript|ts|typescript)\n([\s\S]*?)^```/gm)) {
          const line = text.slice(0, match.index).split("\n").length;
          const name = `${relative(repo, doc).replace(/[^\w]/g, "_")}_line${line}.ts`;
          writeFileSync(join(work, name), `${match[2]}\nexport {};\n`);
          samples.push(name);
        }
      }
      assert.ok(samples.length >= 10, `only ${samples.length} samples found`);
      // Names the samples may use without defining them.
      writeFileSync(join(work, "context.d.ts"), [
        "declare const token: string;",
        "declare const bytes: Uint8Array;",
        'declare const storage: import("casweb").StorageProviderLike;',
        'declare const serverUrl: string;',
        "declare const upload: File;",
        'declare module "*?url" { const url: string; export default url; }',
      ].join("\n"));
      writeFileSync(join(work, "tsconfig.json"), JSON.stringify({
        compilerOptions: {
          strict: true, noEmit: true, target: "ES2022", module: "ESNext", moduleResolution: "bundler",
          lib: ["ES2022", "ESNext.Disposable", "DOM", "DOM.Iterable"], types: [], skipLibCheck: false,
          paths: { casweb: [join(pkg, "index.d.ts")], "casweb/p2p": [join(pkg, "p2p.d.ts")] },
        },
        include: ["*.ts"],
      }));
      const tsc = join(repo, "e2e", "node_modules", "typescript", "bin", "tsc");
      try {
        execFileSync(process.execPath, [tsc, "-p", work], { encoding: "utf8", stdio: "pipe" });
      } catch (error) {
        assert.fail(`tsc --strict failed on doc samples (file names say doc and line):\n${error.stdout}`);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("in Node", () => {
  let casweb;

  before(async () => {
    casweb = await import(pathToFileURL(join(pkg, "index.js")).href);
    await casweb.default(); // no argument: reads casweb_bg.wasm from disk
  });

  test("MemoryStorage, chunkFile, storeFile and readFile work", async () => {
    const data = new TextEncoder().encode("hello from node ".repeat(1000));
    const storage = new casweb.MemoryStorage();
    const dag = casweb.chunkFile(data, { chunkSize: 1024 });
    assert.ok(dag.nodes.length > 10);
    const root = await casweb.storeFile(storage, data, { chunkSize: 1024, contentType: "text/plain" });
    assert.notEqual(root, dag.root, "the content type is part of the root node");
    assert.equal(await casweb.storeFile(storage, data, { chunkSize: 1024 }), dag.root);
    const file = await casweb.readFile(storage, root);
    assert.equal(file.contentType, "text/plain");
    assert.deepEqual(file.data, data);
  });

  test("storeFile takes Blobs and async iterables, readFileStream streams ranges, signals abort", async () => {
    const data = new Uint8Array(200_000).map((_, i) => (i * 7919) % 251);
    const storage = new casweb.MemoryStorage();
    const expected = casweb.chunkFile(data, { chunkSize: 4096 }).root;
    const pieces = [data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000)];
    async function* iterate() { yield* pieces; }
    const progress = [];
    assert.equal(await casweb.storeFile(storage, new Blob(pieces), {
      chunkSize: 4096, onProgress: (p) => progress.push(p),
    }), expected);
    assert.equal(await casweb.storeFile(storage, iterate(), { chunkSize: 4096 }), expected);
    assert.deepEqual(progress.at(-1).bytes, data.length);
    assert.equal(progress.at(-1).totalBytes, data.length);
    const range = casweb.readFileStream(storage, expected, { offset: 5000, length: 100_000 });
    const got = new Uint8Array(await new Response(range).arrayBuffer());
    assert.deepEqual(got, data.subarray(5000, 105_000));
    const aborted = AbortSignal.abort();
    const error = await casweb.readFile(storage, expected, { signal: aborted }).catch((e) => e);
    assert.equal(error.code, "aborted");
    const stored = await casweb.storeFile(storage, data, { signal: aborted }).catch((e) => e);
    assert.equal(stored.code, "aborted");
  });

  test("what the API returns has exactly the fields its TypeScript interfaces declare", async () => {
    const types = read("casweb.d.ts");
    const storage = new casweb.MemoryStorage();
    const data = crypto.getRandomValues(new Uint8Array(5000));
    const dag = casweb.chunkFile(data, { chunkSize: 1024 });
    assertShape(types, "FileDag", dag);
    assertShape(types, "DagNode", dag.nodes[0]);
    let progress;
    const root = await casweb.storeFile(storage, data, { chunkSize: 1024, onProgress: (p) => { progress = p; } });
    assertShape(types, "FileProgress", progress);
    assertShape(types, "FileContent", await casweb.readFile(storage, root));
    const info = await casweb.fileInfo(storage, root);
    assertShape(types, "FileInfo", info);
    assert.deepEqual(info, { size: data.length, contentType: "" });
    const keys = dag.nodes.map((n) => n.key);
    assertShape(types, "TopoLevels", casweb.topoSortLevels(keys, keys.map(() => [])));
    const packed = casweb.topoSortLevelsPacked(new Uint8Array(16), new Uint32Array(1), new Uint32Array(0));
    assertShape(types, "TopoPositions", packed);
    assert.deepEqual(packed.levels.map((level) => [...level]), [[0]]);
    assert.throws(() => casweb.topoSortLevelsPacked(new Uint8Array(15), new Uint32Array(1), new Uint32Array(0)),
      (e) => e instanceof casweb.CaswebError && e.code === "invalid_argument");
    // Keys as bytes for it: keyBytes and keyFromBytes round-trip, and sort like the strings.
    const keyBytes = keys.map((key) => casweb.keyBytes(key));
    assert.ok(keyBytes.every((bytes) => bytes instanceof Uint8Array && bytes.length === 16));
    assert.deepEqual(keyBytes.map((bytes) => casweb.keyFromBytes(bytes)), keys);
    const packedKeys = new Uint8Array(16 * keys.length);
    keyBytes.forEach((bytes, i) => packedKeys.set(bytes, 16 * i));
    const byPosition = casweb.topoSortLevelsPacked(packedKeys, new Uint32Array(keys.length), new Uint32Array(0));
    assert.deepEqual(byPosition.levels.map((level) => [...level].map((p) => keys[p]).sort()), [[...keys].sort()]);
    assert.throws(() => casweb.keyBytes("not a key"), (e) => e instanceof casweb.CaswebError && e.code === "invalid_key");
    assert.throws(() => casweb.keyFromBytes(new Uint8Array(15)),
      (e) => e instanceof casweb.CaswebError && e.code === "invalid_key");
    assert.throws(() => casweb.keyFromBytes("text"), (e) => e instanceof casweb.CaswebError && e.code === "invalid_argument");

    const { realm, token } = await devRealm();
    const http = new casweb.HttpStorage({ baseUrl: env.server, realm, token });
    assertShape(types, "ServerLimits", await http.info());
    // The root before its children is refused (missing_nodes); a leaf is stored.
    const [refused, stored] = await http.putMany([dag.nodes.at(-1), dag.nodes[0]]);
    assert.equal(refused.ok, false);
    assertShape(types, "ItemResult", refused);
    assert.deepEqual(Object.keys(refused.error).sort(), ["code", "message", "serverCode"]);
    assert.equal(stored.ok, true);
    assertShape(types, "ItemResult", stored);
    assertShape(types, "CheckResult", await http.checkMany([dag.root]));
    const buffered = await casweb.BufferedHttpStorage.open(http, { pendingStore: null, debounceMs: 60_000 });
    try {
      for (const node of dag.nodes) await buffered.put(node.key, node.bytes);
      assertShape(types, "BufferedStats", buffered.stats());
      assertShape(types, "SyncResult", await buffered.flush());
    } finally {
      buffered.dispose();
    }
  });

  test("errors are CaswebError instances with a code", async () => {
    const storage = new casweb.MemoryStorage();
    const error = await storage.get("not-a-key").catch((e) => e);
    assert.ok(error instanceof casweb.CaswebError);
    assert.ok(error instanceof Error);
    assert.ok(casweb.isCaswebError(error));
    assert.equal(error.name, "CaswebError");
    assert.equal(error.code, "invalid_key");
    assert.equal(casweb.isCaswebError(new Error("x")), false);
    assert.throws(() => casweb.keyOf("text"), (e) => e instanceof casweb.CaswebError && e.code === "invalid_argument");
  });

  test("BufferedHttpStorage keeps pending nodes in the app's own store, resumes and clears them", async () => {
    const kept = new Map();
    const store = {
      closed: 0,
      entries: async () => [...kept],
      put: async (key, bytes) => { kept.set(key, bytes.slice()); },
      deleteMany: (keys) => { for (const key of keys) kept.delete(key); },
      close() { this.closed += 1; },
    };
    const data = new TextEncoder().encode(`pending in node ${Date.now()} `.repeat(500));
    const dag = casweb.chunkFile(data, { chunkSize: 1024 });
    const unique = new Set(dag.nodes.map((node) => node.key)).size; // repeated text: equal leaves
    assert.ok(unique > 3);
    const offline = new casweb.HttpStorage({ baseUrl: `http://127.0.0.1:${env.deadPort}`, realm: "a",
      token: `${"A".repeat(43)}=` });
    const first = await casweb.BufferedHttpStorage.open(offline, { pendingStore: store, debounceMs: 60_000 });
    try {
      for (const node of dag.nodes) await first.put(node.key, node.bytes);
      assert.equal(kept.size, unique, "every put is kept before it resolves");
    } finally {
      first.dispose();
    }
    assert.equal(store.closed, 1);
    // A restart: the nodes are resumed from the store and synced to the real server.
    const { realm, token } = await devRealm();
    const online = new casweb.HttpStorage({ baseUrl: env.server, realm, token });
    const second = await casweb.BufferedHttpStorage.open(online, { pendingStore: store, debounceMs: 60_000 });
    try {
      assert.equal(second.stats().pending, unique);
      const result = await second.flush();
      assert.equal(result.failed.length, 0, JSON.stringify(result.failed));
      assert.equal(kept.size, 0, "owned nodes were deleted from the store");
      assert.equal(second.stats().pending, 0);
    } finally {
      second.dispose();
    }
    const broken = await casweb.BufferedHttpStorage.open(offline, { pendingStore: { put() {} } }).catch((e) => e);
    assert.equal(broken.code, "invalid_argument");
    assert.match(broken.message, /entries\(\) is missing/);
  });

  test("a misspelt option is an invalid_argument naming it, and ranges are quoted once", async () => {
    const data = new Uint8Array(10_000);
    assert.throws(() => casweb.chunkFile(data, { chunksize: 128 }),
      (e) => e.code === "invalid_argument" && /"chunksize"/.test(e.message) && /chunkSize/.test(e.message));
    assert.throws(() => casweb.chunkFile(data, { chunkSize: 64 }),
      (e) => e.code === "invalid_argument" && /from 128 to 1073741824/.test(e.message));
    const http = new casweb.HttpStorage({ baseUrl: "http://127.0.0.1:9", realm: "a", token: `${"A".repeat(43)}=` });
    const error = await casweb.BufferedHttpStorage.open(http, { pendingStore: null, debounce: 5 }).catch((e) => e);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /"debounce"/);
  });

  test("a call on a freed object rejects (or throws) with code closed; a freed argument is invalid", async () => {
    const storage = new casweb.MemoryStorage();
    storage.free();
    const error = await storage.get(casweb.keyOf(new Uint8Array(1))).catch((e) => e);
    assert.ok(casweb.isCaswebError(error), `not a CaswebError: ${error}`);
    assert.equal(error.code, "closed");
    const http = new casweb.HttpStorage({ baseUrl: "http://127.0.0.1:9", realm: "a", token: `${"A".repeat(43)}=` });
    http.free();
    assert.throws(() => http.requestCount, (e) => casweb.isCaswebError(e) && e.code === "closed");
    const open = await casweb.BufferedHttpStorage.open(http, { pendingStore: null }).catch((e) => e);
    assert.equal(open.code, "invalid_argument", "a freed argument");
    assert.match(open.message, /freed/);
    const cached = (() => {
      try {
        return new casweb.CachedStorage(storage, new casweb.MemoryStorage());
      } catch (e) {
        return e;
      }
    })();
    assert.equal(cached.code, "invalid_argument");
    assert.match(cached.message, /freed/);
  });

  test("an argument of the wrong class rejects with invalid_argument", async () => {
    const error = await casweb.BufferedHttpStorage.open({}, {}).catch((e) => e);
    assert.ok(casweb.isCaswebError(error), `not a CaswebError: ${error}`);
    assert.equal(error.code, "invalid_argument");
    assert.match(error.message, /HttpStorage/);
    const memory = new casweb.MemoryStorage();
    const wrong = await casweb.BufferedHttpStorage.open(memory, {}).catch((e) => e);
    assert.equal(wrong.code, "invalid_argument");
    assert.ok(new casweb.MemoryStorage() instanceof casweb.MemoryStorage);
  });
});

describe("casweb/p2p in Node", () => {
  let casweb;
  let p2p;

  before(async () => {
    casweb = await import(pathToFileURL(join(pkg, "index.js")).href);
    await casweb.default();
    p2p = await import(pathToFileURL(join(pkg, "p2p.js")).href);
  });

  test("loads on first use: unavailable before, P2pNode.connect loads it, errors are the one CaswebError", async () => {
    assert.throws(() => p2p.P2pNode.generateIdentity(),
      (e) => e instanceof casweb.CaswebError && e.code === "unavailable" && /initP2p/.test(e.message));
    assert.throws(() => new p2p.PeerStorage({}),
      (e) => e instanceof casweb.CaswebError && e.code === "unavailable");
    // No bootstrap and no serverUrl: the module is loaded (from disk), then the call rejects.
    const error = await p2p.P2pNode.connect({}).catch((e) => e);
    assert.ok(error instanceof casweb.CaswebError, `not the storage entry's CaswebError: ${error}`);
    assert.equal(p2p.CaswebError, casweb.CaswebError);
    assert.equal(error.code, "invalid_argument");
    const identity = p2p.P2pNode.generateIdentity();
    assert.ok(identity instanceof Uint8Array && identity.length > 32);
    const again = await p2p.initP2p();
    assert.ok(again.memory instanceof WebAssembly.Memory);
    const wrong = (() => {
      try {
        return new p2p.PeerStorage(new casweb.MemoryStorage());
      } catch (e) {
        return e;
      }
    })();
    assert.equal(wrong.code, "invalid_argument");
    assert.match(wrong.message, /P2pNode/);
  });

  test("a P2P module that cannot be fetched rejects P2pNode.connect with unavailable", async () => {
    const copy = mkdtempSync(join(tmpdir(), "casweb-no-p2p-wasm-"));
    try {
      cpSync(pkg, copy, { recursive: true, filter: (from) => !from.endsWith("casweb_p2p_bg.wasm") });
      const broken = await import(pathToFileURL(join(copy, "p2p.js")).href);
      const error = await broken.P2pNode.connect({}).catch((e) => e);
      assert.ok(broken.isCaswebError(error), `not a CaswebError: ${error}`);
      assert.equal(error.code, "unavailable");
      assert.match(error.message, /casweb\/p2p could not be loaded/);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
