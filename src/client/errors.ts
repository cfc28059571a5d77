// Turning what goes wrong on a connection into UtmpsError (the class lives in ../errors.ts,
// shared with RecordError).

import { codeOfErrno, errorCode, type UtmpsOp, UtmpsError } from '../errors.js';

export { UtmpsError, type UtmpsErrorCode, type UtmpsOp } from '../errors.js';

/** A non-zero status byte from the server: a raw Linux errno (PROTOCOL.md section 2). */
export function statusError(status: number, op: UtmpsOp, path: string): UtmpsError {
  return new UtmpsError(codeOfErrno(status), op, path, { errno: status });
}

/** A Node socket error (ECONNREFUSED, ENOENT, EPIPE...). */
export function systemError(error: unknown, op: UtmpsOp, path: string): UtmpsError {
  const e = error as { code?: unknown; errno?: unknown };
  const code = typeof e?.code === 'string' ? errorCode(e.code) : 'EIO';
  const errno = typeof e?.errno === 'number' && e.errno !== 0 ? Math.abs(e.errno) : undefined;
  return new UtmpsError(code, op, path, { errno, cause: error });
}

/** The reason our own deadlines abort with; its message says how long the deadline was. */
export function deadlineReason(ms: number): DOMException {
  return new DOMException(`the deadline of ${ms} ms passed`, 'TimeoutError');
}

/**
 * An aborted signal: ETIMEDOUT for a deadline (a TimeoutError reason, ours or the caller's
 * AbortSignal.timeout), ABORT_ERR named AbortError otherwise.
 */
export function abortError(reason: unknown, op: UtmpsOp, path: string): UtmpsError {
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  if (!timedOut) return new UtmpsError('ABORT_ERR', op, path, { cause: reason });
  const ours = reason.message.startsWith('the deadline of ');
  return new UtmpsError('ETIMEDOUT', op, path, { cause: reason, reason: ours ? reason.message : "the caller's deadline passed (its AbortSignal timed out)" });
}
