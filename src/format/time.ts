// Calendar times as the C tools print them (strftime in the local zone, or UTC for
// utmpdump). The zone comes from the process (TZ), read through Date; the calendar
// arithmetic is done here because `last` formats two times per line over millions of
// lines, and a Date per time would dominate the run.

const DAY = 86_400;
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** Broken-down time; one shared instance is refilled by every call (no garbage per time). */
interface Parts {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday */
  weekday: number;
  /** Seconds east of UTC. */
  offset: number;
}

const parts: Parts = { year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0, weekday: 4, offset: 0 };

/** Days since 1970-01-01 to a proleptic Gregorian date (era arithmetic, 400-year cycles). */
function setCivil(days: number): void {
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153); // March = 0
  parts.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  parts.month = mp < 10 ? mp + 3 : mp - 9;
  parts.year = yoe + era * 400 + (parts.month <= 2 ? 1 : 0);
  parts.weekday = (((days + 4) % 7) + 7) % 7;
}

/** The inverse of setCivil: days since 1970-01-01. Month and day may be out of range. */
export function daysFromCivil(year: number, month: number, day: number): number {
  const m = ((((month - 1) % 12) + 12) % 12) + 1;
  // Years start in March here, so January and February belong to the year before.
  const y = year + Math.floor((month - 1) / 12) - (m <= 2 ? 1 : 0);
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const mp = (m + 9) % 12;
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

// The zone offset, cached per day: a zone changes its offset at most once a day, so a day
// whose two ends agree has one offset throughout. A day whose ends differ is marked NaN
// and resolved per call. Records come in time order, so the last day is checked first.
const offsets = new Map<number, number>();
const MAX_DATE_SECONDS = 8.64e12;
let cachedDay = Number.NaN;
let cachedOffset = 0;

function dateOffset(sec: number): number {
  if (Math.abs(sec) > MAX_DATE_SECONDS) return 0; // beyond Date's range: print as UTC
  return Math.round(-new Date(sec * 1000).getTimezoneOffset() * 60);
}

/** Forgets cached zone offsets: for a process that changes TZ while running (tests). */
export function resetZoneCache(): void {
  offsets.clear();
  cachedDay = Number.NaN;
}

export function localOffset(sec: number): number {
  const day = Math.floor(sec / DAY);
  if (day !== cachedDay) {
    let off = offsets.get(day);
    if (off === undefined) {
      const start = dateOffset(day * DAY);
      off = start === dateOffset(day * DAY + DAY - 1) ? start : Number.NaN;
      if (offsets.size > 100_000) offsets.clear();
      offsets.set(day, off);
    }
    cachedDay = day;
    cachedOffset = off;
  }
  return Number.isNaN(cachedOffset) ? dateOffset(sec) : cachedOffset;
}

let lastDays = Number.NaN;

function breakDown(sec: number, utc: boolean): Parts {
  const offset = utc ? 0 : localOffset(sec);
  const t = sec + offset;
  const days = Math.floor(t / DAY);
  const rem = t - days * DAY;
  if (days !== lastDays) {
    setCivil(days);
    lastDays = days;
  }
  parts.hour = Math.floor(rem / 3600);
  parts.minute = Math.floor(rem / 60) % 60;
  parts.second = rem % 60;
  parts.offset = offset;
  return parts;
}

/** Local time parts of sec (the shared instance: copy what you keep). */
export function localParts(sec: number): Readonly<Parts> {
  return breakDown(sec, false);
}

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

function p2(n: number): string {
  return n >= 0 && n < 100 ? TWO_DIGITS[n] : String(n);
}

/** %e: day of month, space padded. */
function e(n: number): string {
  return n < 10 ? ` ${n}` : String(n);
}

function year4(y: number): string {
  return y >= 0 && y < 1000 ? String(y).padStart(4, '0') : String(y);
}

/** +HH:MM, as util-linux prints ISO offsets. */
function offsetText(off: number): string {
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${sign}${p2(Math.floor(a / 3600))}:${p2(Math.floor(a / 60) % 60)}`;
}

// "Tue Nov 14 " for the last day formatted: consecutive records mostly share their day.
let prefixDay = Number.NaN;
let dayPrefix = '';

function weekdayMonthDay(t: Parts): string {
  const key = t.year * 400 + t.month * 32 + t.day;
  if (key !== prefixDay) {
    prefixDay = key;
    dayPrefix = `${WEEKDAYS[t.weekday]} ${MONTHS[t.month - 1]} ${e(t.day)} `;
  }
  return dayPrefix;
}

/** "%a %b %e %H:%M": `last` login times ("Tue Nov 14 22:13"). */
export function shortTime(sec: number): string {
  const t = breakDown(sec, false);
  return `${weekdayMonthDay(t)}${p2(t.hour)}:${p2(t.minute)}`;
}

/** Two ASCII digits of 0 <= n < 100 at out[p]. */
function put2(out: Uint8Array, p: number, n: number): void {
  out[p] = 0x30 + Math.floor(n / 10);
  out[p + 1] = 0x30 + (n % 10);
}

/** shortTime(sec) written as ASCII at out[p] (16 bytes, no string made); the end. */
export function writeShortTime(out: Uint8Array, p: number, sec: number): number {
  const t = breakDown(sec, false);
  const prefix = weekdayMonthDay(t);
  for (let i = 0; i < prefix.length; i++) out[p + i] = prefix.charCodeAt(i);
  const q = p + prefix.length;
  put2(out, q, t.hour);
  out[q + 2] = 0x3a;
  put2(out, q + 3, t.minute);
  return q + 5;
}

/** clockTime(sec) written as ASCII at out[p] (5 bytes); the end. */
export function writeClockTime(out: Uint8Array, p: number, sec: number): number {
  const t = breakDown(sec, false);
  put2(out, p, t.hour);
  out[p + 2] = 0x3a;
  put2(out, p + 3, t.minute);
  return p + 5;
}

/** "%H:%M": `last` logout times in the short format. */
export function clockTime(sec: number): string {
  const t = breakDown(sec, false);
  return `${p2(t.hour)}:${p2(t.minute)}`;
}

/** "%a %b %e %H:%M:%S %Y": `last -F` and the "wtmp begins" line. */
export function fullTime(sec: number): string {
  const t = breakDown(sec, false);
  return `${weekdayMonthDay(t)}${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)} ${t.year}`;
}

/** ISO 8601 with the local offset: "2023-11-14T22:13:20+00:00". */
export function isoTime(sec: number): string {
  const t = breakDown(sec, false);
  return `${year4(t.year)}-${p2(t.month)}-${p2(t.day)}T${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)}${offsetText(t.offset)}`;
}

/** ISO 8601 with microseconds, for JSON: "2023-11-14T22:13:20.250000+00:00". */
export function isoTimeMicro(sec: number, usec: number): string {
  const base = isoTime(sec);
  if (usec === 0) return base;
  const cut = base.length - 6;
  return `${base.slice(0, cut)}.${String(usec).padStart(6, '0')}${base.slice(cut)}`;
}

/**
 * coreutils who: "%b %e %H:%M" in the C/POSIX locale, "%Y-%m-%d %H:%M" in any other.
 */
export function whoTime(sec: number, iso: boolean): string {
  const t = breakDown(sec, false);
  const hm = `${p2(t.hour)}:${p2(t.minute)}`;
  return iso ? `${year4(t.year)}-${p2(t.month)}-${p2(t.day)} ${hm}` : `${MONTHS[t.month - 1]} ${e(t.day)} ${hm}`;
}

/** utmpdump's time field, always in UTC: "2023-11-14T22:13:20,000000+00:00". */
export function dumpTime(sec: number, usec: number): string {
  const t = breakDown(sec, true);
  // C "%06d": a negative usec keeps its sign inside the width ("-00005").
  const u = usec < 0 ? `-${String(-usec).padStart(5, '0')}` : String(usec).padStart(6, '0');
  return `${year4(t.year)}-${p2(t.month)}-${p2(t.day)}T${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)},${u}+00:00`;
}

/** Seconds since the epoch of a UTC calendar time (fields may overflow, like timegm). */
export function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  return daysFromCivil(year, month, day) * DAY + hour * 3600 + minute * 60 + second;
}

/** Seconds since the epoch of a local calendar time, normalized like mktime. */
export function localSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const d = new Date(2000, 0, 1, 0, 0, 0, 0);
  d.setFullYear(year, month - 1, day);
  d.setHours(hour, minute, second, 0);
  return Math.floor(d.getTime() / 1000);
}
