// `who`: who is logged in, from utmp records, in coreutils who's columns. Pure: the
// caller answers questions about terminals (stat of /dev/LINE) through `probe`.

import { RecordType, UTMPS_LAYOUT as L } from '../record/layout.js';
import { addressText } from './inet.js';
import { safeText } from './escape.js';
import { trimEnd, utf8 } from './text.js';
import { isoTimeMicro, whoTime } from './time.js';
import { ADDR_OFFSET, exitAt, hostAt, idAt, lineAt, pidAt, secondsAt, sessionAt, typeAt, usecAt, userAt } from './view.js';

export interface WhoOptions {
  /** What to list: user sessions (the default), -b, -d, -l, -p, -r, -t. */
  users?: boolean;
  boot?: boolean;
  dead?: boolean;
  login?: boolean;
  init?: boolean;
  runlevel?: boolean;
  clock?: boolean;
  /** Columns: -T message state, idle time, PID (all but the short listing), -d exit. */
  mesg?: boolean;
  idle?: boolean;
  pid?: boolean;
  exit?: boolean;
  /** "%Y-%m-%d %H:%M" instead of the C locale's "%b %e %H:%M". */
  isoTime?: boolean;
}

/** What stat(2) says about /dev/LINE, or null when it fails. */
export interface TtyStat {
  /** st_mode */
  mode: number;
  /** st_atime in seconds. */
  atime: number;
}

export type TtyProbe = (line: string) => TtyStat | null;

/** One record at buf[at..] in utmps layout. */
export interface RecordRef {
  buf: Buffer;
  at: number;
}

export type WhoKind = 'user' | 'boot' | 'runlevel' | 'clock' | 'init' | 'login' | 'dead';

/** Which listing a record belongs to under these options, or null if none. */
export function whoKind(buf: Buffer, at: number, o: WhoOptions): WhoKind | null {
  switch (typeAt(buf, at)) {
    case RecordType.USER_PROCESS:
      return o.users && buf[at + L.user] !== 0 ? 'user' : null;
    case RecordType.BOOT_TIME:
      return o.boot ? 'boot' : null;
    case RecordType.RUN_LVL:
      return o.runlevel ? 'runlevel' : null;
    case RecordType.NEW_TIME:
      return o.clock ? 'clock' : null;
    case RecordType.INIT_PROCESS:
      return o.init ? 'init' : null;
    case RecordType.LOGIN_PROCESS:
      return o.login ? 'login' : null;
    case RecordType.DEAD_PROCESS:
      return o.dead ? 'dead' : null;
    default:
      return null;
  }
}

