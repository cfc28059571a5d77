// The one errno table: name <-> number (Linux, the host's own table: the wire carries raw
// Linux errnos, PROTOCOL.md section 2) and glibc's strerror() wording. A leaf module: the
// record, protocol, store, sys and client layers all build on it.

import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

// Linux errnos the server sends that Node's table leaves out (os.constants.errno has no EUSERS).
const MISSING_FROM_NODE: Readonly<Record<string, number>> = { EUSERS: 87 };
const BY_NAME: Readonly<Record<string, number>> = { ...MISSING_FROM_NODE, ...constants.errno };
// Aliases share a number (EWOULDBLOCK = EAGAIN, EOPNOTSUPP = ENOTSUP); the table lists the
// usual name first, so keep the first name seen for each number, as libuv and Node's own
// util.getSystemErrorName do.
const BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.entries(BY_NAME)
    .reverse()
    .map(([name, n]) => [n, name]),
);


/** The name of a Linux errno ('EAGAIN' for 11); `E<n>` (or `unknown`) for numbers with none. */
export function errnoName(errno: number, unknown = `E${errno}`): string {
  return BY_NUMBER.get(errno) ?? unknown;
}

export function errnoNumber(name: string): number | undefined {
  return Object.hasOwn(BY_NAME, name) ? BY_NAME[name] : undefined;
}

/** The errno carried by a thrown value (Node system errors carry a negative or positive errno, or only a code). */
export function errnoOf(error: unknown, fallback: number = Errno.EIO): number {
  const e = error as { errno?: unknown; code?: unknown } | null;
  if (e && typeof e.errno === 'number' && e.errno !== 0) return Math.abs(e.errno);
  if (e && typeof e.code === 'string' && errnoNumber(e.code) !== undefined) return BY_NAME[e.code];
  return fallback;
}

// glibc's strerror() wording for the errnos this project meets, so messages read like the C
// tools' (util.getSystemErrorMessage only exists from Node 22.12; libuv words them its own way).
export const STRERROR = {
  EACCES: 'Permission denied',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EAGAIN: 'Resource temporarily unavailable',
  EBADF: 'Bad file descriptor',
  EBUSY: 'Device or resource busy',
  ECANCELED: 'Operation canceled',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EDQUOT: 'Disk quota exceeded',
  EEXIST: 'File exists',
  EFBIG: 'File too large',
  EINTR: 'Interrupted system call',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  ENAMETOOLONG: 'File name too long',
  ENFILE: 'Too many open files in system',
  ENOBUFS: 'No buffer space available',
  ENOENT: 'No such file or directory',
  ENOLCK: 'No locks available',
  ENOMEM: 'Cannot allocate memory',
  ENOSPC: 'No space left on device',
  ENOSYS: 'Function not implemented',
  ENOTCONN: 'Transport endpoint is not connected',
  ENOTDIR: 'Not a directory',
  ENOTSOCK: 'Socket operation on non-socket',
  EOVERFLOW: 'Value too large for defined data type',
  EPERM: 'Operation not permitted',
  EPIPE: 'Broken pipe',
  EPROTO: 'Protocol error',
  EROFS: 'Read-only file system',
  ESRCH: 'No such process',
  ETIMEDOUT: 'Connection timed out',
  EUSERS: 'Too many users',
} as const;

export type KnownErrno = keyof typeof STRERROR;

/** Every errno the host names, by name; OK (0) is a success status on the wire. */
export const Errno = Object.freeze({ OK: 0, ...BY_NAME }) as {
  readonly OK: 0;
} & { readonly [name in KnownErrno | keyof typeof constants.errno]: number };

export function isKnownErrno(name: string): name is KnownErrno {
  return Object.hasOwn(STRERROR, name);
}

/** strerror() of an errno name or number: glibc's words where known, else libuv's, else the name. */
export function strerror(errno: number | string): string {
  const name = typeof errno === 'number' ? errnoName(errno) : errno;
  if (isKnownErrno(name)) return STRERROR[name];
  const n = typeof errno === 'number' ? errno : errnoNumber(name);
  const uv = n === undefined ? undefined : getSystemErrorMap().get(-n)?.[1];
  return uv === undefined ? name : uv.charAt(0).toUpperCase() + uv.slice(1);
}
