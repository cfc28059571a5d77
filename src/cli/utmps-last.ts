// utmps last: login history from wtmp files, newest first, like util-linux last
// (differences: docs/READERS.md). Reads each file backwards in blocks.

import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { UTMPS_LAYOUT } from '../record/layout.js';
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
import { ADDR_OFFSET, secondsAt } from '../format/view.js';
import { WtmpReader } from '../store/wtmp-reader.js';
import { loadLoginProbe, loginBeforeBoot, type LoginProbe, systemBootTime } from './login-probe.js';
import { Exit, fatalError, formatOption, Output, parseOptions, reason, valueError, writeAll } from './utmps-io.js';

const VERSION = '0.1.0';

const USAGE =
  'utmps last [ -f file ]... [ -n num | -num ] [ -s time ] [ -t time ] [ -p time ] [ -x ] [ -F ] [ -d ] [ -i ] [ -w ] [ -a | -R ] ' +
  '[ --time-format notime|short|full|iso ] [ --format utmps|glibc ] [ --json ] [ user | tty ]...\n' +
  '       utmps last --follow [ -W wtmpd-socket ] [ --json ] [ user | tty ]...';

const HELP = `usage: ${USAGE}

Shows logins and logouts from wtmp, newest first (util-linux last's output).
  -f, --file FILE        read FILE (repeatable); default $UTMPS_WTMP_FILE, else /var/log/wtmp
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
      --follow           print new records as they are appended, read through the
                         wtmpd socket (one JSON object per line with --json)
  -W, --socket PATH      wtmpd socket for --follow (default $UTMPS_WTMPD_SOCKET,
                         else /run/utmps/.wtmpd-socket)
TIME: YYYY-MM-DD[ hh:mm[:ss]], YYYYMMDDhhmmss, hh:mm[:ss], now, today, yesterday, tomorrow, +5min, -2days, "1h ago".
`;

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
function expandCounts(argv: string[]): string[] {
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

async function timeArg(text: string | undefined, now: number): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseTimeSpec } = await import('../format/timespec.js'); // only when asked for
  const t = parseTimeSpec(text, now);
  if (t === undefined) throw valueError(`invalid time value "${text}"`);
  return t;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: expandCounts(argv), options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`utmps last from utmps-ts ${VERSION}\n`);
    return 0;
  }
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
  const files = v.file ?? [process.env.UTMPS_WTMP_FILE || '/var/log/wtmp'];
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
        out.write(`${firstSession ? '' : ','}\n${JSON.stringify(sessionJson(s))}`);
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
      warn: (m) => {
        out.flush();
        writeAll(2, Buffer.from(`utmps: warning: ${m}\n`));
      },
    },
    sink,
  );

  if (v.json) out.write('{"files":[');
  for (const [index, path] of files.entries()) {
    let reader: WtmpReader;
    try {
      reader = WtmpReader.open(path, { layout });
    } catch (e) {
      out.flush();
      throw fatalError(`unable to open ${path}: ${reason(e)}`);
    }
    try {
      const newest = reader.count > 0 ? reader.read(reader.count - 1, 1).buf : null;
      if (!fullProbe && newest !== null && secondsAt(newest, 0) >= systemBootTime()) {
        probe = await loadLoginProbe();
        fullProbe = true;
      }
      pairing.reset();
      if (v.json) {
        out.write(`${index === 0 ? '' : ','}{"file":${JSON.stringify(path)},"format":"${reader.layout.name}","sessions":[`);
        firstSession = true;
      }
      // 256-record blocks: 96 KB reads of a glibc file. A positioned read of more than
      // about 128 KB costs the kernel 2-3 times as much per byte here (1M records read
      // backwards: 150-240 ms in 96 KB blocks, 510-570 ms in 384 KB ones).
      blocks: for (const { buf, count } of reader.blocksBackward(64, 256)) {
        for (let i = count - 1; i >= 0; i--) {
          if (!pairing.push(buf, i * UTMPS_LAYOUT.size)) break blocks;
        }
        await names?.flush();
      }
      await names?.flush();
      const first = reader.first();
      const begins = first ? secondsAt(first, 0) : reader.ctime;
      if (v.json) {
        out.write(`\n],"begins":${JSON.stringify({ tvSec: begins, time: isoTime(begins) })}}`);
      } else {
        const text = beginsLine(basename(path), begins, timeFormat);
        if (text !== null) out.write(`\n${text}\n`);
      }
    } catch (e) {
      if (e instanceof Exit) throw e;
      out.flush();
      throw fatalError(`unable to read ${path}: ${reason(e)}`);
    } finally {
      reader.close();
    }
  }
  if (v.json) out.write(']}\n');
  out.flush();
  // A lookup that timed out still holds the event loop: do not wait for it.
  if (names && names.stragglers > 0) process.exit(0);
  return 0;
}
