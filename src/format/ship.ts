// wtmp records as log messages for `utmps ship` (docs/SHIPPING.md): RFC 5424 with
// structured data, the local syslog() form for /dev/log, JSON lines, and journald's
// native protocol. Pure: bytes in, bytes out.
//
// Record text is never sent with a raw control character (docs/SECURITY.md promise 25):
// every text field goes through safeText (\xHH), the one exception being the journal's
// UTMP_* fields, which carry the record's exact bytes in the protocol's binary-safe form
// (journalctl shows values with controls as blobs, never raw).

import { safeText } from './escape.js';
import { eventKind, type WtmpEventKind } from './events.js';
import { addressText } from './inet.js';
import { ADDR_OFFSET, hostAt, idAt, lineAt, pidAt, secondsAt, typeAt, usecAt, userAt } from './view.js';
import { FIELD_SIZE, typeName } from '../record/layout.js';

/** One record, ready to format; text fields are byte strings (latin1), as in the record. */
export interface ShipRecord {
  kind: WtmpEventKind;
  type: number;
  typeName: string;
  user: string;
  line: string;
  id: string;
  host: string;
  address: string;
  pid: number;
  tvSec: number;
  tvUsec: number;
  /** SHA-256 of the record's bytes as stored (hex); its first 16 digits name it in messages. */
  hash: string;
}

/** A utmps-layout record at buf[at..] with its hash. */
export function shipRecord(buf: Buffer, at: number, hash: string): ShipRecord {
  const type = typeAt(buf, at);
  const user = userAt(buf, at);
  const line = lineAt(buf, at);
  const addressBytes = buf.subarray(at + ADDR_OFFSET, at + ADDR_OFFSET + FIELD_SIZE.addr);
  return {
    kind: eventKind({ type, user, line }),
    type,
    typeName: typeName(type) ?? `UNKNOWN(${type})`,
    user,
    line,
    id: idAt(buf, at),
    host: hostAt(buf, at),
    address: addressBytes.every((b) => b === 0) ? '' : addressText(addressBytes),
    pid: pidAt(buf, at),
    tvSec: secondsAt(buf, at),
    tvUsec: usecAt(buf, at),
    hash,
  };
}

/** Fixed MESSAGE_IDs (journald's 128-bit ids), one per kind of event. */
export const MESSAGE_IDS = {
  login: '5e423b9825f943449f987ec36984cf20',
  logout: '34412b2e16e84292a16dc5d1dd6109dd',
  boot: '7fe8992d48774ab0923b28f51c6fe327',
  shutdown: '88b3528850aa46cab122d14e353f2f88',
  other: '9b09097ce14847d0826442d977ecf3fe',
} as const;

export function messageId(kind: WtmpEventKind): string {
  return kind === 'login' || kind === 'logout' || kind === 'boot' || kind === 'shutdown' ? MESSAGE_IDS[kind] : MESSAGE_IDS.other;
}

/** authpriv, as login(1) and sshd log sessions. */
export const FACILITY = 10;

/** notice for boot and shutdown, info for the rest. */
export function severity(kind: WtmpEventKind): number {
  return kind === 'boot' || kind === 'shutdown' ? 5 : 6;
}

