// Client errors carry a stable errno-style `code` (callers branch on it, never on text),
// the numeric errno, the operation and the socket path, like Node's own system errors.

import { constants } from 'node:os';

// glibc's strerror() wording for the errnos a client meets, so messages read like the C
// tools' (util.getSystemErrorMessage only exists from Node 22.12).
const REASONS: Readonly<Record<string, string>> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  ESRCH: 'No such process',
  EIO: 'Input/output error',
  EBADF: 'Bad file descriptor',
  EAGAIN: 'Resource temporarily unavailable',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EPIPE: 'Broken pipe',
  ENOLCK: 'No locks available',
  ENOSYS: 'Function not implemented',
  EPROTO: 'Protocol error',
  EOVERFLOW: 'Value too large for defined data type',
  EUSERS: 'Too many users',
  ENOTSOCK: 'Socket operation on non-socket',
  ECONNRESET: 'Connection reset by peer',
  ETIMEDOUT: 'Connection timed out',
  ECONNREFUSED: 'Connection refused',
  ECANCELED: 'Operation canceled',
  ABORT_ERR: 'The operation was aborted',
};

const ERRNO: Readonly<Record<string, number>> = constants.errno;

export class UtmpsError extends Error {
  /** errno name ('EPERM', 'ESRCH', 'ETIMEDOUT', ...), or 'ABORT_ERR' when a signal aborted. */
  readonly code: string;
  /** Positive Linux errno; ECANCELED for ABORT_ERR. */
  readonly errno: number;
  /** The client operation: 'connect', 'rewind', 'getent', 'getid', 'getline', 'putline', 'getall', 'append'. */
  readonly op: string;
  readonly path?: string;
  /** The reason alone, without op and path ('Operation not permitted'). */
  readonly reason: string;

  constructor(code: string, op: string, path?: string, options: { errno?: number; reason?: string; cause?: unknown } = {}) {
    const reason = options.reason ?? REASONS[code] ?? code;
    super(path === undefined ? `${op}: ${reason}` : `${op} via ${path}: ${reason}`, { cause: options.cause });
    this.name = 'UtmpsError';
    this.code = code;
    this.errno = options.errno ?? ERRNO[code] ?? (code === 'ABORT_ERR' ? ERRNO.ECANCELED : 0);
    this.op = op;
    this.path = path;
    this.reason = reason;
  }
}

/** A non-zero status byte from the server: a raw Linux errno (PROTOCOL.md section 2). */
export function statusError(status: number, op: string, path: string): UtmpsError {
  const name = Object.keys(ERRNO).find((k) => ERRNO[k] === status) ?? `E${status}`;
  return new UtmpsError(name, op, path, { errno: status });
}

/** A Node socket error (ECONNREFUSED, ENOENT, EPIPE...). */
export function systemError(error: unknown, op: string, path: string): UtmpsError {
  const e = error as { code?: unknown; errno?: unknown };
  const code = typeof e?.code === 'string' && e.code in ERRNO ? e.code : 'EIO';
  const errno = typeof e?.errno === 'number' && e.errno !== 0 ? Math.abs(e.errno) : undefined;
  return new UtmpsError(code, op, path, { errno, cause: error });
}

/** An aborted signal: ETIMEDOUT for a deadline (a TimeoutError reason), ABORT_ERR otherwise. */
export function abortError(reason: unknown, op: string, path: string): UtmpsError {
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError';
  return new UtmpsError(timedOut ? 'ETIMEDOUT' : 'ABORT_ERR', op, path, { cause: reason });
}
