// The POSIX/GNU utmpx functions over one implicit utmpd session, as libutmps offers them
// (PROTOCOL.md section 7), but async and throwing UtmpsError instead of setting errno.
//
// Differences from C, on purpose:
// - utmpxname(path) selects another utmpd socket (libutmps answers ENOSYS).
// - updwtmpx(file, ut): a file named btmp (any directory) goes to the btmpd socket, any
//   other to wtmpd, which decides the file. libutmps ignores `file` and always writes wtmp.
// - getutxid sends only type and id, as the protocol does: a `line` in the query is unused.
// - Text too long for its field is a RecordError, where glibc's strncpy would cut it.
// - After a transport error the implicit session is dropped; the next call reconnects
//   with a fresh cursor, as after endutxent.

import { readlink } from 'node:fs/promises';
import { isatty } from 'node:tty';
import { buildRecord, type EntryInput, FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from '../record/index.js';
import { withDeadline } from './connection.js';
import { abortError, type UtmpsOp, UtmpsError } from './errors.js';
import { utmpdSocketPath } from './paths.js';
import { nowTimeval } from '../record/time.js';
import type { CallOptions, RecordInput, UtmpRecord } from './types.js';
import { UtmpSession } from './utmp-session.js';
import { appendBtmp } from './btmp.js';
import { appendWtmp } from './wtmp.js';

export interface UtmpxOptions {
  /** utmpd socket; default: $UTMPS_UTMPD_SOCKET, then /run/utmps/.utmpd-socket. */
  utmpdPath?: string;
  /** wtmpd socket; default: $UTMPS_WTMPD_SOCKET, then /run/utmps/.wtmpd-socket. */
  wtmpdPath?: string;
  /** btmpd socket, for updwtmpx on a btmp file; default: $UTMPS_BTMPD_SOCKET, then /run/utmps/.btmpd-socket. */
  btmpdPath?: string;
  /** Deadline of each call in ms (default 10000; 0: none); a call's own timeoutMs wins. */
  timeoutMs?: number;
}

export interface IdQuery {
  type: number | string;
  id?: string | Uint8Array;
  line?: string | Uint8Array;
}

/**
 * A login record. type is USER_PROCESS; pid defaults to this process (a terminal server
 * passes its child's); line defaults to the controlling terminal.
 *
 * `id` is the utmp slot key: utmp holds one record per id, and writing a record replaces
 * the one with the same id. When unset it is idFromLine(line), the LAST 4 BYTES of the
 * line, so lines such as 'web/10012' and 'web/20012' share the id '0012'. login() refuses
 * (EEXIST) to replace another line's live session, but two logins racing for one id can
 * still collide: a program that makes up its own line names should choose ids that are
 * unique among its live sessions (e.g. a counter: 'w' + n.toString(36)).
 */
export type LoginInput = Omit<EntryInput, 'type'> & { type?: EntryInput['type'] };

/** logwtmp's options: a call's deadline and signal, and the pid to record (default: this process). */
export interface LogwtmpOptions extends CallOptions {
  pid?: number;
}

/**
 * Every function takes per-call options last: `signal` aborts the call (AbortError,
 * code ABORT_ERR), `timeoutMs` is its deadline (ETIMEDOUT; default the facade's).
 */
export interface Utmpx {
  setutxent(options?: CallOptions): Promise<void>;
  /** The next record, or null at the end of the file. */
  getutxent(options?: CallOptions): Promise<UtmpRecord | null>;
  getutxid(ut: IdQuery, options?: CallOptions): Promise<UtmpRecord | null>;
  getutxline(ut: { line: string | Uint8Array } | string, options?: CallOptions): Promise<UtmpRecord | null>;
  /**
   * Writes the record; returns it as written (POSIX returns a copy of the struct). The
   * server replaces the record with the same id (see LoginInput): no collision check here.
   */
  pututxline(ut: RecordInput, options?: CallOptions): Promise<UtmpRecord>;
  endutxent(): Promise<void>;
  /** Selects another utmpd socket and ends the current session; '' restores the default. */
  utmpxname(path: string): Promise<void>;
  /** `file` only chooses the service: btmp (its basename) or wtmp; libutmps ignores it. */
  updwtmpx(file: string | null | undefined, ut: RecordInput, options?: CallOptions): Promise<void>;
  /** A wtmp login (name given) or logout (name ''); pid from options, else this process. */
  logwtmp(line: string, name: string, host: string, options?: LogwtmpOptions): Promise<void>;
  /**
   * Records a login in utmp (when there is a line) and wtmp, under one deadline. Throws
   * EEXIST, writing nothing, when the id is held by a live session on another line.
   */
  login(ut: LoginInput, options?: CallOptions): Promise<void>;
  /** Marks the USER_PROCESS record of `line` dead; false when there is none. */
  logout(line: string, options?: CallOptions): Promise<boolean>;
}

/**
 * ut_id for a line, when login() is given none: drop '/dev/' and a leading 'tty', then keep
 * the last 4 bytes ('tty1' -> '1', 'pts/12' -> 's/12'), as OpenSSH and the vectors do.
 * Different lines can share an id ('pts/1012' and 'pts/2012' -> '1012', '012' after 'tty'):
 * see LoginInput.
 */
export function idFromLine(line: string): string {
  let name = line.startsWith('/dev/') ? line.slice(5) : line;
  if (name.startsWith('tty')) name = name.slice(3);
  const bytes = Buffer.from(name, 'utf8');
  return bytes.subarray(Math.max(0, bytes.length - FIELD_SIZE.id)).toString('utf8');
}

/** The controlling terminal of stdin, stdout or stderr without '/dev/', as glibc's login() looks it up. */
async function terminalLine(): Promise<string | undefined> {
  for (const fd of [0, 1, 2]) {
    if (!isatty(fd)) continue;
    try {
      const target = await readlink(`/proc/self/fd/${fd}`);
      if (target.startsWith('/dev/')) return target.slice(5);
    } catch {
      // no /proc: try the next descriptor
    }
  }
  return undefined;
}

/** Waits for promise, giving up (without cancelling it) when signal aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, op: UtmpsOp, path: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError(signal.reason, op, path));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal.reason, op, path));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A file whose last path component is btmp (/var/log/btmp, /var/log/btmp.1 is not). */
function isBtmp(file: string | null | undefined): boolean {
  return typeof file === 'string' && file.replace(/\/+$/, '').split('/').pop() === 'btmp';
}

export function createUtmpx(options: UtmpxOptions = {}): Utmpx {
  let utmpdPath = options.utmpdPath;
  const { wtmpdPath, btmpdPath, timeoutMs } = options;
  let session: Promise<UtmpSession> | undefined;

  const connect = (signal?: AbortSignal): Promise<UtmpSession> =>
    UtmpSession.connect({ path: utmpdSocketPath(utmpdPath), timeoutMs, signal });

  // One deadline per call, from the call's options or the facade's default.
  const bounded = <T>(call: CallOptions | undefined, fn: (each: CallOptions) => Promise<T>): Promise<T> =>
    withDeadline({ signal: call?.signal, timeoutMs: call?.timeoutMs ?? timeoutMs }, (signal) => fn({ signal, timeoutMs: 0 }));

  // The implicit session, connected on first use and again after it died. The connect is
  // shared by concurrent first calls, so one caller's abort only stops its own wait.
  async function current(each: CallOptions): Promise<UtmpSession> {
    for (;;) {
      const pending = session;
      if (!pending) {
        const fresh = connect();
        session = fresh;
        fresh.catch(() => {
          if (session === fresh) session = undefined;
        });
        return untilAborted(fresh, each.signal!, 'connect', utmpdSocketPath(utmpdPath));
      }
      const s = await untilAborted(
        pending.catch(() => undefined),
        each.signal!,
        'connect',
        utmpdSocketPath(utmpdPath),
      );
      if (session !== pending) continue; // replaced meanwhile by another call
      if (s && !s.closed) return s;
      session = undefined;
    }
  }

  const onSession = <T>(call: CallOptions | undefined, fn: (s: UtmpSession, each: CallOptions) => Promise<T>): Promise<T> =>
    bounded(call, async (each) => fn(await current(each), each));

  async function endutxent(): Promise<void> {
    const s = session;
    session = undefined;
    (await s?.catch(() => undefined))?.close();
  }

  // login() and logout() use a session of their own, leaving the caller's cursor alone.
  async function withOwnSession<T>(each: CallOptions, fn: (s: UtmpSession) => Promise<T>): Promise<T> {
    const s = await UtmpSession.connect({ path: utmpdSocketPath(utmpdPath), ...each });
    try {
      return await fn(s);
    } finally {
      s.close();
    }
  }

  const updwtmpx = (file: string | null | undefined, ut: RecordInput, call?: CallOptions): Promise<void> => {
    const each = { signal: call?.signal, timeoutMs: call?.timeoutMs ?? timeoutMs };
    // Login programs call updwtmpx(_PATH_BTMP, ut) for a failed login: keep it out of wtmp.
    return isBtmp(file) ? appendBtmp(ut, { ...each, path: btmpdPath }) : appendWtmp(ut, { ...each, path: wtmpdPath });
  };

  return {
    setutxent: (call) => onSession(call, (s, each) => s.rewind(each)),
    getutxent: (call) => onSession(call, (s, each) => s.next(each)),
    getutxid: (ut, call) => onSession(call, (s, each) => s.findId(ut.type, ut.id ?? '', each)),
    getutxline: (ut, call) => onSession(call, (s, each) => s.findLine(typeof ut === 'string' ? ut : ut.line, each)),
    pututxline: (ut, call) => onSession(call, (s, each) => s.put(ut, each)),
    endutxent,
    async utmpxname(path) {
      utmpdPath = path;
      await endutxent();
    },
    updwtmpx,
    // glibc: USER_PROCESS for a login, DEAD_PROCESS (empty name) for a logout.
    logwtmp: (line, name, host, call) =>
      updwtmpx(
        null,
        {
          type: name ? RecordType.USER_PROCESS : RecordType.DEAD_PROCESS,
          pid: call?.pid ?? process.pid,
          line,
          user: name,
          host,
          ...nowTimeval(),
        },
        call,
      ),
    login: (ut, call) =>
      bounded(call, async (each) => {
        const line = ut.line || (await terminalLine());
        const id = ut.id || (line ? idFromLine(line) : '');
        const record = buildRecord({
          ...ut,
          type: RecordType.USER_PROCESS,
          pid: ut.pid ?? process.pid,
          line: line ?? '???',
          id,
          ...(ut.tvSec === undefined ? nowTimeval() : {}),
        });
        // glibc: without a terminal there is no utmp slot to fill, only the wtmp entry.
        if (line) {
          await withOwnSession(each, async (s) => {
            // The server replaces the record with this id: refuse to overwrite another
            // line's live session (two lines whose last 4 bytes agree share an id).
            const held = id ? await s.findId(RecordType.USER_PROCESS, id, each) : null;
            const live = held && (held.entry.type === RecordType.USER_PROCESS || held.entry.type === RecordType.LOGIN_PROCESS);
            if (held && live && held.entry.line !== line) {
              throw new UtmpsError('EEXIST', 'login', s.path, {
                reason:
                  `utmp id '${id}' is held by the session on ${held.entry.line} (pid ${held.entry.pid}); ` +
                  'give this login an id of its own (LoginInput.id)',
              });
            }
            await s.put(record, each);
          });
        }
        await appendWtmp(record, { path: wtmpdPath, ...each });
      }),
    logout: (line, call) =>
      bounded(call, (each) =>
        withOwnSession(each, async (s) => {
          await s.rewind(each);
          let found = await s.findLine(line, each);
          while (found && found.entry.type !== RecordType.USER_PROCESS) found = await s.findLine(line, each);
          if (!found) return false;
          // Edit the received bytes so every other field, padding included, stays as it was.
          const bytes = Buffer.from(found.bytes);
          bytes.writeInt16LE(RecordType.DEAD_PROCESS, L.type);
          bytes.fill(0, L.user, L.user + FIELD_SIZE.user);
          bytes.fill(0, L.host, L.host + FIELD_SIZE.host);
          const now = nowTimeval();
          bytes.writeBigInt64LE(now.tvSec, L.tvSec);
          bytes.writeBigInt64LE(BigInt(now.tvUsec), L.tvUsec);
          await s.put(bytes, each);
          return true;
        }),
      ),
  };
}

// Created on first use: importing the library opens nothing.
let implicit: Utmpx | undefined;
const facade = (): Utmpx => (implicit ??= createUtmpx());

export const setutxent: Utmpx['setutxent'] = (options) => facade().setutxent(options);
export const getutxent: Utmpx['getutxent'] = (options) => facade().getutxent(options);
export const getutxid: Utmpx['getutxid'] = (ut, options) => facade().getutxid(ut, options);
export const getutxline: Utmpx['getutxline'] = (ut, options) => facade().getutxline(ut, options);
export const pututxline: Utmpx['pututxline'] = (ut, options) => facade().pututxline(ut, options);
export const endutxent: Utmpx['endutxent'] = () => facade().endutxent();
export const utmpxname: Utmpx['utmpxname'] = (path) => facade().utmpxname(path);
export const updwtmpx: Utmpx['updwtmpx'] = (file, ut, options) => facade().updwtmpx(file, ut, options);
export const logwtmp: Utmpx['logwtmp'] = (line, name, host, options) => facade().logwtmp(line, name, host, options);
export const login: Utmpx['login'] = (ut, options) => facade().login(ut, options);
export const logout: Utmpx['logout'] = (line, options) => facade().logout(line, options);
