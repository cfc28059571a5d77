// utmps last: login history from wtmp files, newest first, like util-linux last
// (differences: docs/READERS.md). Reads each file backwards in blocks.

import { terminalSafeJson } from '../format/text.js';
import { parseArgs } from 'node:util';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import {
  beginsLine,
  copySession,
  LastPairing,
  lastLine,
  type LineOptions,
  MAX_FAST_LINE,
  type Session,
  sessionJson,
  TIME_FORMATS,
  type TimeFormat,
  writeLastLine,
} from '../format/last.js';
import { addressTextUnmapped } from '../format/inet.js';
import { isoTime } from '../format/time.js';
import { ADDR_OFFSET } from '../format/view.js';
import { FileSource, type RecordSource } from './record-source.js';
import { loadLoginProbe, loginBeforeBoot, type LoginProbe, systemBootTime } from './login-probe.js';
import { Exit, fatalError, formatOption, Output, parseOptions, reason, usageError, valueError, writeAll } from './utmps-io.js';

const VERSION = '0.1.0';

const USAGE =
  'utmps last [ -f file ]... [ -n num | -num ] [ -s time ] [ -t time ] [ -p time ] [ -x ] [ -F ] [ -d ] [ -i ] [ -w ] [ -a | -R ] ' +
  '[ --time-format notime|short|full|iso ] [ --format utmps|glibc ] [ --json ] [ user | tty ]...\n' +
  '       utmps last --follow [ -W wtmpd-socket ] [ --json ] [ user | tty ]...';

/** The options last and lastb share, for both --help texts. */
export const COMMON_HELP = `  -f, --file FILE        read FILE (repeatable)
  -n, --limit N, -N      stop after N lines
  -s, --since TIME       only records from TIME on
  -t, --until TIME       only records up to TIME
  -p, --present TIME     only sessions that include TIME
  -x, --system           also shutdowns, run level and clock changes
  -F, --fulltimes        full login and logout times (--time-format full)
  -d, --dns              the address's name (getnameinfo), or the address without one
  -i, --ip               the IP address instead of the host name
  -w, --fullnames        user and host names in full
  -a, --hostlast         the host in the last column
  -R, --nohostname       no host column
      --time-format F    notime, short, full or iso
      --format F         the file's layout, utmps or glibc (default: detected)
      --json             one JSON document instead of text
  -V, --version          print the version
  -h, --help             print this help
`;

export const TIME_HELP =
  'TIME: YYYY-MM-DD[ hh:mm[:ss]], YYYYMMDDhhmmss, hh:mm[:ss], now, today, yesterday, tomorrow, +5min, -2days, "1h ago".\n';

const HELP = `usage: ${USAGE}

Shows logins and logouts from wtmp, newest first (util-linux last's output).
  Without -f: $UTMPS_WTMP_FILE, else /var/log/wtmp.
${COMMON_HELP}      --follow           print new records as they are appended, read through the
                         wtmpd socket (one JSON object per line with --json)
  -W, --socket PATH      wtmpd socket for --follow (default $UTMPS_WTMPD_SOCKET,
                         else /run/utmps/.wtmpd-socket)
${TIME_HELP}`;

const OPTIONS = {
  file: { type: 'string', short: 'f', multiple: true },
  limit: { type: 'string', short: 'n' },
  since: { type: 'string', short: 's' },
  until: { type: 'string', short: 't' },
  present: { type: 'string', short: 'p' },
  system: { type: 'boolean', short: 'x' },
  fulltimes: { type: 'boolean', short: 'F' },
  dns: { type: 'boolean', short: 'd' },
  ip: { type: 'boolean', short: 'i' },
  fullnames: { type: 'boolean', short: 'w' },
  hostlast: { type: 'boolean', short: 'a' },
  nohostname: { type: 'boolean', short: 'R' },
  'time-format': { type: 'string' },
  format: { type: 'string' },
  json: { type: 'boolean' },
  follow: { type: 'boolean' },
  socket: { type: 'string', short: 'W' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: 'h' },
} as const;

// -d waits this long for one name; an address without an answer by then prints as itself.
const DNS_TIMEOUT_MS = 2000;

/**
 * -d: names for addresses, as last gets them from getnameinfo (numeric when there is no
 * name). Lookups are asynchronous, so lines wait in a queue (at most one block's worth)
 * until the names they need are known, and go out in order.
 */
class Names {
  private readonly known = new Map<string, string | null>();
  private readonly queue: Session[] = [];
  /** Lookups that timed out but still run (getnameinfo cannot be cancelled). */
  stragglers = 0;

