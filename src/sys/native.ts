// The only door to the native addon (native/utmps_sys.c): peer credentials, open file
// description locks and NSS passwd lookups. The addon returns -errno; this module turns
// that into SysError, so callers branch on `code` like they do for Node's own errors.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Errno, errnoName, strerror } from '../errno.js';

// ---- errors ----

const { EACCES, EAGAIN, ENOTSOCK, ETIMEDOUT } = Errno;

/** The loaded addon; see native() below. */
let addon: Addon | undefined;

export class SysError extends Error {
  /** Like 'EAGAIN'; 'UNKNOWN' for numbers the platform does not name. */
  readonly code: string;
  /** The positive Linux errno. */
  readonly errno: number;
  /** The failed operation, like 'fcntl(F_OFD_SETLK)'. */
  readonly syscall: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const n = Math.abs(errno);
    super(`${syscall}: ${detail ?? strerror(n)}`);
    this.name = 'SysError';
    this.code = errnoName(n, 'UNKNOWN');
    this.errno = n;
    this.syscall = syscall;
  }
}

// ---- loading ----

interface RawPasswd {
  name: string;
  uid: number;
  gid: number;
  dir: string;
  shell: string;
}

/** What native/utmps_sys.c exports; numbers below 0 are -errno. */
interface Addon {
  isUnixSocket(fd: number): number;
  peerCredentials(fd: number): PeerCredentials | number;
  setLock(fd: number, op: LockOp): number;
  pollHangup(fd: number): number;
  getpwnam(name: string): RawPasswd | null | number;
  getpwnamAsync(name: string): Promise<RawPasswd | null | number>;
  getpwuid(uid: number): RawPasswd | null | number;
  getpwuidAsync(uid: number): Promise<RawPasswd | null | number>;
  notifyDatagram(path: string, data: Buffer): number;
  sendDatagramNowait(path: string, data: Buffer): number;
  pidfdOpen(pid: number): number;
  pidWatchStart(): number;
  pidWatchAdd(fd: number, token: number): number;
  pidWatchRemove(fd: number): number;
}

/** Argument of setLock; the C side maps it to F_RDLCK/F_WRLCK/F_UNLCK. */
const LOCK_OP = { read: 0, write: 1, unlock: 2 } as const;
type LockOp = (typeof LOCK_OP)[keyof typeof LOCK_OP];

const PACKAGE_NAME = 'utmps-ts';

/** Walks up from this module to the package.json named utmps-ts (dist/src/sys -> root). */
function packageRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (typeof pkg === 'object' && pkg !== null && (pkg as { name?: unknown }).name === PACKAGE_NAME) {
        return dir;
      }
    } catch {
      // no or unreadable package.json here: keep walking
    }
    if (dirname(dir) === dir) return join(here, '..', '..', '..');
  }
}

/** How to build the addon, for every message that says it is missing. */
function buildAdvice(root: string): string {
  return (
    `build it with \`npm rebuild utmps-ts\` (or \`npx node-gyp rebuild\` in ${root}); ` +
    'that needs a C compiler, make and python3 (Debian: apt-get install build-essential python3)'
  );
}

// Loaded on first use, so modules that only import types, and the client library, never
// need the build: the addon is optional at install time.
function native(): Addon {
  if (addon === undefined) {
    const root = packageRoot();
    const path = join(root, 'build', 'Release', 'utmps_sys.node');
    try {
      addon = createRequire(import.meta.url)(path) as Addon;
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new Error(`the native part of utmps-ts is missing or unloadable (${why}); ${buildAdvice(root)}`, { cause: err });
    }
  }
  return addon;
}

/**
 * Loads the addon now; the error's message (what is missing, how to build it) when it
 * cannot be loaded. The daemons call this first, so a missing build is said at start.
 */
export function nativeProblem(): string | undefined {
  try {
    native();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

// ---- argument checks ----

function checkFd(fd: number): void {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new TypeError(`not a file descriptor: ${String(fd)}`);
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string') throw new TypeError('user name must be a string');
  if (name.includes('\0')) throw new TypeError('user name contains a NUL character');
}

function checkUid(uid: number): void {
  if (!Number.isInteger(uid) || uid < 0 || uid > 0xffffffff) {
    throw new TypeError(`not a uid: ${String(uid)}`);
  }
}

// ---- sockets ----

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
  /** Supplementary groups (SO_PEERGROUPS); null on kernels before 4.13. */
  groups: number[] | null;
}

/**
 * SO_PEERCRED (+ SO_PEERGROUPS) of a connected AF_UNIX socket. Throws SysError:
 * ENOTSOCK for a non-socket, EAFNOSUPPORT for another family (whose SO_PEERCRED
 * answer would be made up), ENOTCONN when there is no peer.
 */
export function peerCredentials(fd: number): PeerCredentials {
  checkFd(fd);
  const r = native().peerCredentials(fd);
  if (typeof r === 'number') throw new SysError('getsockopt(SO_PEERCRED)', r);
  return r;
}

/** True iff fd is a socket of family AF_UNIX; throws SysError for a bad fd. */
export function isUnixSocket(fd: number): boolean {
  checkFd(fd);
  const r = native().isUnixSocket(fd);
  if (r === -ENOTSOCK) return false;
  if (r < 0) throw new SysError('getsockopt(SO_DOMAIN)', r);
  return r === 1;
}

/** The fd behind a connected net.Socket (Node keeps it on the libuv handle). */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error('socket has no file descriptor (closed, or not backed by a file descriptor)');
  }
  return fd;
}

/** poll(2) bits as Linux numbers them (the same on every architecture we target). */
const POLLERR = 0x8;
const POLLHUP = 0x10;

