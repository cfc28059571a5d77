// `utmps timeline`: who was on when, as one self-contained SVG. Pure: the caller feeds the
// sessions `last` pairs (LastPairing with -x, the same code, so the picture agrees with
// `last`) and the failed logins lastb lists, then asks for the SVG text.
//
// Picture: one row per user (or per line); each session a bar from login to its end
// (open sessions reach the right edge, lighter); boots, shutdowns and crashes as
// full-height marks; failed logins as ticks in a row of their own; a time axis with ticks
// at round local times (minutes to years). Every bar, mark and tick has a <title>
// tooltip. Record text is XML-escaped after controls are made visible (escape.ts), so no
// record can add markup or raw control characters (docs/SECURITY.md promise 25).

import { safeText } from './escape.js';
import { type EndStatus, type Session, STATUS_TEXT } from './last.js';
import { utf8 } from './text.js';
import { isoTime, localParts, localSeconds } from './time.js';
import { hostAt } from './view.js';

export type TimelineBy = 'user' | 'line';

export interface TimelineSession {
  /** latin1 byte strings, as in the record. */
  user: string;
  line: string;
  host: string;
  login: number;
  /** null: no end known (still logged in, gone). */
  end: number | null;
  status: EndStatus;
}

export type MarkKind = 'boot' | 'shutdown' | 'crash';

export interface TimelineMark {
  kind: MarkKind;
  time: number;
}

export interface FailedLogin {
  user: string;
  host: string;
  time: number;
}

export const COLORS = {
  background: '#ffffff',
  session: '#1f77b4',
  open: '#9ec5ea',
  boot: '#2ca02c',
  shutdown: '#555555',
  crash: '#d62728',
  failed: '#ff7f0e',
  grid: '#e4e4e4',
  text: '#222222',
} as const;

// Geometry, in SVG user units (pixels at scale 1).
export const GEOMETRY = { width: 1200, left: 170, right: 20, top: 48, rowHeight: 20, barHeight: 12, axisHeight: 46 } as const;


/**
 * A record field (a latin1 byte string) for XML: controls visible (\xHH), then decoded
 * from UTF-8, then markup-escaped. Only for record bytes: our own text is plain.
 */
