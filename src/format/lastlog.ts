// `lastlog`: each user's latest login, derived from wtmp records fed newest first. Pure.
//
// A login is what `last` lists as one (lastType: USER_PROCESS after last's
// reclassification), so the two tools agree. Fed newest first, the first login seen for a
// user is that user's latest (in file order, as `last` shows it first). Memory: one entry
// per distinct user, found through the byte-keyed table last uses for ttys (no string is
// made for a user already seen).
//
// The text is shadow lastlog's (4.13): "%-16s %-8.8s %-42s%s", the time as
// "%a %b %e %H:%M:%S %z %Y", "**Never logged in**" for users without a login.

import { FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from '../record/layout.js';
import { safeText } from './escape.js';
import { lastType, LineEnds } from './last.js';
import { fieldBytes, fit, utf8 } from './text.js';
import { isoTime, localParts } from './time.js';
import { secondsAt } from './view.js';

export interface LatestLogin {
  /** latin1 byte strings, as in the record. */
  user: string;
  line: string;
  host: string;
  time: number;
}

const USER_SIZE = FIELD_SIZE.user;

/** The latest login per user, fed records newest first. */
export class LatestLogins {
  private readonly seen = new LineEnds(); // keyed by ut_user's bytes (32, like ut_line)
  readonly byUser = new Map<string, LatestLogin>();

  /** One utmps-layout record at buf[at..]. */
  push(buf: Buffer, at: number): void {
    if (lastType(buf, at) !== RecordType.USER_PROCESS) return;
    const u = at + L.user;
    let n = 0;
    while (n < USER_SIZE && buf[u + n] !== 0) n++;
    if (n === 0 || this.seen.get(buf, u, n) !== Number.NEGATIVE_INFINITY) return;
    this.seen.set(buf, u, n, 0);
    const user = buf.toString('latin1', u, u + n);
    this.byUser.set(user, {
      user,
      line: fieldBytes(buf, at + L.line, FIELD_SIZE.line),
      host: fieldBytes(buf, at + L.host, FIELD_SIZE.host),
      time: secondsAt(buf, at),
    });
  }

  get size(): number {
    return this.byUser.size;
  }
}

export interface LastlogRow {
  /** latin1 byte string. */
  user: string;
  login: LatestLogin | null;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** strftime "%a %b %e %H:%M:%S %z %Y" in local time, as shadow lastlog prints it. */
export function lastlogTime(sec: number): string {
  const t = localParts(sec);
  const off = Math.abs(t.offset);
  const zone = `${t.offset < 0 ? '-' : '+'}${p2(Math.floor(off / 3600))}${p2(Math.floor(off / 60) % 60)}`;
  const day = t.day < 10 ? ` ${t.day}` : String(t.day);
  return `${WEEKDAYS[t.weekday]} ${MONTHS[t.month - 1]} ${day} ${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)} ${zone} ${t.year}`;
}

export const LASTLOG_HEADER = `Username         Port     From${' '.repeat(39)}Latest`;

export const NEVER = '**Never logged in**';

/** One line: fields cut and padded by bytes as shadow does, then controls escaped. */
export function lastlogLine(row: LastlogRow): string {
  const l = row.login;
  const user = safeText(row.user.padEnd(16));
  const line = safeText(fit(l?.line ?? '', 8));
  const host = safeText((l?.host ?? '').padEnd(42));
  return `${user} ${line} ${host}${l ? lastlogTime(l.time) : NEVER}`;
}

export interface LastlogJson {
  user: string;
  line: string;
  host: string;
  time: string | null;
}

export function lastlogJson(row: LastlogRow): LastlogJson {
  const l = row.login;
  return { user: utf8(row.user), line: utf8(l?.line ?? ''), host: utf8(l?.host ?? ''), time: l ? isoTime(l.time) : null };
}
