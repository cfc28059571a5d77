// Time arguments of `last -s/-t/-p`, in the forms util-linux accepts (local time):
//   YYYY-MM-DD hh:mm:ss   YYYY-MM-DDThh:mm:ss   YYYY-MM-DD hh:mm   YYYY-MM-DD
//   YYYYMMDDhhmmss        hh:mm:ss   hh:mm (today)
//   now  today  yesterday  tomorrow   (the last three at midnight)
//   +5min  -2days  "1h 30min ago"      (relative to now)
// An absolute date may start with its weekday ("Tue 2023-11-14"), which must be right.

import { localParts, localSeconds } from './time.js';

const UNITS: ReadonlyArray<readonly [RegExp, number]> = [
  [/^(?:usec|us|µs)$/, 1e-6],
  [/^(?:msec|ms)$/, 1e-3],
  [/^(?:seconds?|secs?|s)$/, 1],
  [/^(?:minutes?|min|m)$/, 60],
  [/^(?:hours?|hr|h)$/, 3600],
  [/^(?:days?|d)$/, 86_400],
  [/^(?:weeks?|w)$/, 604_800],
  [/^(?:months?|M)$/, 2_629_800],
  [/^(?:years?|y)$/, 31_557_600],
];

function span(text: string): number | undefined {
  let total = 0;
  let rest = text.trim();
  if (rest === '') return undefined;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)\s*([^\d\s.]*)\s*/.exec(rest);
    if (!m) return undefined;
    const unit = m[2] === '' ? 1 : UNITS.find(([re]) => re.test(m[2]))?.[1];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    rest = rest.slice(m[0].length);
  }
  return total;
}

const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function midnight(now: number, days: number): number {
  const p = localParts(now);
  return localSeconds(p.year, p.month, p.day + days, 0, 0, 0);
}

function inRange(n: number, min: number, max: number): boolean {
  return n >= min && n <= max;
}

function absolute(text: string, now: number): number | undefined {
  let rest = text;
  let weekday = -1;
  const w = /^([A-Za-z]{3})[A-Za-z]*\s+/.exec(rest);
  if (w) {
    weekday = WEEKDAYS.indexOf(w[1].toLowerCase());
    if (weekday < 0) return undefined;
    rest = rest.slice(w[0].length);
  }
  let date: [number, number, number] | undefined;
  let clock: [number, number, number] = [0, 0, 0];
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(rest))) {
    date = [Number(m[1]), Number(m[2]), Number(m[3])];
    clock = [Number(m[4]), Number(m[5]), Number(m[6])];
  } else if ((m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(rest))) {
    date = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (m[4] !== undefined) clock = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  } else if ((m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(rest))) {
    clock = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  } else {
    return undefined;
  }
  if (!inRange(clock[0], 0, 23) || !inRange(clock[1], 0, 59) || !inRange(clock[2], 0, 60)) return undefined;
  if (date && (!inRange(date[1], 1, 12) || !inRange(date[2], 1, 31))) return undefined;
  const [y, mo, d] = date ?? (() => {
    const p = localParts(now);
    return [p.year, p.month, p.day] as [number, number, number];
  })();
  const t = localSeconds(y, mo, d, ...clock);
  if (weekday >= 0 && localParts(t).weekday !== weekday) return undefined;
  return t;
}

/** Seconds since the epoch, or undefined when the text is not a time we understand. */
export function parseTimeSpec(text: string, now: number): number | undefined {
  const s = text.trim();
  switch (s) {
    case 'now':
      return now;
    case 'today':
      return midnight(now, 0);
    case 'yesterday':
      return midnight(now, -1);
    case 'tomorrow':
      return midnight(now, 1);
  }
  let rel: number | undefined;
  if (s.startsWith('+')) rel = span(s.slice(1));
  else if (s.startsWith('-')) rel = -(span(s.slice(1)) ?? Number.NaN);
  else if (/\sago$/.test(s)) rel = -(span(s.slice(0, -3)) ?? Number.NaN);
  if (rel !== undefined) return Number.isFinite(rel) ? Math.floor(now + rel) : undefined;
  return absolute(s, now);
}
