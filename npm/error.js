// CaswebError: the one class every casweb rejection is an instance of, and its type guard.
// casweb's wasm code imports this module to build its errors, and the package entry re-exports
// the same copy, so `error instanceof CaswebError` holds for errors of every casweb call.

/** An error raised by casweb, with a stable machine-readable `code`. */
export class CaswebError extends Error {
  /**
   * @param {string} code stable error code, e.g. "invalid_key"
   * @param {string} message human-readable message (may be reworded between releases)
   */
  constructor(code, message) {
    super(message);
    this.name = "CaswebError";
    this.code = code;
  }
}

/** True if `value` is a CaswebError (also one from another copy of the package). */
export function isCaswebError(value) {
  return (
    value instanceof CaswebError ||
    (value instanceof Error && value.name === "CaswebError" && typeof value.code === "string")
  );
}
