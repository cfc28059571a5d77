// `last`: login history from wtmp records fed newest first, and its text line. Pure: the
// caller feeds records, answers "is this login gone?" (a system question) and writes.
//
// The rules follow what util-linux last 2.38 prints (docs/READERS.md):
// - a tty's next record (logout, or the next login on it) ends a login;
// - a boot or a shutdown (or run level 0/6) ends every open login: "crash" / "down";
// - a login with no end and no later boot is "still logged in", or "gone - no logout"
//   when the caller says the login is gone;
// - records are reclassified first, as last does: "~" lines named shutdown / reboot /
//   runlevel (other "~" records keep their type); "date" with "|" / "{" lines are clock
//   changes; any other record without a user is a logout, and with a user and a line
//   (except DEAD_PROCESS and LOGIN) a login.
//
// The pairing state is one end time per tty, cleared at each boot or shutdown, so memory
// is bounded by the number of distinct ttys, never by the file. It is keyed by the line's
// bytes (LineEnds): no string is made for a record until its line is printed. A later
// `--follow` can reuse `Session` and `lastLine` with a forward pairing of its own.

import { FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from '../record/layout.js';
import { addressText, addressTextUnmapped } from './inet.js';
import { safeText } from './escape.js';
import { fieldBytes, fit, int02, trimEnd, utf8 } from './text.js';
import { clockTime, fullTime, isoTime, shortTime, writeClockTime, writeShortTime } from './time.js';
import { ADDR_OFFSET, hostAt, pidAt, secondsAt, typeAt } from './view.js';

export type TimeFormat = 'notime' | 'short' | 'full' | 'iso';

export const TIME_FORMATS: readonly TimeFormat[] = ['notime', 'short', 'full', 'iso'];

export type SessionKind = 'login' | 'reboot' | 'shutdown' | 'runlevel' | 'clock';

/**
 * How a session ended. 'ended': at `end` (a logout, the tty's next login, or for system
 * lines the next event); 'down' / 'crash': at a shutdown / boot; 'logged-in', 'gone',
 * 'running': no end known; 'none': a clock change, which has no end.
 */
export type EndStatus = 'ended' | 'down' | 'crash' | 'logged-in' | 'gone' | 'running' | 'none';

/** One line of `last` output. One instance is reused for every line: copy what you keep. */
export interface Session {
  kind: SessionKind;
  /** ut_user bytes (latin1 string). */
  readonly user: string;
  /** The line as shown: the tty, or "system boot", "system down", "(to lvl 3)"... */
  readonly line: string;
  /** The record, for its host, address and pid. */
  buf: Buffer;
  at: number;
  login: number;
  /** Seconds; meaningful for 'ended', 'down' and 'crash' (0 means the epoch, as in last). */
  end: number;
  status: EndStatus;
}

export interface PairingOptions {
  /** -x: also list shutdowns, run level changes and clock changes. */
  system?: boolean;
  /** -s / -t: records outside [since, until] are skipped as if absent. */
  since?: number;
  until?: number;
  /** -p: only sessions that include this time. */
  present?: number;
  /** User names and ttys to list (ttys also as "tty" + name); latin1 strings. */
  filters?: readonly string[];
  /** Whether a login with no logout and no later boot is gone (util-linux: phantom). */
  isGone?: (user: string, pid: number, line: string, login: number) => boolean;
  /** Told about records of a type last does not know. */
  warn?: (message: string) => void;
  /**
   * lastb: every record is one failed login, listed as it is (no pairing, no "~" or
   * "date" names), ending when it began, as util-linux lastb prints btmp.
   */
  failed?: boolean;
}

/** Returns false to stop reading (the -n limit). */
export type SessionSink = (session: Session) => boolean;

/**
 * The reused Session: user and line are read from the record only when asked for (most
 * records are never printed, and a printed one may be written from its bytes).
 */
class RecordSession implements Session {
  kind: SessionKind = 'login';
  buf: Buffer = Buffer.alloc(0);
  at = 0;
  login = 0;
  end = 0;
  status: EndStatus = 'ended';
  /** A system line's text; null: ut_line. */
  fixedLine: string | null = null;
  private userText: string | null = null;
  private lineText: string | null = null;

  set(kind: SessionKind, buf: Buffer, at: number, line: string | null, login: number, end: number, status: EndStatus): void {
    this.kind = kind;
    this.buf = buf;
    this.at = at;
    this.fixedLine = line;
    this.login = login;
    this.end = end;
    this.status = status;
    this.userText = null;
    this.lineText = null;
  }

  get user(): string {
    return (this.userText ??= fieldBytes(this.buf, this.at + L.user, FIELD_SIZE.user));
  }

  get line(): string {
    return this.fixedLine ?? (this.lineText ??= fieldBytes(this.buf, this.at + L.line, FIELD_SIZE.line));
  }
}

/** A copy of a Session that outlives the next record (its own record bytes). */
export function copySession(s: Session): Session {
  return {
    kind: s.kind,
    user: s.user,
    line: s.line,
    buf: Buffer.from(s.buf.subarray(s.at, s.at + L.size)),
    at: 0,
    login: s.login,
    end: s.end,
    status: s.status,
  };
}

const LINE_SIZE = FIELD_SIZE.line;

/**
 * tty -> time of the nearest later record ending a login on it, keyed by ut_line's bytes
 * (up to the first NUL): open addressing over one byte arena, no string per record.
 * Entries are only added or overwritten, and all cleared at once (a boot, a shutdown).
 */
export class LineEnds {
  private mask: number;
  private keys: Uint8Array;
  private lengths: Int8Array; // -1: empty slot
  private times: Float64Array;
  private count = 0;

  constructor(capacity = 1024) {
    this.mask = capacity - 1;
    this.keys = new Uint8Array(capacity * LINE_SIZE);
    this.lengths = new Int8Array(capacity).fill(-1);
    this.times = new Float64Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  clear(): void {
    if (this.count === 0) return;
    this.lengths.fill(-1);
    this.count = 0;
  }

  /** The slot of the line at buf[off..], or the empty slot where it would go. */
  private slot(buf: Uint8Array, off: number, len: number): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i], 0x01000193);
    const keys = this.keys;
    for (let i = (h ^ (h >>> 15)) & this.mask; ; i = (i + 1) & this.mask) {
      const l = this.lengths[i];
      if (l < 0) return i;
      if (l === len) {
        const k = i * LINE_SIZE;
        let j = 0;
        while (j < len && keys[k + j] === buf[off + j]) j++;
        if (j === len) return i;
      }
    }
  }

  /** The end time for the line at buf[off..] (len bytes), or -Infinity. */
  get(buf: Uint8Array, off: number, len: number): number {
    const i = this.slot(buf, off, len);
    return this.lengths[i] < 0 ? Number.NEGATIVE_INFINITY : this.times[i];
  }

  set(buf: Uint8Array, off: number, len: number, t: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const i = this.slot(buf, off, len);
    if (this.lengths[i] < 0) {
      this.lengths[i] = len;
      const k = i * LINE_SIZE;
      for (let j = 0; j < len; j++) this.keys[k + j] = buf[off + j]; // no subarray per new tty
      this.count++;
    }
    this.times[i] = t;
  }

  private grow(): void {
    const { keys, lengths, times } = this;
    const capacity = (this.mask + 1) * 2;
    this.mask = capacity - 1;
    this.keys = new Uint8Array(capacity * LINE_SIZE);
    this.lengths = new Int8Array(capacity).fill(-1);
    this.times = new Float64Array(capacity);
    this.count = 0;
    for (let i = 0; i < lengths.length; i++) if (lengths[i] >= 0) this.set(keys, i * LINE_SIZE, lengths[i], times[i]);
  }
}