  constructor(private readonly print: (s: Session) => void) {}

  readonly name = (address: string): string | undefined => this.known.get(address) ?? undefined;

  /** A line to print: now if its name is known and nothing waits, else queued (copied). */
  add(s: Session): void {
    const address = addressTextUnmapped(s.buf, s.at + ADDR_OFFSET);
    if (this.queue.length === 0 && this.known.has(address)) {
      this.print(s);
      return;
    }
    this.queue.push(copySession(s));
  }

  async flush(): Promise<void> {
    if (this.queue.length === 0) return;
    const wanted = new Set<string>();
    for (const s of this.queue) {
      const address = addressTextUnmapped(s.buf, ADDR_OFFSET);
      if (!this.known.has(address)) wanted.add(address);
    }
    await Promise.all([...wanted].map(async (a) => this.known.set(a, await this.lookup(a))));
    for (const s of this.queue) this.print(s);
    this.queue.length = 0;
  }

  private async lookup(address: string): Promise<string | null> {
    const { lookupService } = await import('node:dns/promises');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => {
        this.stragglers++;
        resolve(null);
      }, DNS_TIMEOUT_MS);
    });
    const ask = lookupService(address, 0).then(
      (r) => r.hostname,
      () => null,
    );
    try {
      return await Promise.race([ask, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** last's "-5" means "-n 5". */
export function expandCounts(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return out.concat(argv.slice(i));
    const m = /^-(\d+)$/.exec(argv[i]);
    if (m) out.push('-n', m[1]);
    else out.push(argv[i]);
  }
  return out;
}

/** The character set last would print names in: from LC_ALL, LC_CTYPE or LANG. */
function charset(): 'c' | 'utf8' {
  const env = process.env;
  return /utf-?8/i.test(env.LC_ALL || env.LC_CTYPE || env.LANG || '') ? 'utf8' : 'c';
}

/** A TIME argument of -s/-t/-p (formats: HELP), in seconds; exits 100 when invalid. */
export async function timeArg(text: string | undefined, now: number): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseTimeSpec } = await import('../format/timespec.js'); // only when asked for
  const t = parseTimeSpec(text, now);
  if (t === undefined) throw valueError(`invalid time value "${text}"`);
  return t;
}

/** What differs between `utmps last` and `utmps lastb` (src/cli/utmps-lastb.ts). */
export interface ReaderMode {
  prog: 'last' | 'lastb';
  usage: string;
  help: string;
  /** Extra options of this mode (lastb: --summary). */
  options?: Record<string, { type: 'boolean' | 'string'; short?: string }>;
  /** The sources without -f, and their names for messages. */
  defaultSources(socket: string | undefined, layout: RecordLayout | undefined): { paths: string[]; sources: Array<() => RecordSource> };
  /** Takes over after option parsing when it returns a number (lastb --summary). */
  special?(values: Record<string, unknown>, context: { sources: Array<() => RecordSource>; paths: string[]; since?: number; until?: number; filters: string[] }): Promise<number | undefined>;
}

const LAST: ReaderMode = {
  prog: 'last',
  usage: USAGE,
  help: HELP,
  defaultSources(_socket, layout) {
    const path = process.env.UTMPS_WTMP_FILE || '/var/log/wtmp';
    return { paths: [path], sources: [() => new FileSource(path, layout)] };
  },
};

export function run(argv: string[]): Promise<number> {
  return runReader(argv, LAST);
}