export function xmlText(bytes: string): string {
  return utf8(safeText(bytes))
    .replace(/[\uFFFE\uFFFF]/g, '\uFFFD') // not characters in XML 1.0
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Collects what the picture shows. Sessions outside [since, until] (when given) are
 * dropped as they come, so memory follows the window, not the file.
 */
export class Timeline {
  readonly sessions: TimelineSession[] = [];
  readonly marks: TimelineMark[] = [];
  failed: FailedLogin[] | null = null;
  private earliest = Number.POSITIVE_INFINITY;
  private latest = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly by: TimelineBy,
    private readonly since?: number,
    private readonly until?: number,
  ) {}

  private inWindow(from: number, to: number): boolean {
    return (this.since === undefined || to >= this.since) && (this.until === undefined || from <= this.until);
  }

  private extend(from: number, to: number): void {
    if (from < this.earliest) this.earliest = from;
    if (to > this.latest) this.latest = to;
  }

  /** A LastPairing sink (pairing run with system: true). */
  readonly add = (s: Session): boolean => {
    switch (s.kind) {
      case 'login': {
        const open = s.status === 'logged-in' || s.status === 'gone' || s.status === 'running';
        const end = open ? null : s.end;
        if (!this.inWindow(s.login, end ?? Number.POSITIVE_INFINITY)) break;
        this.sessions.push({ user: s.user, line: s.line, host: hostAt(s.buf, s.at), login: s.login, end, status: s.status });
        this.extend(s.login, end ?? s.login);
        break;
      }
      case 'reboot':
        this.mark('boot', s.login);
        break;
      case 'shutdown':
        this.mark('shutdown', s.login);
        break;
      case 'runlevel':
        // Run levels 0 and 6 end the sessions as a shutdown does, in last as here.
        if (s.line === '(to lvl 0)' || s.line === '(to lvl 6)') this.mark('shutdown', s.login);
        break;
      default:
        break;
    }
    return true;
  };

  private mark(kind: MarkKind, time: number): void {
    if (!this.inWindow(time, time)) return;
    this.marks.push({ kind, time });
    this.extend(time, time);
  }

  /** A lastb-mode LastPairing sink: one failed login. */
  readonly addFailed = (s: Session): boolean => {
    if (this.inWindow(s.login, s.login)) {
      (this.failed ??= []).push({ user: s.user, host: hostAt(s.buf, s.at), time: s.login });
      this.extend(s.login, s.login);
    }
    return true;
  };

  /** Say that btmp was read (an empty btmp still gets its row). */
  btmpRead(): void {
    this.failed ??= [];
  }

  /**
   * Crashes: a boot whose nearest earlier boot or shutdown is a boot (the system went down
   * without a shutdown record). The crash mark sits at that boot, where `last` ends the
   * sessions it cut short with "crash".
   */
  private crashes(): TimelineMark[] {
    const system = [...this.marks].sort((a, b) => a.time - b.time);
    const out: TimelineMark[] = [];
    for (let i = 1; i < system.length; i++) {
      if (system[i].kind === 'boot' && system[i - 1].kind === 'boot') out.push({ kind: 'crash', time: system[i].time });
    }
    // A session `last` ended with "crash" names the boot too (its earlier boot may be outside the window).
    for (const s of this.sessions) {
      if (s.status === 'crash' && s.end !== null && !out.some((m) => m.time === s.end)) out.push({ kind: 'crash', time: s.end });
    }
    return out;
  }

  /** The SVG document. now: where open sessions end when no --until is given. */
  svg(now: number): string {
    const g = GEOMETRY;
    let from = this.since ?? (Number.isFinite(this.earliest) ? this.earliest : now - 3600);
    let to = this.until ?? Math.max(now, Number.isFinite(this.latest) ? this.latest : now);
    if (to <= from) to = from + 60;
    const span = to - from;
    // A little room on both sides when the window comes from the data.
    if (this.since === undefined) from -= Math.max(1, Math.round(span * 0.01));
    if (this.until === undefined) to += Math.max(1, Math.round(span * 0.01));
    const plotW = g.width - g.left - g.right;
    const x = (t: number): number => g.left + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * plotW;
    const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

    const key = (s: TimelineSession): string => (this.by === 'user' ? s.user : s.line);
    const rows = [...new Set(this.sessions.map(key))].sort(byteOrder);
    const rowIndex = new Map(rows.map((r, i) => [r, i]));
    const failedRow = this.failed === null ? 0 : 1;
    const plotH = Math.max(1, rows.length + failedRow) * g.rowHeight;
    const height = g.top + plotH + g.axisHeight;
    const plotBottom = g.top + plotH;

    const out: string[] = [];
    out.push('<?xml version="1.0" encoding="UTF-8"?>');
    out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${g.width}" height="${height}" viewBox="0 0 ${g.width} ${height}" font-family="sans-serif" font-size="11" fill="${COLORS.text}">`);
    const heading = `Sessions by ${this.by}, ${isoTime(from)} to ${isoTime(to)}`;
    out.push(`<title>${heading}</title>`);
    out.push(`<rect x="0" y="0" width="${g.width}" height="${height}" fill="${COLORS.background}"/>`);
    out.push(`<text x="${g.left}" y="18" font-size="13">${heading}</text>`);
    out.push(legend(g.left, 36));

    // Axis ticks and grid.
    out.push('<g class="axis">');
    out.push(`<line x1="${g.left}" y1="${plotBottom}" x2="${g.width - g.right}" y2="${plotBottom}" stroke="${COLORS.text}" stroke-width="1"/>`);
    let lastDay = '';
    for (const tick of axisTicks(from, to)) {
      const tx = f1(x(tick.time));
      out.push(`<line class="grid" x1="${tx}" y1="${g.top}" x2="${tx}" y2="${plotBottom}" stroke="${COLORS.grid}" stroke-width="1"/>`);
      out.push(`<line x1="${tx}" y1="${plotBottom}" x2="${tx}" y2="${plotBottom + 5}" stroke="${COLORS.text}" stroke-width="1"/>`);
      out.push(`<text class="tick" x="${tx}" y="${plotBottom + 17}" text-anchor="middle">${tick.label}</text>`);
      if (tick.day !== undefined && tick.day !== lastDay) {
        out.push(`<text class="day" x="${tx}" y="${plotBottom + 31}" text-anchor="middle">${tick.day}</text>`);
        lastDay = tick.day;
      }
    }
    out.push('</g>');

    // Row labels and the row bands' separators.
    out.push('<g class="rows">');
    rows.forEach((r, i) => {
      const y = g.top + i * g.rowHeight;
      const label = r.length > 24 ? `${xmlText(r.slice(0, 23))}…` : xmlText(r);
      out.push(`<text class="row" x="${g.left - 6}" y="${y + g.rowHeight / 2 + 4}" text-anchor="end">${label}</text>`);
    });
    if (failedRow) {
      const y = g.top + rows.length * g.rowHeight;
      out.push(`<text class="row" x="${g.left - 6}" y="${y + g.rowHeight / 2 + 4}" text-anchor="end">failed logins</text>`);
    }
    out.push('</g>');

    // Sessions: one rect per session, oldest first.
    out.push('<g class="sessions">');
    const sessions = [...this.sessions].sort((a, b) => a.login - b.login);
    for (const s of sessions) {
      const i = rowIndex.get(key(s))!;
      const x1 = x(s.login);
      const x2 = s.end === null ? x(to) : x(s.end);
      const w = Math.max(1, x2 - x1);
      const y = g.top + i * g.rowHeight + (g.rowHeight - g.barHeight) / 2;
      const fill = s.end === null ? COLORS.open : COLORS.session;
      // Only the record's fields are byte strings to escape; the rest is our own text.
      const tip = `${xmlText(s.user)} on ${xmlText(s.line)}${s.host === '' ? '' : ` from ${xmlText(s.host)}`}: ${isoTime(s.login)} – ${s.end === null ? '' : `${isoTime(s.end)} `}(${STATUS_TEXT[s.status] ?? ''})`;
      out.push(`<rect class="session" x="${f1(x1)}" y="${y}" width="${f1(w)}" height="${g.barHeight}" fill="${fill}"><title>${tip}</title></rect>`);
    }
    out.push('</g>');

    // Boots, shutdowns, crashes: full-height lines.
    out.push('<g class="marks">');
    const marks = [...this.marks, ...this.crashes()].sort((a, b) => a.time - b.time);
    for (const m of marks) {
      const mx = f1(x(m.time));
      const dash = m.kind === 'shutdown' ? ' stroke-dasharray="4 3"' : '';
      const width = m.kind === 'crash' ? 3 : 2;
      const what = m.kind === 'crash' ? `crash (before the boot at ${isoTime(m.time)})` : `${m.kind === 'boot' ? 'system boot' : 'system down'} at ${isoTime(m.time)}`;
      out.push(`<line class="mark ${m.kind}" x1="${mx}" y1="${g.top - 4}" x2="${mx}" y2="${plotBottom}" stroke="${COLORS[m.kind]}" stroke-width="${width}"${dash}><title>${what}</title></line>`);
    }
    out.push('</g>');

    // Failed logins: ticks in their own row.
    if (this.failed !== null) {
      out.push('<g class="failed">');
      const y = g.top + rows.length * g.rowHeight;
      for (const f of [...this.failed].sort((a, b) => a.time - b.time)) {
        const fx = f1(x(f.time));
        const tip = `failed login: ${f.user === '' ? '(none)' : xmlText(f.user)}${f.host === '' ? '' : ` from ${xmlText(f.host)}`} at ${isoTime(f.time)}`;
        out.push(`<line class="failed" x1="${fx}" y1="${y + 3}" x2="${fx}" y2="${y + g.rowHeight - 3}" stroke="${COLORS.failed}" stroke-width="2"><title>${tip}</title></line>`);
      }
      out.push('</g>');
    }
    out.push('</svg>');
    return `${out.join('\n')}\n`;
  }
}

