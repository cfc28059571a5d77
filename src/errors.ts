// The one error base class of the client library. Every error a client call throws on
// purpose is a UtmpsError, RecordError included, with a stable errno-style `code` (callers
// branch on it, never on text), the numeric errno, the operation and the socket path, like
// Node's own system errors. A leaf module: record/ and client/ both build on it.

import { Errno, errnoName, isKnownErrno, type KnownErrno, STRERROR } from './errno.js';

/** Every `code` a UtmpsError can carry. Numbers the table does not name are 'UNKNOWN'. */
export type UtmpsErrorCode = 'ABORT_ERR' | KnownErrno | 'UNKNOWN';

/** The client operation that failed. 'build' is a record refused before anything was sent. */
export type UtmpsOp =
  | 'connect'
  | 'rewind'
  | 'getent'
  | 'getid'
  | 'getline'
  | 'putline'
  | 'getall'
  | 'append'
  | 'read'
  | 'close'
  | 'login'
  | 'logout'
  | 'build';

/**
 * What the daemons mean by a status, where strerror() would mislead: the rule that refused
 * a write (docs/CLIENT.md, "Permissions"), the rate limit behind EDQUOT, a follower dropped
 * for lagging behind (ENOBUFS).
 */
function meaning(code: UtmpsErrorCode, op: UtmpsOp): string | undefined {
  switch (code) {
    case 'EPERM':
      if (op === 'putline') {
        return 'Operation not permitted: utmp writes need root or the group the utmp daemon runs as (utmp)';
      }
      if (op === 'append' || op === 'login') {
        return (
          'Operation not permitted: a wtmp record from a user other than root must name ' +
          'that user in ut_user and be a login or logout of their own lines'
        );
      }
      return undefined;
    case 'EDQUOT':
      return 'write rate limit reached: writers other than root are rate-limited; retry later';
    case 'ENOBUFS':
      return 'the reader fell too far behind the new records and the server dropped it; read again';
    default:
      return undefined;
  }
}

const NOT_ERRNO = { ABORT_ERR: 'The operation was aborted', UNKNOWN: 'Unknown error' } as const;

/** glibc's strerror() text for a code, without the library's rule wording. */
export function strerror(code: UtmpsErrorCode): string {
  return isKnownErrno(code) ? STRERROR[code] : NOT_ERRNO[code];
}

/** The known code for a name, or 'UNKNOWN'. */
export function errorCode(name: string): UtmpsErrorCode {
  return isKnownErrno(name) || name === 'ABORT_ERR' ? name : 'UNKNOWN';
}

/** The code of a Linux errno number ('UNKNOWN' for numbers the table does not name). */
export function codeOfErrno(errno: number): UtmpsErrorCode {
  const name = errnoName(errno);
  return isKnownErrno(name) ? name : 'UNKNOWN';
}

export interface UtmpsErrorOptions {
  errno?: number;
  /** The reason alone; defaults to the rule or strerror text for the code. */
  reason?: string;
  /** The whole message, when the `op via path: reason` form does not fit. */
  message?: string;
  cause?: unknown;
}

export class UtmpsError extends Error {
  /**
   * errno name ('EPERM', 'ESRCH', 'ETIMEDOUT', ...), or 'ABORT_ERR' when the caller's signal
   * aborted (then `name` is 'AbortError', as for Node's own aborts).
   */
  readonly code: UtmpsErrorCode;
  /** Positive Linux errno; ECANCELED for ABORT_ERR. */
  readonly errno: number;
  readonly op: UtmpsOp;
  readonly path?: string;
  /** The reason alone, without op and path ('Operation not permitted'). */
  readonly reason: string;

  constructor(code: UtmpsErrorCode, op: UtmpsOp, path?: string, options: UtmpsErrorOptions = {}) {
    const reason = options.reason ?? meaning(code, op) ?? strerror(code) ?? code;
    super(options.message ?? (path === undefined ? `${op}: ${reason}` : `${op} via ${path}: ${reason}`), { cause: options.cause });
    this.name = code === 'ABORT_ERR' ? 'AbortError' : 'UtmpsError';
    this.code = code;
    this.errno = options.errno ?? (isKnownErrno(code) ? Errno[code] : code === 'ABORT_ERR' ? Errno.ECANCELED : 0);
    this.op = op;
    this.path = path;
    this.reason = reason;
  }
}