export async function runReader(argv: string[], mode: ReaderMode): Promise<number> {
  const options = { ...OPTIONS, ...mode.options };
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: expandCounts(argv), options, allowPositionals: true, strict: true }), mode.usage);
  if (v.help) {
    process.stdout.write(mode.help);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`utmps ${mode.prog} from utmps-ts ${VERSION}\n`);
    return 0;
  }
  if (v.follow && mode.prog === 'lastb') throw usageError(mode.usage, 'lastb has no --follow');
  if (v.follow) {
    const { follow } = await import('./utmps-follow.js'); // only when asked for
    return follow({ socket: v.socket, json: v.json ?? false, filters: positionals });
  }
  const now = Math.floor(Date.now() / 1000);
  const layout = formatOption(v.format);
  let timeFormat: TimeFormat = v.fulltimes ? 'full' : 'short';
  if (v['time-format'] !== undefined) {
    if (!TIME_FORMATS.includes(v['time-format'] as TimeFormat)) {
      throw valueError(`unknown time format '${v['time-format']}' (expected notime, short, full or iso)`);
    }
    timeFormat = v['time-format'] as TimeFormat;
  }
  let limit = 0;
  if (v.limit !== undefined) {
    if (!/^\d+$/.test(v.limit)) throw valueError(`invalid number of lines: ${v.limit}`);
    limit = Number(v.limit);
  }
  const since = await timeArg(v.since, now);
  const until = await timeArg(v.until, now);
  const present = await timeArg(v.present, now);
  const { paths, sources } = v.file
    ? { paths: v.file, sources: v.file.map((path) => () => new FileSource(path, layout)) }
    : mode.defaultSources(v.socket, layout);
  if (mode.special) {
    const done = await mode.special(v, { sources, paths, since, until, filters: positionals });
    if (done !== undefined) return done;
  }
  const lineOptions: LineOptions = { timeFormat, ip: v.ip, fullNames: v.fullnames, hostLast: v.hostlast, noHost: v.nohostname, escape: charset() };
  // -i and -R leave nothing to look up; JSON has the address already.
  const names = v.dns && !v.ip && !v.nohostname && !v.json ? new Names((s) => out.line(lastLine(s, lineOptions))) : null;
  if (names) lineOptions.dns = names.name;

  // Only logins from this boot need the user database (and the native addon behind it).
  let probe: LoginProbe = loginBeforeBoot;
  let fullProbe = false;

  const out = new Output();
  let printed = 0;
  let firstSession = true;
  const sink = v.json
    ? (s: Session): boolean => {
        const json = terminalSafeJson(JSON.stringify(sessionJson(s)));
        // Output writes latin1 (one char per byte): JSON's non-ASCII text goes as UTF-8 bytes.
        out.write(`${firstSession ? '' : ','}\n${/[^\x00-\x7f]/.test(json) ? Buffer.from(json, 'utf8').toString('latin1') : json}`);
        firstSession = false;
        return !(limit > 0 && ++printed >= limit);
      }
    : (s: Session): boolean => {
        if (names) names.add(s);
        else {
          // Straight from the record's bytes where it can; else the string way.
          const room = out.room(MAX_FAST_LINE);
          const end = writeLastLine(s, lineOptions, room, out.pos);
          if (end >= 0) out.pos = end;
          else out.line(lastLine(s, lineOptions));
        }
        return !(limit > 0 && ++printed >= limit);
      };
  const pairing = new LastPairing(
    {
      system: v.system,
      since,
      until,
      present,
      filters: positionals.map((p) => Buffer.from(p).toString('latin1')),
      isGone: (...args) => probe(...args),
      failed: mode.prog === 'lastb',
      warn: (m) => {
        out.flush();
        writeAll(2, Buffer.from(`utmps: warning: ${m}\n`));
      },
    },
    sink,
  );

  if (v.json) out.write('{"files":[');
  for (const [index, source] of sources.entries()) {
    let src: RecordSource;
    try {
      src = source();
    } catch (e) {
      out.flush();
      throw fatalError(`unable to open ${paths[index]}: ${reason(e)}`);
    }
    try {
      const newest = src.newest();
      if (!fullProbe && newest !== null && newest >= systemBootTime()) {
        probe = await loadLoginProbe();
        fullProbe = true;
      }
      pairing.reset();
      if (v.json) {
        out.write(`${index === 0 ? '' : ','}{"file":${JSON.stringify(src.path)},"format":"${src.layoutName}","sessions":[`);
        firstSession = true;
      }
      blocks: for await (const { buf, count } of src.blocks()) {
        for (let i = count - 1; i >= 0; i--) {
          if (!pairing.push(buf, i * UTMPS_LAYOUT.size)) break blocks;
        }
        await names?.flush();
      }
      await names?.flush();
      const begins = src.begins();
      if (v.json) {
        out.write(`\n],"begins":${JSON.stringify({ tvSec: begins, time: isoTime(begins) })}}`);
      } else {
        const text = beginsLine(src.name, begins, timeFormat);
        if (text !== null) out.write(`\n${text}\n`);
      }
    } catch (e) {
      if (e instanceof Exit) throw e;
      out.flush();
      throw fatalError(`unable to read ${src.path}: ${reason(e)}`);
    } finally {
      src.close();
    }
  }
  if (v.json) out.write(']}\n');
  out.flush();
  // A lookup that timed out still holds the event loop: do not wait for it.
  if (names && names.stragglers > 0) process.exit(0);
  return 0;
}
