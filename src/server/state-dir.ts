// Privileged start-up in a directory the service account owns. After the first start the
// state directory belongs to that account, so on the next start as root every name in it
// may be swapped for a symbolic link at any moment. Nothing privileged is done by path
// there: the directory and the files are checked and changed through descriptors opened
// without following links (docs/SECURITY.md).

import { closeSync, constants, fchownSync, fstatSync, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;

/** A state directory, or an opened file, that utmpsd refuses to work with as it is. */
export class UnsafePathError extends Error {
  readonly code = 'EUNSAFE';
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

function ownerIsTrusted(uid: number, trusted: readonly number[]): boolean {
  return trusted.includes(uid);
}

/** Who may own what: root and ourselves always; the service account only the state directory. */
export interface Trust {
  euid: number;
  /** The --user account, if any. */
  serviceUid?: number;
}

const trustedOwners = (t: Trust): number[] => [0, t.euid, ...(t.serviceUid === undefined ? [] : [t.serviceUid])];

/**
 * Opens the state directory (creating it 0755 whatever the umask, so every user can reach
 * the sockets) and refuses one that is a symbolic link, that group or others can write,
 * or that belongs to anyone but root, ourselves or the service account; and, as root, one
 * whose parent someone else could write (they could swap the whole directory). Returns the open
 * descriptor, for fchown. `warn` hears about a directory others cannot search.
 */
export function openStateDir(path: string, trust: Trust, warn: (m: string) => void = () => {}, create = true): number {
  let fd: number;
  try {
    fd = openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // With O_DIRECTORY, Linux reports a symbolic link as ENOTDIR rather than ELOOP.
    if (err.code === 'ELOOP' || (err.code === 'ENOTDIR' && isLink(path))) {
      throw new UnsafePathError(`state directory ${path} is a symbolic link, which is never followed`);
    }
    if (err.code === 'ENOTDIR') throw new UnsafePathError(`state directory ${path} is not a directory`);
    if (err.code !== 'ENOENT' || !create) throw e;
    // A fixed umask for the moment: recursive mkdir gives every directory it makes 0755.
    const old = process.umask(0o022);
    try {
      mkdirSync(path, { recursive: true, mode: 0o755 });
    } finally {
      process.umask(old);
    }
    return openStateDir(path, trust, warn, false);
  }
  try {
    checkStateDir(path, fstatSync(fd), trustedOwners(trust), warn);
    // As root only: for anyone else a swapped directory can reach nothing they could not.
    if (trust.euid === 0) checkParent(path, [0]);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

function checkStateDir(path: string, st: Stats, trusted: readonly number[], warn: (m: string) => void): void {
  if (!st.isDirectory()) throw new UnsafePathError(`state directory ${path} is not a directory`);
  if (!ownerIsTrusted(st.uid, trusted)) {
    throw new UnsafePathError(
      `state directory ${path} belongs to uid ${st.uid}, not to root or the service account: ` +
        'whoever owns it can swap the files and sockets in it; chown it back to root',
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafePathError(
      `state directory ${path} is writable by group or others (mode ${octal(st.mode)}): ` +
        'they could swap the files and sockets in it; chmod 0755 it',
    );
  }
  if ((st.mode & 0o005) !== 0o005) {
    warn(`state directory ${path} is mode ${octal(st.mode)}: other users cannot reach the sockets in it (0755 lets them)`);
  }
}

/**
 * Whoever can write the parent can rename the state directory and put a link in its place,
 * and the files are opened by path under it: the parent must belong to root, and be
 * writable by others only with the sticky bit (like /tmp).
 */
function checkParent(path: string, trusted: readonly number[]): void {
  const parent = dirname(path);
  if (parent === path) return;
  const fd = openSync(parent, O_RDONLY | O_DIRECTORY);
  try {
    const st = fstatSync(fd);
    if (!ownerIsTrusted(st.uid, trusted)) {
      throw new UnsafePathError(`the parent of state directory ${path} belongs to uid ${st.uid}: it could replace the state directory`);
    }
    if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
      throw new UnsafePathError(
        `the parent of state directory ${path} is writable by group or others without the sticky bit (mode ${octal(st.mode)}): ` +
          'they could replace the state directory',
      );
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses an opened database file that is not what utmpsd would have created: anything
 * but a regular file, a file with other hard links (it may be someone else's file linked
 * in), or a file owned by an untrusted uid.
 */
export function checkOpenedFile(path: string, fd: number, trust: Trust): void {
  const trusted = trustedOwners(trust);
  const st = fstatSync(fd);
  if (!st.isFile()) throw new UnsafePathError(`${path} is not a regular file`);
  if (st.nlink === 0) throw new UnsafePathError(`${path} was removed while utmpsd opened it; refusing to use it`);
  if (st.nlink !== 1) {
    throw new UnsafePathError(`${path} has ${st.nlink} hard links: it may be another file linked in; refusing to use it`);
  }
  if (!ownerIsTrusted(st.uid, trusted)) {
    throw new UnsafePathError(`${path} belongs to uid ${st.uid}, not to root or the service account; refusing to use it`);
  }
}

/** Gives open descriptors to the service account: never by path, so never through a link. */
export function handOverFds(fds: readonly number[], uid: number, gid: number): void {
  for (const fd of fds) fchownSync(fd, uid, gid);
}