function legend(x0: number, y: number): string {
  const items: Array<[string, string, 'bar' | 'line' | 'dash']> = [
    ['session', COLORS.session, 'bar'],
    ['still open', COLORS.open, 'bar'],
    ['boot', COLORS.boot, 'line'],
    ['shutdown', COLORS.shutdown, 'dash'],
    ['crash', COLORS.crash, 'line'],
    ['failed login', COLORS.failed, 'line'],
  ];
  const parts: string[] = ['<g class="legend">'];
  let x = x0;
  for (const [label, color, shape] of items) {
    if (shape === 'bar') parts.push(`<rect x="${x}" y="${y - 9}" width="18" height="9" fill="${color}"/>`);
    else parts.push(`<line x1="${x + 9}" y1="${y - 11}" x2="${x + 9}" y2="${y + 1}" stroke="${color}" stroke-width="2"${shape === 'dash' ? ' stroke-dasharray="3 2"' : ''}/>`);
    parts.push(`<text x="${x + 22}" y="${y}">${label}</text>`);
    x += 30 + label.length * 6.5;
  }
  parts.push('</g>');
  return parts.join('');
}

// ---- the time axis ----

export interface AxisTick {
  time: number;
  label: string;
  /** Sub-day steps: the date, shown under the first tick of each day. */
  day?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;
// Steps below a day, in seconds; then days; then months.
const SUBDAY = [MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR];
const DAYS = [1, 2, 7, 14];
const MONTH_STEPS = [1, 2, 3, 6, 12, 24, 60, 120];
const MAX_TICKS = 10;

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Ticks at round local times: at most MAX_TICKS (a few more at month ends), between from and to. */
export function axisTicks(from: number, to: number): AxisTick[] {
  const span = to - from;
  const ticks: AxisTick[] = [];
  // Record times are the writer's: past Date's range there is no calendar to tick.
  if (!(span >= 0) || Number.isNaN(new Date(from * 1000).getTime()) || Number.isNaN(new Date(to * 1000).getTime())) return ticks;
  const start = localParts(from);
  const y0 = start.year;
  const m0 = start.month;
  const d0 = start.day;
  const sub = SUBDAY.find((s) => span / s <= MAX_TICKS);
  if (sub !== undefined) {
    // Whole multiples of the step from each local midnight (a DST day keeps its midnight).
    for (let d = 0; ; d++) {
      const midnight = localSeconds(y0, m0, d0 + d, 0, 0, 0);
      if (midnight > to) break;
      const next = localSeconds(y0, m0, d0 + d + 1, 0, 0, 0);
      for (let t = midnight; t < next && t <= to; t += sub) {
        if (t < from) continue;
        const p = localParts(t);
        ticks.push({ time: t, label: `${p2(p.hour)}:${p2(p.minute)}`, day: `${MONTHS[p.month - 1]} ${p.day} ${p.year}` });
      }
    }
    return ticks;
  }
  const days = DAYS.find((s) => span / (s * DAY) <= MAX_TICKS);
  if (days !== undefined) {
    for (let d = 0; ; d++) {
      const t = localSeconds(y0, m0, d0 + d, 0, 0, 0);
      if (t > to) break;
      if (t < from) continue;
      const p = localParts(t);
      // Day steps count from the 1st of the month (2 days) or fall on Mondays (weeks).
      if (days === 2 && (p.day - 1) % 2 !== 0) continue;
      if (days >= 7 && p.weekday !== 1) continue;
      if (days === 14 && ticks.length > 0 && t - ticks[ticks.length - 1].time < 13 * DAY) continue;
      ticks.push({ time: t, label: `${MONTHS[p.month - 1]} ${p.day}` });
    }
    return ticks;
  }
  // Beyond the steps: whole years, as many as keep MAX_TICKS (times may span millennia).
  const months = MONTH_STEPS.find((s) => span / (s * 30.44 * DAY) <= MAX_TICKS) ?? 12 * Math.ceil(span / (MAX_TICKS * 365.25 * DAY));
  // Only the months the step keeps: a loop over every month of a long span never ends.
  const first = (months - ((y0 * 12 + m0 - 1) % months)) % months;
  for (let k = first; ; k += months) {
    const t = localSeconds(y0, m0 + k, 1, 0, 0, 0);
    if (t > to) break;
    if (t < from) continue;
    const p = localParts(t);
    if (((p.year * 12 + p.month - 1) % months) !== 0) continue;
    ticks.push({ time: t, label: months >= 12 ? String(p.year) : `${MONTHS[p.month - 1]} ${p.year}` });
  }
  return ticks;
}
