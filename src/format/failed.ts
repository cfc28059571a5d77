// `lastb --summary`: failed logins counted per user and per source host, for "who is
// guessing passwords here". Pure: fed the sessions lastb would list (so the window, the
// filters and the total agree with lastb's lines), it prints text or JSON.
//
// Memory is one entry per distinct user and per distinct host (plus the users seen per
// host), never one per record.

import { safeText } from './escape.js';
import { addressTextUnmapped } from './inet.js';
import type { Session } from './last.js';
import { utf8 } from './text.js';
import { isoTime } from './time.js';
import { ADDR_OFFSET, hostAt } from './view.js';

interface Tally {
  count: number;
  first: number;
  last: number;
}

interface HostTally extends Tally {
  users: Set<string>;
}

export interface FailedSummaryJson {
  since: string | null;
  until: string | null;
  total: number;
  first: string | null;
  last: string | null;
  users: Array<{ user: string; count: number; first: string; last: string }>;
  hosts: Array<{ host: string; count: number; users: number; first: string; last: string }>;
}

function bump(t: Tally, at: number): void {
  t.count++;
  if (at < t.first) t.first = at;
  if (at > t.last) t.last = at;
}

/** Most attempts first, then by name (byte order), so the output is stable. */
function ranked<T extends Tally>(map: Map<string, T>): Array<[string, T]> {
  return [...map].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const ZERO_V4 = '0.0.0.0';

export class FailedSummary {
  private readonly users = new Map<string, Tally>();
  private readonly hosts = new Map<string, HostTally>();
  private total = 0;
  private first = Number.POSITIVE_INFINITY;
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    /** The window asked for (--since / --until), shown in the heading. */
    private readonly since?: number,
    private readonly until?: number,
  ) {}

  /** One failed login, as lastb lists it. */
  add(s: Session): void {
    const at = s.login;
    this.total++;
    if (at < this.first) this.first = at;
    if (at > this.last) this.last = at;
    const user = s.user;
    let u = this.users.get(user);
    if (!u) this.users.set(user, (u = { count: 0, first: at, last: at }));
    bump(u, at);
    // The source: ut_host, else the address when it is set, else none ("").
    let host = hostAt(s.buf, s.at);
    if (host === '') {
      const address = addressTextUnmapped(s.buf, s.at + ADDR_OFFSET);
      if (address !== ZERO_V4) host = address;
    }
    let h = this.hosts.get(host);
    if (!h) this.hosts.set(host, (h = { count: 0, first: at, last: at, users: new Set() }));
    bump(h, at);
    h.users.add(user);
  }

  json(): FailedSummaryJson {
    const iso = (t: number | undefined): string | null => (t === undefined ? null : isoTime(t));
    const some = this.total > 0;
    return {
      since: iso(this.since),
      until: iso(this.until),
      total: this.total,
      first: some ? isoTime(this.first) : null,
      last: some ? isoTime(this.last) : null,
      users: ranked(this.users).map(([user, t]) => ({ user: utf8(user), count: t.count, first: isoTime(t.first), last: isoTime(t.last) })),
      hosts: ranked(this.hosts).map(([host, t]) => ({ host: utf8(host), count: t.count, users: t.users.size, first: isoTime(t.first), last: isoTime(t.last) })),
    };
  }

  /**
   * The text report (docs/READERS.md): a heading line, then a users table and a hosts
   * table, most attempts first. Names go last on their line, in full, controls escaped;
   * an empty name shows as "(none)". Latin1, like every reader's text.
   */
  text(): string {
    const from = this.since ?? (this.total > 0 ? this.first : undefined);
    const to = this.until ?? (this.total > 0 ? this.last : undefined);
    let head = `${this.total} failed login${this.total === 1 ? '' : 's'}`;
    if (from !== undefined) head += ` from ${isoTime(from)}`;
    if (to !== undefined) head += ` to ${isoTime(to)}`;
    const name = (s: string): string => (s === '' ? '(none)' : safeText(s));
    const count = (n: number): string => String(n).padStart(7);
    const lines = [head, '', '  COUNT LAST                      USER'];
    for (const [user, t] of ranked(this.users)) lines.push(`${count(t.count)} ${isoTime(t.last)} ${name(user)}`);
    lines.push('', '  COUNT USERS LAST                      HOST');
    for (const [host, t] of ranked(this.hosts)) lines.push(`${count(t.count)} ${String(t.users.size).padStart(5)} ${isoTime(t.last)} ${name(host)}`);
    return `${lines.join('\n')}\n`;
  }
}
