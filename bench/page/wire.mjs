// The plain-JS side of the HTTP protocol the measures compare casweb with: framed batch uploads
// level by level, many-nodes gets read with a chosen body reader. No casweb code; runs in the
// bench page and, for the native contenders, in Node (both have `fetch`, `Blob` and streams).

/** Nodes per request and per IndexedDB transaction in the plain-JS contenders (the server's
 *  batch limit is 1,000 nodes or 16 MiB; its many-nodes get takes 1,000 keys or 16 MiB). */
export const BATCH_NODES = 1000;
/** Upload requests in flight at once within a level (its nodes do not depend on each other):
 *  in Chromium two at once uploaded the 40 MiB 1.3× faster than one after the other (one run,
 *  2026-12-02); casweb's engine does the same (`UPLOADS_IN_FLIGHT`). */
export const UPLOADS_AT_ONCE = 2;
/** Many-nodes gets in flight at once, as casweb's `HttpStorage.getMany` (`GET_CONCURRENCY`). */
export const GETS_AT_ONCE = 4;

export function batchesOf(items, size = BATCH_NODES) {
  const batches = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** How a batch body is handed to `fetch`, from its frames. */
export const BODY_FORMS = {
  /** A `Blob` of the frames (in Chromium 3.4× faster to upload than one `Uint8Array`). */
  blob: (parts) => new Blob(parts, { type: "application/octet-stream" }),
  /** The frames copied into one `Uint8Array`. */
  bytes: (parts) => {
    const body = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
    let offset = 0;
    for (const part of parts) {
      body.set(part, offset);
      offset += part.byteLength;
    }
    return body;
  },
};

/** One `POST .../nodes/batch`: frames `[u32 LE length][bytes]`, handed over as `form`. */
export async function postBatch({ baseUrl, realm, token }, batch, form = "blob") {
  const parts = [];
  for (const { bytes } of batch) {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.byteLength, true);
    parts.push(length, bytes);
  }
  const response = await fetch(`${baseUrl}/api/realm/${realm}/nodes/batch`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
    body: BODY_FORMS[form](parts),
  });
  if (!response.ok) throw new Error(`plain upload: ${response.status} ${await response.text()}`);
  await response.arrayBuffer();
}

/** Nodes by level, children first (a leaf is level 0), from `casweb.childKeys`. */
export function levelsOf(casweb, nodes) {
  const level = new Map();
  const levels = [];
  for (const node of nodes) {
    const children = casweb.childKeys(node.bytes);
    const at = children.length === 0 ? 0 : 1 + Math.max(...children.map((c) => level.get(c)));
    level.set(node.key, at);
    (levels[at] ??= []).push(node);
  }
  return levels;
}

/** Runs `work(item)` for every item, `atOnce` at a time, in order of start. */
export async function inFlight(items, atOnce, work) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: atOnce }, worker));
}

/** Sends every level's batches, `UPLOADS_AT_ONCE` requests at a time, a level once the one
 *  below it is acknowledged (the server wants a node's children first). */
export async function uploadLevels(levels, send) {
  for (const level of levels) await inFlight(batchesOf(level), UPLOADS_AT_ONCE, send);
}

/** The plain upload: the batches of each level, children first, two requests at a time, each
 *  body handed over as `form`. */
export function uploadPlain(server, levels, form = "blob") {
  return uploadLevels(levels, (batch) => postBatch(server, batch, form));
}

/** How a plain-JS download reads an answer's body into bytes. */
export const BODY_READERS = {
  /** The obvious reader (`Response.arrayBuffer()`). */
  arrayBuffer: async (response) => new Uint8Array(await response.arrayBuffer()),
  /** A `Blob` first, then its bytes (the upload's fast form, for downloads; what casweb does). */
  blob: async (response) => new Uint8Array(await (await response.blob()).arrayBuffer()),
  /** The body stream's chunks, copied into one array. */
  stream: async (response) => {
    const chunks = [];
    let length = 0;
    for (const reader = response.body.getReader(); ;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
    const bytes = new Uint8Array(length);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  },
};

/** Downloads `keys` as many-nodes gets (`POST .../nodes/get`, 1,000 keys each, four in flight,
 *  as casweb's `getMany`), each answer read with `readBody`; resolves to the answers' bytes in
 *  total and the number of requests. The answers are not parsed: this is the transfer alone. */
export async function getPlain({ baseUrl, realm, token }, keys, readBody) {
  let bytes = 0;
  const groups = batchesOf(keys);
  await inFlight(groups, GETS_AT_ONCE, async (group) => {
    const response = await fetch(`${baseUrl}/api/realm/${realm}/nodes/get`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ keys: group }),
    });
    if (!response.ok) throw new Error(`plain get: ${response.status} ${await response.text()}`);
    const body = await readBody(response);
    bytes += body.byteLength; // not `bytes += await ...`: that reads `bytes` before the await
  });
  return { bytes, requests: groups.length };
}