/** coreutils' idle column: "  .  " under a minute, "HH:MM" under a day, " old " beyond. */
export function idleText(seconds: number): string {
  if (seconds >= 0 && seconds < 60) return '  .  ';
  if (seconds >= 0 && seconds < 86_400) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor(seconds / 60) % 60;
    return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}`;
  }
  return ' old ';
}

interface Columns {
  user: string;
  state: string;
  line: string;
  time: string;
  idle: string;
  pid: string;
  comment: string;
  exit: string;
}

function columns(c: Columns, o: WhoOptions): string {
  let s = c.user.padEnd(8);
  if (o.mesg) s += ` ${c.state}`;
  s += ` ${c.line.padEnd(12)} ${c.time.padEnd(o.isoTime ? 16 : 12)}`;
  if (o.idle) s += ` ${c.idle.padEnd(6)}`;
  if (o.pid) s += ` ${c.pid.padStart(10)}`;
  s += ` ${c.comment.padEnd(8)}`;
  if (o.exit) s += ` ${c.exit.padEnd(12)}`;
  return trimEnd(s);
}

export function whoHeading(o: WhoOptions): string {
  return columns({ user: 'NAME', state: ' ', line: 'LINE', time: 'TIME', idle: 'IDLE', pid: 'PID', comment: 'COMMENT', exit: 'EXIT' }, o);
}

function isPrint(c: number): boolean {
  return c >= 0x20 && c < 0x7f;
}

/** "run-level 3" and "last=S" from a RUN_LVL pid (current level + 256 * previous). */
function runLevel(pid: number): { line: string; comment: string } {
  const curr = (pid % 256) & 0xff;
  let prev = Math.trunc(pid / 256) & 0xff;
  if (prev === 0x4e) prev = 0x53; // 'N' (none) reads as 'S'
  return {
    line: `run-level ${curr === 0 ? '' : String.fromCharCode(curr)}`,
    comment: isPrint(prev) ? `last=${String.fromCharCode(prev)}` : '',
  };
}

/** One line of `who` output (latin1) for a record of the given kind. */
export function whoLine(kind: WhoKind, buf: Buffer, at: number, o: WhoOptions, probe: TtyProbe, now: number): string {
  const c: Columns = { user: '', state: ' ', line: lineAt(buf, at), time: whoTime(secondsAt(buf, at), o.isoTime ?? false), idle: '', pid: '', comment: '', exit: '' };
  const pid = String(pidAt(buf, at));
  switch (kind) {
    case 'user': {
      const st = probe(c.line);
      const host = hostAt(buf, at);
      c.user = userAt(buf, at);
      c.state = st === null ? '?' : st.mode & 0o020 ? '+' : '-';
      c.idle = st === null ? '  ?' : idleText(now - st.atime);
      c.pid = pid;
      c.comment = host === '' ? '' : `(${host})`;
      break;
    }
    case 'boot':
      c.line = 'system boot';
      break;
    case 'clock':
      c.line = 'clock change';
      break;
    case 'runlevel': {
      const r = runLevel(pidAt(buf, at));
      c.line = r.line;
      c.comment = r.comment;
      break;
    }
    case 'login':
      c.user = 'LOGIN';
      c.pid = pid;
      c.comment = `id=${idAt(buf, at)}`;
      break;
    case 'init':
      c.pid = pid;
      c.comment = `id=${idAt(buf, at)}`;
      break;
    case 'dead': {
      const e = exitAt(buf, at);
      c.pid = pid;
      c.comment = `id=${idAt(buf, at)}`;
      c.exit = `term=${e.termination} exit=${e.status}`;
      break;
    }
  }
  // Names, line and comment come from the record: never let their controls through.
  c.user = safeText(c.user);
  c.line = safeText(c.line);
  c.comment = safeText(c.comment);
  return columns(c, o);
}

/** The whole listing, heading first when asked; every line ends with a newline. */
export function whoText(records: Iterable<RecordRef>, o: WhoOptions & { heading?: boolean }, probe: TtyProbe, now: number): string {
  let out = o.heading ? `${whoHeading(o)}\n` : '';
  for (const { buf, at } of records) {
    const kind = whoKind(buf, at, o);
    if (kind !== null) out += `${whoLine(kind, buf, at, o, probe, now)}\n`;
  }
  return out;
}

/** The user name who -q counts for a record, or null. */
export function countedUser(buf: Buffer, at: number): string | null {
  return whoKind(buf, at, { users: true }) === 'user' ? userAt(buf, at) : null;
}

/** who -q: the user names on one line, then "# users=N". */
export function whoCount(names: readonly string[]): string {
  return `${names.map((n) => safeText(n)).join(' ')}\n# users=${names.length}\n`;
}

export interface WhoEntryJson {
  kind: WhoKind;
  type: number;
  user: string;
  line: string;
  id: string;
  host: string;
  address: string;
  pid: number;
  session: number;
  exit: { termination: number; status: number };
  tvSec: number;
  tvUsec: number;
  time: string;
}

export function whoJson(kind: WhoKind, buf: Buffer, at: number): WhoEntryJson {
  const tvSec = secondsAt(buf, at);
  const tvUsec = usecAt(buf, at);
  return {
    kind,
    type: typeAt(buf, at),
    user: utf8(userAt(buf, at)),
    line: utf8(lineAt(buf, at)),
    id: utf8(idAt(buf, at)),
    host: utf8(hostAt(buf, at)),
    address: addressText(buf, at + ADDR_OFFSET),
    pid: pidAt(buf, at),
    session: sessionAt(buf, at),
    exit: exitAt(buf, at),
    tvSec,
    tvUsec,
    time: isoTimeMicro(tvSec, tvUsec),
  };
}
