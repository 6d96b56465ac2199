/** Errors of the end-to-end tooling. Tests check `code`, never the message text. */

export type ToolErrorCode =
  /** A binary the test needs is not on PATH (only thrown when `DF_E2E_REQUIRED=1`). */
  | 'DF_E2E_TOOL_MISSING'
  /** The test needs root and does not run as root (only thrown when `DF_E2E_REQUIRED=1`). */
  | 'DF_E2E_NOT_ROOT'
  /** A tool exited non-zero where success was required. */
  | 'DF_E2E_TOOL_FAILED'
  /** A tool ran past its time limit and was killed. */
  | 'DF_E2E_TOOL_TIMEOUT'
  /** A long-running tool (registry, containerd) did not become ready. */
  | 'DF_E2E_START_FAILED'
  /** A tool wrote something we could not understand (index.json, manifest, ctr listing). */
  | 'DF_E2E_BAD_OUTPUT'
  /** A helper was called with a bad argument. */
  | 'DF_E2E_BAD_ARGUMENT';

export class ToolError extends Error {
  readonly code: ToolErrorCode;
  constructor(code: ToolErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ToolError';
  }
}

/** Throws DF_E2E_BAD_ARGUMENT naming `what` when `ok` is false. */
export function check(ok: boolean, what: string): asserts ok {
  if (!ok) throw new ToolError('DF_E2E_BAD_ARGUMENT', what);
}