/** Bytes of the NUL-padded field at buf[off..off + size) before its first NUL. */
function fieldLength(buf: Buffer, off: number, size: number): number {
  let n = 0;
  while (n < size && buf[off + n] !== 0) n++;
  return n;
}

const TILDE = 0x7e;
const PIPE = 0x7c;
const BRACE = 0x7b;
// Pseudo type for a shutdown record (RUN_LVL named "shutdown", or run level 0 or 6).
const SHUTDOWN = -1000;

function startsWith(buf: Buffer, off: number, ascii: string): boolean {
  for (let i = 0; i < ascii.length; i++) if (buf[off + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

function isLoginName(buf: Buffer, off: number): boolean {
  return buf[off] === 0x4c && startsWith(buf, off, 'LOGIN') && buf[off + 5] === 0;
}

/** The record's type as last sees it (see the rules at the top). */
export function lastType(buf: Buffer, at: number): number {
  const type = typeAt(buf, at);
  const user = at + L.user;
  const line0 = buf[at + L.line];
  if (line0 === TILDE) {
    // "~" records keep their type unless named; a nameless one is not a logout.
    if (startsWith(buf, user, 'shutdown')) return SHUTDOWN;
    if (startsWith(buf, user, 'reboot')) return RecordType.BOOT_TIME;
    if (startsWith(buf, user, 'runlevel')) return RecordType.RUN_LVL;
    return type;
  }
  if ((line0 === PIPE || line0 === BRACE) && startsWith(buf, user, 'date')) return line0 === PIPE ? RecordType.OLD_TIME : RecordType.NEW_TIME;
  if (buf[user] === 0) return RecordType.DEAD_PROCESS;
  if (type !== RecordType.DEAD_PROCESS && line0 !== 0 && !isLoginName(buf, user)) return RecordType.USER_PROCESS;
  return type;
}

/**
 * Pairs logins with their ends, reading newest first. Feed every record of one file with
 * push(); call reset() before the next file.
 */
export class LastPairing {
  // Per tty: the time of the nearest later record that ends a login on it.
  private readonly ends = new LineEnds();
  private downTime = 0;
  private downStatus: EndStatus = 'crash';
  private shutdownTime = 0;
  private levelTime = 0;
  private readonly session = new RecordSession();

  constructor(
    private readonly options: PairingOptions,
    private readonly sink: SessionSink,
  ) {}

  reset(): void {
    this.ends.clear();
    this.downTime = 0;
    this.downStatus = 'crash';
    this.shutdownTime = 0;
    this.levelTime = 0;
  }

  /** One utmps-layout record at buf[at..]; false once the sink asked to stop. */
  push(buf: Buffer, at: number): boolean {
    const o = this.options;
    const t = secondsAt(buf, at);
    if (o.until !== undefined && t > o.until) return true;
    if (o.since !== undefined && t < o.since) return true;
    if (o.failed) return this.list('login', buf, at, null, t, t, 'ended');
    let more = true;
    const kind = lastType(buf, at);
    switch (kind) {
      case RecordType.USER_PROCESS: {
        const lineAt = at + L.line;
        const n = fieldLength(buf, lineAt, LINE_SIZE);
        const end = n === 0 ? Number.NEGATIVE_INFINITY : this.ends.get(buf, lineAt, n);
        if (end !== Number.NEGATIVE_INFINITY) {
          more = this.list('login', buf, at, null, t, end, 'ended');
        } else if (this.downTime === 0) {
          const gone = o.isGone?.(fieldBytes(buf, at + L.user, FIELD_SIZE.user), pidAt(buf, at), fieldBytes(buf, lineAt, LINE_SIZE), t) ?? false;
          more = this.list('login', buf, at, null, t, 0, gone ? 'gone' : 'logged-in');
        } else {
          more = this.list('login', buf, at, null, t, this.downTime, this.downStatus);
        }
        // A login also ends the login before it on the same tty.
        if (n !== 0) this.ends.set(buf, lineAt, n, t);
        break;
      }
      case RecordType.DEAD_PROCESS: {
        const lineAt = at + L.line;
        const n = fieldLength(buf, lineAt, LINE_SIZE);
        if (n !== 0) this.ends.set(buf, lineAt, n, t);
        break;
      }
      case RecordType.BOOT_TIME:
        more = this.list('reboot', buf, at, 'system boot', t, this.shutdownTime, this.shutdownTime ? 'ended' : 'running');
        this.down(t, 'crash');
        break;
      case SHUTDOWN:
        if (o.system) more = this.list('shutdown', buf, at, 'system down', t, this.downTime, 'ended');
        this.shutdownTime = this.levelTime = t;
        this.down(t, 'down');
        break;
      case RecordType.RUN_LVL: {
        const level = pidAt(buf, at) & 255;
        if (o.system) {
          // "(to lvl %c)": a NUL level ends the C string there.
          const line = level === 0 ? '(to lvl ' : `(to lvl ${String.fromCharCode(level)})`;
          more = this.list('runlevel', buf, at, line, t, this.levelTime, this.levelTime ? 'ended' : 'running');
        }
        if (level === 0x30 || level === 0x36) {
          this.shutdownTime = t;
          this.down(t, 'down');
        }
        this.levelTime = t;
        break;
      }
      case RecordType.OLD_TIME:
      case RecordType.NEW_TIME:
        if (o.system) {
          // No end is shown, but -p judges it by the next shutdown, as last does.
          more = this.list('clock', buf, at, kind === RecordType.NEW_TIME ? 'new time' : 'old time', t, this.shutdownTime, 'none');
        }
        break;
      case RecordType.EMPTY:
      case RecordType.INIT_PROCESS:
      case RecordType.LOGIN_PROCESS:
      case RecordType.ACCOUNTING:
        break;
      default:
        o.warn?.(`unrecognized ut_type: ${typeAt(buf, at)}`);
    }
    return more;
  }

  private down(t: number, status: EndStatus): void {
    this.downTime = t;
    this.downStatus = status;
    this.ends.clear();
  }

  /** line: a system line's text; null for a login (its ut_line). */
  private list(kind: SessionKind, buf: Buffer, at: number, line: string | null, login: number, end: number, status: EndStatus): boolean {
    const o = this.options;
    if (o.present !== undefined && (o.present < login || (end !== 0 && end < o.present))) return true;
    const s = this.session;
    s.set(kind, buf, at, line, login, end, status);
    if (o.filters && o.filters.length > 0 && !matches(o.filters, s.user, s.line)) return true;
    return this.sink(s);
  }
}

function matches(filters: readonly string[], user: string, line: string): boolean {
  for (const f of filters) {
    const name = f.slice(0, FIELD_SIZE.user);
    if (name === user || name === line || `tty${f}`.slice(0, FIELD_SIZE.line) === line) return true;
  }
  return false;
}

// ---- the text line ----

export interface LineOptions {
  timeFormat: TimeFormat;
  /** -i: the address instead of the host name. */
  ip?: boolean;
  /** -w: user and host in full. */
  fullNames?: boolean;
  /** -a: the host in full, last. */
  hostLast?: boolean;
  /** -R: no host at all. */
  noHost?: boolean;
  /** -d: the name for an address (numeric text), when it has one. */
  dns?: (address: string) => string | undefined;
  /**
   * How last shows bytes from 0x80 in names: 'c' (the C locale: every one as \ooo), 'utf8'
   * (valid UTF-8 as it is), unset (as they are, C1 controls aside). Controls are always
   * \xHH (src/format/escape.ts), whatever this says.
   */
  escape?: 'c' | 'utf8';
}

const LOGIN_TIME: Record<TimeFormat, (sec: number) => string> = {
  notime: () => '',
  short: shortTime,
  full: fullTime,
  iso: isoTime,
};

const END_TIME: Record<TimeFormat, (sec: number) => string> = {
  notime: () => '',
  short: clockTime,
  full: fullTime,
  iso: isoTime,
};

// Width of "- " and the end time; the host of -a goes 13 columns further.
const END_WIDTH: Record<TimeFormat, number> = { notime: 0, short: 7, full: 26, iso: 27 };

// What util-linux prints where there is no end time, per time format.
const OPEN_END: Record<'logged-in' | 'gone' | 'running', Record<TimeFormat, string>> = {
  'logged-in': { notime: ' logged in', short: '  still logged in', full: '  still logged in', iso: '  still logged in' },
  gone: { notime: ' no logout', short: '   gone - no logout', full: '  gone - no logout', iso: '  gone - no logout' },
  running: { notime: ' running', short: '  still running', full: '  still running', iso: '  still running' },
};

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** "(1+03:45)", " (02:46)", " (-5:33)", " (-00:30)": the session length, C arithmetic. */
export function durationText(seconds: number): string {
  const days = Math.trunc(seconds / 86_400);
  const hours = Math.trunc(seconds / 3600) % 24;
  const mins = Math.trunc(seconds / 60) % 60;
  if (days !== 0) return `(${days}+${p2(Math.abs(hours))}:${p2(Math.abs(mins))})`;
  if (hours !== 0) return ` (${int02(hours)}:${p2(Math.abs(mins))})`;
  return seconds < 0 ? ` (-00:${p2(Math.abs(mins))})` : ` (00:${p2(mins)})`;
}

/** The part after the login time: "- 23:18  (01:01)", "- crash (1+03:41)", "  still running". */
function endText(s: Session, f: TimeFormat): string {
  switch (s.status) {
    case 'none':
      return '';
    case 'logged-in':
    case 'gone':
    case 'running':
      return OPEN_END[s.status][f];
    default: {
      const what = s.status === 'ended' ? `- ${END_TIME[f](s.end)}` : `- ${s.status}`;
      return `${f === 'notime' ? '' : what.padEnd(END_WIDTH[f])} ${durationText(s.end - s.login)}`;
    }
  }
}

/**
 * The host column: ut_host; with -i the address ("0.0.0.0" when unset); with -d the
 * address's name, or the address when it has none (getnameinfo's fallback in last).
 */
export function hostText(s: Session, ip: boolean, dns?: (address: string) => string | undefined): string {
  if (!ip && dns === undefined) return hostAt(s.buf, s.at);
  const address = addressTextUnmapped(s.buf, s.at + ADDR_OFFSET);
  return ip ? address : (dns!(address) ?? address);
}

/** A field as last shows it (see LineOptions.escape), padding already applied. */
export function escapeField(s: string, mode: 'c' | 'utf8' | undefined): string {
  return safeText(s, mode === 'c' ? 'octal' : mode === 'utf8' ? 'utf8' : 'raw');
}

const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\xff]|\\x/;

const asIs = (s: string): string => s;

/** One line of `last` output (latin1), without its newline. */
export function lastLine(s: Session, o: LineOptions): string {
  const host = o.noHost ? '' : hostText(s, o.ip ?? false, o.dns);
  // Times and durations are ASCII: only the names can need escapes, and rarely do.
  const escape = NEEDS_ESCAPE.test(s.user) || NEEDS_ESCAPE.test(s.line) || NEEDS_ESCAPE.test(host);
  return buildLine(s, host, o, escape ? (f) => escapeField(f, o.escape) : asIs);
}

// Fields are cut and padded by bytes, then escaped, as last does.
function buildLine(s: Session, host: string, o: LineOptions, esc: (field: string) => string): string {
  const f = o.timeFormat;
  const user = esc(o.fullNames ? s.user.padEnd(8) : fit(s.user, 8));
  const head = `${user} ${esc(fit(s.line, 12))} `;
  const login = LOGIN_TIME[f](s.login);
  const end = endText(s, f);
  // Only an empty end (clock changes) or a host at the end can leave trailing blanks.
  if (o.noHost || (o.hostLast && host === '')) return end === '' ? trimEnd(`${head}${login}`) : `${head}${login} ${end}`;
  if (o.hostLast) return trimEnd(`${head}${login} ${fit(end, END_WIDTH[f] + 13)} ${esc(host)}`);
  const line = `${head}${esc(o.fullNames ? host.padEnd(16) : fit(host, 16))} ${login} ${end}`;
  return end === '' ? trimEnd(line) : line;
}

/**
 * Copies a field's bytes cut and padded to width, as fit() does; false (nothing to trust
 * in out) when a byte would need an escape or a check (controls, bytes from 0x7f, '\\').
 */
function copyPlain(src: Buffer, off: number, size: number, width: number, out: Buffer, p: number): boolean {
  const n = width < size ? width : size;
  let i = 0;
  for (; i < n; i++) {
    const c = src[off + i];
    if (c === 0) break;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return false;
    out[p + i] = c;
  }
  for (; i < width; i++) out[p + i] = 0x20;
  return true;
}

/**
 * lastLine with its newline, written at out[p..] straight from the record's bytes (no
 * string for the names): the default columns, plain ASCII names, a session with an end
 * text. Returns the position after the line, or -1 where lastLine must do it (the bytes
 * in out are then garbage). out needs MAX_FAST_LINE bytes of room at p.
 */
export function writeLastLine(s: Session, o: LineOptions, out: Buffer, p: number): number {
  if (o.ip || o.dns || o.fullNames || o.hostLast || o.noHost || s.status === 'none') return -1;
  const b = s.buf;
  const at = s.at;
  if (!copyPlain(b, at + L.user, FIELD_SIZE.user, 8, out, p)) return -1;
  out[p + 8] = 0x20;
  if (s.kind === 'login') {
    if (!copyPlain(b, at + L.line, FIELD_SIZE.line, 12, out, p + 9)) return -1;
  } else if (s.kind === 'reboot' || s.kind === 'shutdown') {
    putAscii(out, p + 9, s.line.padEnd(12)); // "system boot" / "system down"
  } else {
    return -1;
  }
  out[p + 21] = 0x20;
  if (!copyPlain(b, at + L.host, FIELD_SIZE.host, 16, out, p + 22)) return -1;
  out[p + 38] = 0x20;
  let r: number;
  if (o.timeFormat === 'short') {
    const q = writeShortTime(out, p + 39, s.login);
    out[q] = 0x20;
    r = writeShortEnd(s, out, q + 1);
  } else {
    const q = putAscii(out, p + 39, LOGIN_TIME[o.timeFormat](s.login));
    out[q] = 0x20;
    r = putAscii(out, q + 1, endText(s, o.timeFormat));
  }
  out[r] = 0x0a;
  return r + 1;
}

/** endText(s, 'short') written at out[p], the usual cases without a string; the end. */
function writeShortEnd(s: Session, out: Buffer, p: number): number {
  let q: number;
  switch (s.status) {
    case 'ended':
      out[p] = 0x2d; // "- HH:MM"
      out[p + 1] = 0x20;
      q = writeClockTime(out, p + 2, s.end);
      break;
    case 'down':
      q = putAscii(out, p, '- down ');
      break;
    case 'crash':
      q = putAscii(out, p, '- crash');
      break;
    default:
      return putAscii(out, p, endText(s, 'short'));
  }
  out[q] = 0x20;
  const seconds = s.end - s.login;
  if (seconds < 0 || seconds >= 86_400) return putAscii(out, q + 1, durationText(seconds));
  // " (HH:MM)", as durationText prints a length under a day.
  const hours = Math.trunc(seconds / 3600);
  const mins = Math.trunc(seconds / 60) % 60;
  out[q + 1] = 0x20;
  out[q + 2] = 0x28;
  out[q + 3] = 0x30 + Math.floor(hours / 10);
  out[q + 4] = 0x30 + (hours % 10);
  out[q + 5] = 0x3a;
  out[q + 6] = 0x30 + Math.floor(mins / 10);
  out[q + 7] = 0x30 + (mins % 10);
  out[q + 8] = 0x29;
  return q + 9;
}

/** Short ASCII text into out at p (a loop beats a native call at this size); the end. */
function putAscii(out: Buffer, p: number, text: string): number {
  for (let i = 0; i < text.length; i++) out[p + i] = text.charCodeAt(i);
  return p + text.length;
}

/** Room writeLastLine needs: the columns, the longest times and a duration of many days. */
export const MAX_FAST_LINE = 256;

/** The closing line of each file, after an empty line; none with --time-format notime. */
export function beginsLine(name: string, seconds: number, f: TimeFormat): string | null {
  if (f === 'notime') return null;
  return `${name} begins ${f === 'iso' ? isoTime(seconds) : fullTime(seconds)}`;
}

// ---- JSON ----

/** How a session ended, in words (JSON, the timeline's tooltips); null: no status. */
export const STATUS_TEXT: Record<EndStatus, string | null> = {
  ended: 'logged out',
  down: 'down',
  crash: 'crash',
  'logged-in': 'still logged in',
  gone: 'gone - no logout',
  running: 'still running',
  none: null,
};

export interface SessionJson {
  kind: SessionKind;
  user: string;
  line: string;
  host: string;
  address: string;
  pid: number;
  login: { tvSec: number; time: string };
  logout: { tvSec: number; time: string } | null;
  status: string | null;
  /** Seconds from login to the end, when there is an end. */
  duration: number | null;
}

export function sessionJson(s: Session): SessionJson {
  const hasEnd = s.status === 'ended' || s.status === 'down' || s.status === 'crash';
  return {
    kind: s.kind,
    user: utf8(s.user),
    line: utf8(s.line),
    host: utf8(hostAt(s.buf, s.at)),
    address: addressText(s.buf, s.at + ADDR_OFFSET),
    pid: pidAt(s.buf, s.at),
    login: { tvSec: s.login, time: isoTime(s.login) },
    logout: hasEnd ? { tvSec: s.end, time: isoTime(s.end) } : null,
    status: STATUS_TEXT[s.status],
    duration: hasEnd ? s.end - s.login : null,
  };
}
