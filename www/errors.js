// Turns the library's errors (name "CaswebError", stable `code`) into messages for people.

/** Errors whose sync engine retries by itself: the page says so instead of asking for action. */
const TRANSIENT = new Set(["network_error", "timeout", "hook_failed"]);

/** True if the sync engine will retry this failure on its own. */
export function isTransient(error) {
  return TRANSIENT.has(error?.code) || (error?.code === "http_error" && error.status >= 500);
}

function httpMessage(error, server) {
  if (error.status === 401 || error.status === 403) {
    return `The server at ${server} refused this realm's token (${error.serverCode ?? error.status}). ` +
      "If its data directory was reset, reload the page to pick up the new token.";
  }
  if (error.status >= 500) {
    return `The server at ${server} is failing (HTTP ${error.status}). Pending uploads are kept and retried.`;
  }
  return `The server at ${server} refused the request (HTTP ${error.status}, ${error.serverCode ?? "no code"}).`;
}

/**
 * A sentence for `error`. `context.server` names the server; `context.key` the key involved.
 */
export function describeError(error, context = {}) {
  const server = context.server ?? "the server";
  switch (error?.code) {
    case "network_error":
      return `Cannot reach the casweb server at ${server}: is it running (make demo)? ` +
        "Files are still stored in this browser; pending uploads resume by themselves once it is back.";
    case "timeout":
      return `The server at ${server} did not answer in time. Pending uploads are retried.`;
    case "http_error":
    case "unauthorized":
      return httpMessage(error, server);
    case "invalid_key":
      return "That is not a valid key: a key is 26 characters of Crockford base32 " +
        "(digits and capital letters except I, L, O, U), as shown in the list of stored files.";
    case "not_found":
      return `No file with the key ${context.key ?? ""} is in this browser or on the server.`;
    case "quota_exceeded":
      return "The browser's storage quota for this site is full, so the file was not stored. " +
        "Free space (clear this site's data) or store a smaller file.";
    case "hash_mismatch":
    case "invalid_node":
    case "corrupt_dag":
    case "cycle":
      return "The data under this key failed verification (it does not hash to its key or is not " +
        "a well-formed file DAG), so it was not handed out.";
    case "blocked":
      return "Another tab keeps an older version of the demo's database open: close it and reload.";
    case "version_mismatch":
      return "A newer casweb created this browser's database: use that version or clear this site's data.";
    case "indexeddb_error":
    case "unavailable":
      return "This browser's IndexedDB is not available (private mode or storage disabled?).";
    case "rejected":
      return `The server refused a node (${error.serverCode ?? "no code"}).`;
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * A sentence for an error of peer discovery (connecting to the DHT, finding providers).
 * `context.transport` names the transport tried; other codes read as in describeError.
 */
export function describeP2pError(error, context = {}) {
  const server = context.server ?? "the server";
  const over = context.transport ? ` over ${context.transport}` : "";
  const carryOn = " Files are still stored in this browser and synced to the server.";
  switch (error?.code) {
    case "not_connected":
      return context.connecting ?
        "Peer discovery is still joining the DHT: try again once the panel says connected." :
        "Peer discovery is not connected to the DHT (see above why), so nobody can be asked.";
    case "no_route":
      return `Could not reach the server's libp2p node${over}, or it refused a relay reservation.` + carryOn;
    case "timeout":
      return context.key ?
        `No provider of ${context.key} was found in time: nobody announces it, or its peers are unreachable.` :
        `Joining the DHT${over} took too long.` + carryOn;
    case "unsupported_transport":
      return `This browser cannot use ${context.transport ?? "that transport"}: pick the other transport.` + carryOn;
    case "invalid_multiaddr":
      return `The server at ${server} lists an address this browser cannot parse.` + carryOn;
    case "network_error":
      return `Cannot reach the casweb server at ${server} to find its libp2p node.` + carryOn;
    case "http_error":
      return error.status === 404 ?
        `The server at ${server} runs without its libp2p node (--no-p2p), so there is no DHT to join.` + carryOn :
        `The server at ${server} answered HTTP ${error.status} when asked for its libp2p node.` + carryOn;
    case "closed":
      return "This peer-discovery node was closed (switching transports?): try again.";
    default:
      return describeError(error, context);
  }
}

/** The technical detail shown under the sentence: code and the library's own message. */
export function errorDetail(error) {
  if (error?.name !== "CaswebError") return "";
  const status = error.status ? ` ${error.status}` : "";
  return `${error.code}${status}: ${error.message}`;
}