/**
 * Has the other end gone for good? A Unix stream socket answers true once its peer closed
 * both directions (POLLHUP); a peer that only shut down its writing side is still there
 * to read answers. A pipe's write end answers true once nobody can read it (POLLERR).
 */
export function hungUp(fd: number): boolean {
  checkFd(fd);
  const r = native().pollHangup(fd);
  if (r < 0) throw new SysError('poll', r);
  return (r & (POLLHUP | POLLERR)) !== 0;
}

// ---- locks ----

export type LockKind = 'read' | 'write';

function lockOp(kind: LockKind): LockOp {
  if (kind === 'read' || kind === 'write') return LOCK_OP[kind];
  throw new TypeError(`lock kind must be 'read' or 'write', got ${String(kind)}`);
}

/**
 * One F_OFD_SETLK on the whole file. False when another open file description holds a
 * conflicting lock (classic POSIX locks of other processes included).
 */
export function tryLock(fd: number, kind: LockKind): boolean {
  checkFd(fd);
  const r = native().setLock(fd, lockOp(kind));
  if (r === 0) return true;
  if (r === -EAGAIN || r === -EACCES) return false;
  throw new SysError('fcntl(F_OFD_SETLK)', r);
}

export function unlock(fd: number): void {
  checkFd(fd);
  const r = native().setLock(fd, LOCK_OP.unlock);
  if (r !== 0) throw new SysError('fcntl(F_OFD_SETLK)', r);
}

const LOCK_FIRST_DELAY_MS = 1;
const LOCK_MAX_DELAY_MS = 25;

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Takes a whole-file lock, waiting at most timeoutMs. F_OFD_SETLKW would block the event
 * loop, so this polls F_OFD_SETLK with growing delays (1 ms doubling to 25 ms). Rejects
 * with SysError ETIMEDOUT on timeout, or with the signal's reason when it aborts.
 */
export async function lock(
  fd: number,
  kind: LockKind,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const { timeoutMs, signal } = options;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new TypeError(`timeoutMs must be a finite number >= 0, got ${String(timeoutMs)}`);
  }
  signal?.throwIfAborted();
  const deadline = performance.now() + timeoutMs;
  let delay = LOCK_FIRST_DELAY_MS;
  while (!tryLock(fd, kind)) {
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new SysError(
        'fcntl(F_OFD_SETLKW)',
        ETIMEDOUT,
        `file is locked by another process (gave up after ${timeoutMs} ms)`,
      );
    }
    await sleep(Math.min(delay, left), signal);
    delay = Math.min(delay * 2, LOCK_MAX_DELAY_MS);
  }
}

// ---- users ----

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  dir: string;
  shell: string;
}

function passwdResult(r: RawPasswd | null | number, syscall: string): PasswdEntry | null {
  if (typeof r === 'number') throw new SysError(syscall, r);
  return r;
}

/** getpwnam_r through NSS on the libuv thread pool; null when there is no such user. */
export async function lookupUserByName(name: string): Promise<PasswdEntry | null> {
  checkName(name);
  return passwdResult(await native().getpwnamAsync(name), 'getpwnam_r');
}

/** Same as lookupUserByName, blocking: for one-shot command-line tools. */
export function lookupUserByNameSync(name: string): PasswdEntry | null {
  checkName(name);
  return passwdResult(native().getpwnam(name), 'getpwnam_r');
}

/** getpwuid_r, blocking; null when no user has this uid. */
export function lookupUserByUid(uid: number): PasswdEntry | null {
  checkUid(uid);
  return passwdResult(native().getpwuid(uid), 'getpwuid_r');
}

/** getpwuid_r through NSS on the libuv thread pool; null when no user has this uid. */
export async function lookupUserByUidAsync(uid: number): Promise<PasswdEntry | null> {
  checkUid(uid);
  return passwdResult(await native().getpwuidAsync(uid), 'getpwuid_r');
}

/** Sends one datagram to a Unix datagram socket (sd_notify's NOTIFY_SOCKET; '@' = abstract). */
export function sendNotify(path: string, message: string): void {
  sendDatagram(path, Buffer.from(message));
}

/**
 * One datagram to an AF_UNIX datagram socket (/dev/log, journald's socket). By default it
 * blocks while the receiver's queue is full; with `wait: false` that is EAGAIN instead.
 */
export function sendDatagram(path: string, data: Buffer, options: { wait?: boolean } = {}): void {
  const r = options.wait === false ? native().sendDatagramNowait(path, data) : native().notifyDatagram(path, data);
  if (r < 0) throw new SysError('sendto', r);
}

// ---- process exit watch (utmpsd's reaper) ----

/** A pidfd for pid (readable once it exits); SysError ENOSYS before Linux 5.3, ESRCH when gone. */
export function pidfdOpen(pid: number): number {
  const r = native().pidfdOpen(pid);
  if (r < 0) throw new SysError('pidfd_open', r);
  return r;
}

/**
 * Starts the one exit watcher of this process: returns the read end of a pipe that
 * carries a 32-bit token (host order) for each watched process that exits.
 */
export function startPidWatch(): number {
  const r = native().pidWatchStart();
  if (r < 0) throw new SysError('pidWatchStart', r);
  return r;
}

/** Reports token through the pipe once the pidfd's process exits (once only). */
export function addPidWatch(pidfd: number, token: number): void {
  const r = native().pidWatchAdd(pidfd, token >>> 0);
  if (r < 0) throw new SysError('epoll_ctl(EPOLL_CTL_ADD)', r);
}

/** Stops watching a pidfd (before closing it). */
export function removePidWatch(pidfd: number): void {
  const r = native().pidWatchRemove(pidfd);
  if (r < 0) throw new SysError('epoll_ctl(EPOLL_CTL_DEL)', r);
}
