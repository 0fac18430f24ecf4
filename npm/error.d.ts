// Types of CaswebError, the class of every casweb rejection, and its codes.

/** Stable machine-readable error codes (`error.code`); messages may be reworded, codes never. */
export type CaswebErrorCode =
  | "invalid_key" | "invalid_node" | "hash_mismatch" | "not_found" | "corrupt_dag"
  | "invalid_argument" | "quota_exceeded" | "blocked" | "version_mismatch" | "unavailable"
  | "indexeddb_error" | "provider_error" | "closed" | "http_error" | "unauthorized" | "rejected"
  | "network_error" | "timeout" | "cycle" | "child_keys_failed" | "child_not_synced"
  | "hook_failed" | "not_connected" | "no_route" | "invalid_multiaddr" | "unsupported_transport"
  | "already_running" | "not_running" | "advertise_failed" | "channel_send_failed" | "too_large"
  | "internal" | "aborted" | "cap_exceeded" | "pinned" | "peer_refused" | "unsupported";

/** Every casweb promise rejects with a CaswebError (and every synchronous call throws one). */
export class CaswebError extends Error {
  constructor(code: CaswebErrorCode, message: string);
  name: "CaswebError";
  code: CaswebErrorCode;
  /** For `http_error` and `unauthorized` (401): the HTTP status. */
  status?: number;
  /** For `http_error`, `unauthorized` and `rejected`: the server's error code, e.g. "not_owned",
   *  "token_expired", "token_revoked". */
  serverCode?: string;
  /** For `peer_refused`: why the peer refused a block request: "malformed", "too_many_keys",
   *  "busy" or "not_serving". */
  reason?: string;
}

/** True if `value` is a CaswebError: narrows `unknown` in a `catch` block. */
export function isCaswebError(value: unknown): value is CaswebError;