/** A field made safe (escape.ts) and decoded as UTF-8 (invalid bytes become U+FFFD). */
export function safeField(bytes: string): string {
  const s = safeText(bytes, 'raw');
  return /[\x80-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** The readable message: "alice logged in on pts/1 from host.example". */
export function readableMessage(r: ShipRecord): string {
  const user = safeField(r.user);
  const line = safeField(r.line);
  const host = safeField(r.host);
  switch (r.kind) {
    case 'login':
      return `${user} logged in on ${line}${host ? ` from ${host}` : ''}`;
    case 'logout':
      return user ? `${user} logged out of ${line}` : `logout on ${line}`;
    case 'boot':
      return host ? `system boot (kernel ${host})` : 'system boot';
    case 'shutdown':
      return 'shutdown';
    case 'runlevel': {
      // sysvinit puts the new run level's character in the low byte of ut_pid.
      const c = r.pid & 0xff;
      return `run level ${c > 0x20 && c < 0x7f ? String.fromCharCode(c) : String(c)}`;
    }
    default:
      return `${r.typeName}${user ? ` ${user}` : ''}${line ? ` on ${line}` : ''}`;
  }
}

/** RFC 5424 section 6.3.3: '"', '\' and ']' are escaped with a backslash in PARAM-VALUE. */
export function sdEscape(s: string): string {
  return SD_SPECIAL.test(s) ? s.replace(SD_SPECIALS, (c) => `\\${c}`) : s;
}

const SD_SPECIAL = /["\\\]]/;
const SD_SPECIALS = /["\\\]]/g;

/** The IANA example enterprise number (RFC 5612); the SD-ID is utmp@32473. */
export const SD_ID = 'utmp@32473';

export function structuredData(r: ShipRecord): string {
  const p = (name: string, value: string): string => ` ${name}="${sdEscape(value)}"`;
  return (
    `[${SD_ID}` +
    p('event', r.kind) +
    p('user', safeField(r.user)) +
    p('line', safeField(r.line)) +
    p('host', safeField(r.host)) +
    p('type', r.typeName) +
    p('pid', String(r.pid)) +
    p('id', safeField(r.id)) +
    p('addr', r.address) +
    p('rec', r.hash.slice(0, 16)) +
    ']'
  );
}

/** "2026-12-02T08:30:00.123456Z"; out of Date's range: the epoch's nil value "-". */
export function timestamp5424(tvSec: number, tvUsec: number): string {
  const d = new Date(tvSec * 1000);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1 || d.getUTCFullYear() > 9999) return '-';
  const usec = Math.min(Math.max(Math.trunc(tvUsec), 0), 999_999);
  return `${d.toISOString().slice(0, 19)}.${String(usec).padStart(6, '0')}Z`;
}

export interface SyslogIdentity {
  /** HOSTNAME (RFC 5424: printable US-ASCII, at most 255). */
  hostname: string;
  appName: string;
  procId: number;
}

function printableName(s: string, max: number): string {
  const t = s.replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return t || '-';
}

/** One RFC 5424 message: <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG (the record's time). */
export function formatRfc5424(r: ShipRecord, id: SyslogIdentity): string {
  const pri = FACILITY * 8 + severity(r.kind);
  return (
    `<${pri}>1 ${timestamp5424(r.tvSec, r.tvUsec)} ${printableName(id.hostname, 255)} ${printableName(id.appName, 48)} ` +
    `${id.procId} ${r.kind} ${structuredData(r)} ${readableMessage(r)}`
  );
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Dec  2 08:30:00", local time, as syslog(3) writes it. */
export function timestamp3164(tvSec: number): string {
  const d = new Date(tvSec * 1000);
  if (Number.isNaN(d.getTime())) return 'Jan  1 00:00:00';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/**
 * What syslog(3) sends to /dev/log: <PRI>TIMESTAMP TAG[PID]: MSG, no host name. The
 * structured data rides in MSG so nothing is lost on a local socket, and leads it: the
 * readable text holds a user's own ut_host, which could spell a fake element, so the
 * first element of our SD-ID must always be the real one.
 */
export function formatRfc3164(r: ShipRecord, id: SyslogIdentity): string {
  const pri = FACILITY * 8 + severity(r.kind);
  return `<${pri}>${timestamp3164(r.tvSec)} ${printableName(id.appName, 32)}[${id.procId}]: ${structuredData(r)} ${readableMessage(r)}`;
}

/** One JSON object (no newline); every text field escaped like the syslog forms. */
export function formatJson(r: ShipRecord, hostname: string): string {
  return JSON.stringify({
    event: r.kind,
    message: readableMessage(r),
    type: r.typeName,
    user: safeField(r.user),
    line: safeField(r.line),
    id: safeField(r.id),
    host: safeField(r.host),
    address: r.address,
    pid: r.pid,
    time: timestamp5424(r.tvSec, r.tvUsec),
    tvSec: r.tvSec,
    tvUsec: r.tvUsec,
    hostname,
    rec: r.hash.slice(0, 16),
    messageId: messageId(r.kind),
  });
}

/**
 * One datagram of journald's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): a
 * field is NAME=value\n, or, when the value holds a newline, NAME\n, its length as a
 * 64-bit little-endian integer, the value, \n.
 */
const NL = Buffer.of(0x0a);

export function journalField(name: string, value: Buffer): Buffer {
  if (!value.includes(0x0a)) return Buffer.concat([Buffer.from(`${name}=`, 'latin1'), value, NL]);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(value.length));
  return Buffer.concat([Buffer.from(`${name}\n`, 'latin1'), size, value, NL]);
}

export function formatJournal(r: ShipRecord, identifier = 'utmps'): Buffer {
  const text = (s: string): Buffer => Buffer.from(s, 'utf8');
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  return Buffer.concat([
    journalField('MESSAGE', text(readableMessage(r))),
    journalField('MESSAGE_ID', text(messageId(r.kind))),
    journalField('PRIORITY', text(String(severity(r.kind)))),
    journalField('SYSLOG_FACILITY', text(String(FACILITY))),
    journalField('SYSLOG_IDENTIFIER', text(identifier)),
    journalField('UTMP_EVENT', text(r.kind)),
    journalField('UTMP_TYPE', text(r.typeName)),
    journalField('UTMP_USER', raw(r.user)),
    journalField('UTMP_LINE', raw(r.line)),
    journalField('UTMP_HOST', raw(r.host)),
    journalField('UTMP_ID', raw(r.id)),
    journalField('UTMP_PID', text(String(r.pid))),
    journalField('UTMP_ADDR', text(r.address)),
    journalField('UTMP_TIME_USEC', text(String(BigInt(r.tvSec) * 1_000_000n + BigInt(r.tvUsec)))),
    journalField('UTMP_RECORD', text(r.hash.slice(0, 16))),
  ]);
}
