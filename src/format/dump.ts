// util-linux utmpdump's text format, both ways. One line per record:
//
//   [7] [01001] [ts/0] [bob     ] [pts/0       ] [192.0.2.10          ] [192.0.2.10     ] [2023-11-14T22:13:20,000000+00:00]
//    type  pid    id     user       line           host                   address           time (UTC, microseconds)
//
// What the text cannot carry (docs/READERS.md): ut_exit, ut_session, the reserved bytes and
// all padding; string bytes after the first NUL; trailing spaces of a string (they read
// as padding, but in ut_id, kept as utmpdump -r keeps them); and bytes utmpdump prints
// as '?' ('[', ']', non-ASCII). Controls, which
// utmpdump also prints as '?', are \xHH here and read back. Records whose only content
// is in the rest round-trip byte for byte.

import { FIELD_SIZE, UTMPS_LAYOUT as L } from '../record/layout.js';
import { parseAddress } from '../record/address.js';
import { safeText, unescapeText } from './escape.js';
import { addressText } from './inet.js';
import { dumpTime, utcSeconds } from './time.js';
import { ADDR_OFFSET, hostAt, idAt, lineAt, pidAt, secondsAt, typeAt, usecAt, userAt } from './view.js';

/** Bytes utmpdump replaces with '?' that we keep so: non-ASCII and the brackets. */
const UNPRINTED = /[\x80-\xff[\]]/g;

/**
 * A string field as the text shows it: utmpdump's '?' for non-ASCII bytes and brackets,
 * and, where utmpdump also prints '?', controls and DEL as \xHH (escape.ts), which
 * --reverse decodes.
 */
export function cleanse(s: string): string {
  return safeText(s.replace(UNPRINTED, '?'));
}

/** C "%05d": the sign counts in the width ("-0003"). */
function int05(n: number): string {
  return n < 0 ? `-${String(-n).padStart(4, '0')}` : String(n).padStart(5, '0');
}

/** One record (utmps layout at buf[at..]) as a utmpdump line, without the newline (latin1). */
export function dumpLine(buf: Buffer, at = 0): string {
  const id = cleanse(idAt(buf, at));
  return (
    `[${typeAt(buf, at)}] [${int05(pidAt(buf, at))}] [${id.padEnd(4)}] [${cleanse(userAt(buf, at)).padEnd(8)}] ` +
    `[${cleanse(lineAt(buf, at)).padEnd(12)}] [${cleanse(hostAt(buf, at)).padEnd(20)}] ` +
    `[${addressText(buf, at + ADDR_OFFSET).padEnd(15)}] [${dumpTime(secondsAt(buf, at), usecAt(buf, at))}]`
  );
}

export class DumpParseError extends Error {
  readonly code = 'EINVAL';
  constructor(message: string) {
    super(message);
    this.name = 'DumpParseError';
  }
}

export interface DumpFields {
  type: number;
  pid: number;
  /** latin1 byte strings */
  id: string;
  user: string;
  line: string;
  host: string;
  address: Buffer;
  tvSec: bigint;
  tvUsec: bigint;
}

const LINE = /^\[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\] \[([^\]]*)\]\s*$/;
// utmpdump's time: ISO 8601 in UTC with microseconds after a comma (what it writes), or
// the older ctime form "Wed Aug 28 03:00:00 2013 GMT" (the zone is not read: UTC).
const ISO = /^(-?\d+)-(\d\d?)-(\d\d?)T(\d\d?):(\d\d?):(\d\d?)(?:,(\d+))?(?:([+-])(\d\d):?(\d\d)|Z)?$/;
const CTIME = /^([A-Za-z]{3,9}) +([A-Za-z]{3,9}) +(\d\d?) +(\d\d?):(\d\d):(\d\d) +(\d{1,4})(?: .*)?$/;
const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
/** utmpdump reads the time field into 28 characters. */
const TIME_CHARS = 28;

function integer(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(n >= min && n <= max)) throw new DumpParseError(`bad ${what} '${text}'`);
  return n;
}

/**
 * A string field: the padding utmpdump adds is trailing spaces, so they go, but in ut_id
 * (keepSpaces), where utmpdump -r keeps them; escapes are decoded.
 */
function text(field: string, what: string, size: number, keepSpaces = false): string {
  const s = unescapeText(keepSpaces ? field : field.replace(/ +$/, ''));
  if (s.length > size) throw new DumpParseError(`${what} '${s}' is ${s.length} bytes, the field holds ${size}`);
  return s;
}

/** A full or three-letter English name (strptime's %a / %b in the C locale). */
function nameIndex(names: readonly string[], word: string): number {
  const w = word.toLowerCase();
  return names.findIndex((n) => n === w || n.slice(0, 3) === w);
}

