// Status bytes are raw Linux errno values (PROTOCOL.md section 2). The host's own table is
// the right one on Linux, the only platform the wire format is defined for.

import { constants } from 'node:os';

const BY_NAME: Readonly<Record<string, number>> = constants.errno;
// Aliases share a number (EWOULDBLOCK = EAGAIN, EOPNOTSUPP = ENOTSUP); the table lists the
// usual name first, so keep the first name seen for each number, as Node's own
// util.getSystemErrorName does.
const BY_NUMBER: ReadonlyMap<number, string> = new Map(
  Object.entries(BY_NAME)
    .reverse()
    .map(([name, n]) => [n, name]),
);

export const Errno = {
  OK: 0,
  EPERM: BY_NAME.EPERM,
  ESRCH: BY_NAME.ESRCH,
  EIO: BY_NAME.EIO,
  EAGAIN: BY_NAME.EAGAIN,
  EACCES: BY_NAME.EACCES,
  EINVAL: BY_NAME.EINVAL,
  ENOSPC: BY_NAME.ENOSPC,
  EPIPE: BY_NAME.EPIPE,
  ENOLCK: BY_NAME.ENOLCK,
  ENOSYS: BY_NAME.ENOSYS,
  EPROTO: BY_NAME.EPROTO,
  EOVERFLOW: BY_NAME.EOVERFLOW,
  ECONNRESET: BY_NAME.ECONNRESET,
  ETIMEDOUT: BY_NAME.ETIMEDOUT,
  EUSERS: BY_NAME.EUSERS,
  EBUSY: BY_NAME.EBUSY,
  EDQUOT: BY_NAME.EDQUOT,
  ENOBUFS: BY_NAME.ENOBUFS,
} as const;

export function errnoName(errno: number): string {
  return BY_NUMBER.get(errno) ?? `E${errno}`;
}

export function errnoNumber(name: string): number | undefined {
  return BY_NAME[name];
}

/** The errno carried by a thrown value (Node system errors carry a negative or positive errno, or only a code). */
export function errnoOf(error: unknown, fallback: number = Errno.EIO): number {
  const e = error as { errno?: unknown; code?: unknown } | null;
  if (e && typeof e.errno === 'number' && e.errno !== 0) return Math.abs(e.errno);
  if (e && typeof e.code === 'string' && BY_NAME[e.code] !== undefined) return BY_NAME[e.code];
  return fallback;
}
