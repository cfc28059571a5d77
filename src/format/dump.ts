// util-linux utmpdump's text format, both ways. One line per record:
//
//   [7] [01001] [ts/0] [bob     ] [pts/0       ] [192.0.2.10          ] [192.0.2.10     ] [2023-11-14T22:13:20,000000+00:00]
//    type  pid    id     user       line           host                   address           time (UTC, microseconds)
//
// What the text cannot carry (docs/READERS.md): ut_exit, ut_session, the reserved bytes and
// all padding; string bytes after the first NUL; trailing spaces of a string (they read
// as padding); and bytes utmpdump prints as '?' ('[', ']', non-ASCII). Controls, which
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
const TIME = /^(-?\d+)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:,(-?\d+))?(?:([+-])(\d\d):?(\d\d)|Z)?$/;

function integer(text: string, what: string, min: number, max: number): number {
  const t = text.trim();
  const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
  if (!(n >= min && n <= max)) throw new DumpParseError(`bad ${what} '${text}'`);
  return n;
}

/** A string field: the padding utmpdump adds is trailing spaces, so they go; escapes are decoded. */
function text(field: string, what: string, size: number): string {
  const s = unescapeText(field.replace(/ +$/, ''));
  if (s.length > size) throw new DumpParseError(`${what} '${s}' is ${s.length} bytes, the field holds ${size}`);
  return s;
}

function time(field: string): { tvSec: bigint; tvUsec: bigint } {
  const m = TIME.exec(field.trim());
  if (!m) throw new DumpParseError(`bad time '${field}'`);
  const [, y, mo, d, h, mi, s, usec, sign, oh, om] = m;
  const offset = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60) : 0;
  const sec = utcSeconds(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s)) - offset;
  return { tvSec: BigInt(sec), tvUsec: BigInt(usec ?? 0) };
}

/** Parses one utmpdump line (latin1). Throws DumpParseError saying what is wrong. */
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
    id: text(id, 'id', FIELD_SIZE.id),
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