function inRange(n: number, min: number, max: number): boolean {
  return n >= min && n <= max;
}

function clockFits(h: number, mi: number, s: number, mo: number, d: number): boolean {
  return inRange(h, 0, 23) && inRange(mi, 0, 59) && inRange(s, 0, 60) && inRange(mo, 1, 12) && inRange(d, 1, 31);
}

/**
 * The time field, read as utmpdump 2.38 reads it: blank (or starting with a space) is 0;
 * the ISO form, whose fraction utmpdump takes as a count of microseconds, or the ctime
 * form in UTC. Ours also honours a UTC offset. A fraction longer than 6 digits: we keep
 * the first 28 characters as utmpdump does, and where it would store a tv_usec beyond
 * 999999 we take the fraction's first 6 digits, so tv_usec stays in range and tv_sec is its own.
 */
function time(field: string): { tvSec: bigint; tvUsec: bigint } {
  if (field === '' || field[0] === ' ') return { tvSec: 0n, tvUsec: 0n };
  let t = field.replace(/ +$/, '');
  const fraction = /,(\d+)/.exec(t);
  const long = fraction !== null && fraction[1].length > 6;
  if (long) t = t.slice(0, TIME_CHARS).replace(/[+-]\d{0,2}:?\d{0,2}$|Z$/, '');
  let m = ISO.exec(t);
  if (m) {
    const [, y, mo, d, h, mi, s, usec, sign, oh, om] = m;
    if (!clockFits(Number(h), Number(mi), Number(s), Number(mo), Number(d))) throw new DumpParseError(`bad time '${field}'`);
    const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60) : 0;
    const sec = utcSeconds(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)) - offset;
    // utmpdump's count of microseconds where it is in range (",0622006" is 622006), else
    // the fraction's first 6 digits.
    const count = usec === undefined ? 0 : Number(usec);
    return { tvSec: BigInt(sec), tvUsec: BigInt(count <= 999_999 ? count : Number(usec!.slice(0, 6))) };
  }
  m = CTIME.exec(field.slice(0, TIME_CHARS).replace(/ +$/, ''));
  if (m) {
    const [, wd, mon, d, h, mi, s, y] = m;
    const month = nameIndex(MONTHS, mon) + 1;
    // The weekday must be a weekday's name; strptime does not check it against the date.
    if (nameIndex(WEEKDAYS, wd) < 0 || month === 0 || !clockFits(Number(h), Number(mi), Number(s), month, Number(d))) {
      throw new DumpParseError(`bad time '${field}'`);
    }
    return { tvSec: BigInt(utcSeconds(Number(y), month, Number(d), Number(h), Number(mi), Number(s))), tvUsec: 0n };
  }
  throw new DumpParseError(`bad time '${field}'`);
}

/**
 * Parses one utmpdump line (latin1). Throws DumpParseError saying what is wrong. ut_id
 * keeps its trailing spaces, as utmpdump -r does: a short id like `[~~  ]` is `~~` and
 * two spaces, not NUL-padded.
 */
export function parseDumpLine(line: string): DumpFields {
  const m = LINE.exec(line);
  if (!m) throw new DumpParseError('not a utmpdump line (8 bracketed fields)');
  const [, type, pid, id, user, ttyLine, host, addr, when] = m;
  let address: Buffer;
  try {
    address = parseAddress(addr.trim());
  } catch {
    throw new DumpParseError(`bad address '${addr.trim()}'`);
  }
  return {
    type: integer(type, 'type', -0x8000, 0x7fff),
    pid: integer(pid, 'pid', -0x80000000, 0x7fffffff),
    id: text(id, 'id', FIELD_SIZE.id, true),
    user: text(user, 'user', FIELD_SIZE.user),
    line: text(ttyLine, 'line', FIELD_SIZE.line),
    host: text(host, 'host', FIELD_SIZE.host),
    address,
    ...time(when),
  };
}

/** The utmps-layout record (zero-filled) for parsed fields. */
export function recordFromDump(f: DumpFields): Buffer {
  const out = Buffer.alloc(L.size);
  out.writeInt16LE(f.type, L.type);
  out.writeInt32LE(f.pid, L.pid);
  out.write(f.line, L.line, 'latin1');
  out.write(f.id, L.id, 'latin1');
  out.write(f.user, L.user, 'latin1');
  out.write(f.host, L.host, 'latin1');
  out.writeBigInt64LE(f.tvSec, L.tvSec);
  out.writeBigInt64LE(f.tvUsec, L.tvUsec);
  f.address.copy(out, L.addr);
  return out;
}
