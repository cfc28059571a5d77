// The POSIX/GNU utmpx functions over one implicit utmpd session, as libutmps offers them
// (PROTOCOL.md section 7), but async and throwing UtmpsError instead of setting errno.
//
// Differences from C, on purpose:
// - utmpxname(path) selects another utmpd socket (libutmps answers ENOSYS).
// - updwtmpx(file, ut) ignores `file`, like libutmps: the wtmpd socket decides the file.
// - getutxid sends only type and id, as the protocol does: a `line` in the query is unused.
// - Text too long for its field is a RecordError, where glibc's strncpy would cut it.
// - After a transport error the implicit session is dropped; the next call reconnects
//   with a fresh cursor, as after endutxent.

import { readlink } from 'node:fs/promises';
import { isatty } from 'node:tty';
import { buildRecord, type EntryInput, FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from '../record/index.js';
import { utmpdSocketPath } from './paths.js';
import { nowTimeval } from './time.js';
import type { RecordInput, UtmpRecord } from './types.js';
import { UtmpSession } from './utmp-session.js';
import { appendWtmp } from './wtmp.js';

export interface UtmpxOptions {
  /** utmpd socket; default: $UTMPS_UTMPD_SOCKET, then /run/utmps/.utmpd-socket. */
  utmpdPath?: string;
  /** wtmpd socket; default: $UTMPS_WTMPD_SOCKET, then /run/utmps/.wtmpd-socket. */
  wtmpdPath?: string;
  /** Deadline of each call in ms (default 10000; 0: none). */
  timeoutMs?: number;
}

export interface IdQuery {
  type: number | string;
  id?: string | Uint8Array;
  line?: string | Uint8Array;
}

/** A login record: type and pid are set by login(); the rest as given. */
export type LoginInput = Omit<EntryInput, 'type' | 'pid'> & { type?: EntryInput['type']; pid?: number };

export interface Utmpx {
  setutxent(): Promise<void>;
  /** The next record, or null at the end of the file. */
  getutxent(): Promise<UtmpRecord | null>;
  getutxid(ut: IdQuery): Promise<UtmpRecord | null>;
  getutxline(ut: { line: string | Uint8Array } | string): Promise<UtmpRecord | null>;
  /** Writes the record; returns it as written (POSIX returns a copy of the struct). */
  pututxline(ut: RecordInput): Promise<UtmpRecord>;
  endutxent(): Promise<void>;
  /** Selects another utmpd socket and ends the current session; '' restores the default. */
  utmpxname(path: string): Promise<void>;
  /** `file` is ignored, as in libutmps. */
  updwtmpx(file: string | null | undefined, ut: RecordInput): Promise<void>;
  logwtmp(line: string, name: string, host: string): Promise<void>;
  login(ut: LoginInput): Promise<void>;
  /** Marks the USER_PROCESS record of `line` dead; false when there is none. */
  logout(line: string): Promise<boolean>;
}

/**
 * ut_id for a line, when login() is given none: drop '/dev/' and a leading 'tty', then keep
 * the last 4 bytes ('tty1' -> '1', 'pts/12' -> 's/12'), as OpenSSH and the vectors do.
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

export function createUtmpx(options: UtmpxOptions = {}): Utmpx {
  let utmpdPath = options.utmpdPath;
  const { wtmpdPath, timeoutMs } = options;
  let session: Promise<UtmpSession> | undefined;

  const connect = (): Promise<UtmpSession> => UtmpSession.connect({ path: utmpdSocketPath(utmpdPath), timeoutMs });

  // The implicit session, connected on first use and again after it died.
  async function current(): Promise<UtmpSession> {
    for (;;) {
      const pending = session;
      if (!pending) {
        const fresh = connect();
        session = fresh;
        fresh.catch(() => {
          if (session === fresh) session = undefined;
        });
        return fresh;
      }
      const s = await pending.catch(() => undefined);
      if (session !== pending) continue; // replaced meanwhile by another call
      if (s && !s.closed) return s;
      session = undefined;
    }
  }

  async function endutxent(): Promise<void> {
    const s = session;
    session = undefined;
    (await s?.catch(() => undefined))?.close();
  }

  // login() and logout() use a session of their own, leaving the caller's cursor alone.
  async function withOwnSession<T>(fn: (s: UtmpSession) => Promise<T>): Promise<T> {
    const s = await connect();
    try {
      return await fn(s);
    } finally {
      s.close();
    }
  }

  const updwtmpx = (_file: string | null | undefined, ut: RecordInput): Promise<void> =>
    appendWtmp(ut, { path: wtmpdPath, timeoutMs });

  return {
    setutxent: async () => (await current()).rewind(),
    getutxent: async () => (await current()).next(),
    getutxid: async (ut) => (await current()).findId(ut.type, ut.id ?? ''),
    getutxline: async (ut) => (await current()).findLine(typeof ut === 'string' ? ut : ut.line),
    pututxline: async (ut) => (await current()).put(ut),
    endutxent,
    async utmpxname(path) {
      utmpdPath = path;
      await endutxent();
    },
    updwtmpx,
    // glibc: USER_PROCESS for a login, DEAD_PROCESS (empty name) for a logout.
    logwtmp: (line, name, host) =>
      updwtmpx(null, {
        type: name ? RecordType.USER_PROCESS : RecordType.DEAD_PROCESS,
        pid: process.pid,
        line,
        user: name,
        host,
        ...nowTimeval(),
      }),
    async login(ut) {
      const line = ut.line || (await terminalLine());
      const record = buildRecord({
        ...ut,
        type: RecordType.USER_PROCESS,
        pid: process.pid,
        line: line ?? '???',
        id: ut.id || (line ? idFromLine(line) : ''),
        ...(ut.tvSec === undefined ? nowTimeval() : {}),
      });
      // glibc: without a terminal there is no utmp slot to fill, only the wtmp entry.
      if (line) await withOwnSession((s) => s.put(record));
      await updwtmpx(null, record);
    },
    logout: (line) =>
      withOwnSession(async (s) => {
        await s.rewind();
        let found = await s.findLine(line);
        while (found && found.entry.type !== RecordType.USER_PROCESS) found = await s.findLine(line);
        if (!found) return false;
        // Edit the received bytes so every other field, padding included, stays as it was.
        const bytes = Buffer.from(found.bytes);
        bytes.writeInt16LE(RecordType.DEAD_PROCESS, L.type);
        bytes.fill(0, L.user, L.user + FIELD_SIZE.user);
        bytes.fill(0, L.host, L.host + FIELD_SIZE.host);
        const now = nowTimeval();
        bytes.writeBigInt64LE(now.tvSec, L.tvSec);
        bytes.writeBigInt64LE(BigInt(now.tvUsec), L.tvUsec);
        await s.put(bytes);
        return true;
      }),
  };
}

const implicit = createUtmpx();

export const {
  setutxent,
  getutxent,
  getutxid,
  getutxline,
  pututxline,
  endutxent,
  utmpxname,
  updwtmpx,
  logwtmp,
  login,
  logout,
} = implicit;
