// utmps-write: writes one record to utmp (-u) and/or wtmp (-w), with upstream's interface
// (PROTOCOL.md section 7), and, ours, to btmp (-b, a failed login; root only) through the
// btmpd socket (-B, default $UTMPS_BTMPD_SOCKET or /run/utmps/.btmpd-socket). Differences
// from the C tool, on purpose:
// - the default time is UTC; utmps-write 0.1.2.3 writes TAI, 37 s ahead;
// - -t defaults to 10000 ms (upstream waits forever); -t 0 still means no deadline;
// - text too long for its field is refused (exit 100) instead of cut;
// - the default user is os.userInfo().username, which Node looks up by the effective uid
//   (upstream: the real uid); the two differ only for set-uid programs.

import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { appendBtmp, appendWtmp, btmpdSocketPath, nowTimeval, type Timeval, UtmpsError, UtmpSession, wtmpdSocketPath } from '../client/index.js';
import { strerror } from '../errors.js';
import { buildRecord, parseTypeName, RecordError } from '../record/index.js';
import { EXIT_USAGE, fatal, usage } from './common.js';

const PROG = 'utmps-write';
const USAGE =
  'utmps-write [ -u ] [ -w ] [ -b ] [ -U utmpd-socket ] [ -W wtmpd-socket ] [ -B btmpd-socket ] [ -t timeout-ms ] [ -T @tai64n-label ] [ -h host ] [ -i ip ] [ -l user ] [ -p pid ] id type line';

const OPTIONS = {
  utmp: { type: 'boolean', short: 'u' },
  wtmp: { type: 'boolean', short: 'w' },
  btmp: { type: 'boolean', short: 'b' },
  'utmpd-socket': { type: 'string', short: 'U' },
  'wtmpd-socket': { type: 'string', short: 'W' },
  'btmpd-socket': { type: 'string', short: 'B' },
  timeout: { type: 'string', short: 't' },
  time: { type: 'string', short: 'T' },
  host: { type: 'string', short: 'h' },
  ip: { type: 'string', short: 'i' },
  user: { type: 'string', short: 'l' },
  pid: { type: 'string', short: 'p' },
} as const;

/**
 * A TAI64N label: '@', 16 hex digits of 2^62 + seconds, 8 hex digits of nanoseconds.
 * tv_sec is the label's seconds minus 2^62 with no leap-second correction, which is what
 * the C tool does and what the vectors were made with.
 */
function parseTai64n(label: string): Timeval | undefined {
  if (!/^@[0-9a-fA-F]{24}$/.test(label)) return undefined;
  const tvSec = BigInt(`0x${label.slice(1, 17)}`) - (1n << 62n);
  const ns = Number.parseInt(label.slice(17), 16);
  if (ns > 999_999_999 || tvSec >= 1n << 63n) return undefined;
  return { tvSec, tvUsec: Math.floor(ns / 1000) };
}

function unsigned(name: string, text: string, max: number): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (!(n <= max)) fatal(PROG, `invalid ${name}: ${text}`, EXIT_USAGE);
  return n;
}

function loginName(): string {
  try {
    return userInfo().username;
  } catch (e) {
    return fatal(PROG, `unable to get the current user name: ${(e as Error).message}`);
  }
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch {
    return usage(PROG, USAGE);
  }
}

async function main(argv: string[]): Promise<void> {
  const { values: v, positionals, tokens } = parseCommandLine(argv);
  // Only upstream's short options: the long names above are parseArgs keys, not interface.
  const long = tokens.some((t) => t.kind === 'option' && t.rawName.startsWith('--'));
  if (long || positionals.length !== 3 || (!v.utmp && !v.wtmp && !v.btmp)) usage(PROG, USAGE);
  const [id, typeText, line] = positionals;

  const type = parseTypeName(typeText);
  if (type === undefined) fatal(PROG, `invalid type: ${typeText}`, EXIT_USAGE);
  const time = v.time === undefined ? nowTimeval() : parseTai64n(v.time);
  if (!time) fatal(PROG, `invalid TAI64N label: ${v.time}`, EXIT_USAGE);
  const pid = v.pid === undefined ? process.pid : unsigned('pid', v.pid, 0x7fffffff);
  const timeoutMs = v.timeout === undefined ? 10_000 : unsigned('timeout', v.timeout, Number.MAX_SAFE_INTEGER);

  let record: Buffer;
  try {
    record = buildRecord({ type, pid, id, line, user: v.user ?? loginName(), host: v.host ?? '', address: v.ip ?? '', ...time });
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    fatal(PROG, e.field === 'address' ? `invalid IP address: ${v.ip}` : `invalid ${e.message}`, EXIT_USAGE);
  }

  if (v.utmp) {
    try {
      const session = await UtmpSession.connect({ path: v['utmpd-socket'], timeoutMs });
      try {
        await session.put(record);
      } finally {
        session.close();
      }
    } catch (e) {
      fatal(PROG, `unable to write utmp entry: ${reason(e)}`);
    }
  }
  if (v.wtmp) {
    const path = wtmpdSocketPath(v['wtmpd-socket']);
    try {
      await appendWtmp(record, { path, timeoutMs });
    } catch (e) {
      fatal(PROG, `unable to write wtmp entry via wtmpd at ${path}: ${reason(e)}`);
    }
  }
  if (v.btmp) {
    const path = btmpdSocketPath(v['btmpd-socket']);
    try {
      await appendBtmp(record, { path, timeoutMs });
    } catch (e) {
      fatal(PROG, `unable to write btmp entry via btmpd at ${path}: ${reason(e)}`);
    }
  }
}

// Upstream prints strerror(errno); the library words refusals and deadlines its own way.
const STRERROR_CODES: ReadonlySet<string> = new Set(['EPERM', 'EDQUOT', 'ENOBUFS', 'ETIMEDOUT']);

function reason(e: unknown): string {
  if (!(e instanceof UtmpsError)) return String((e as Error)?.message ?? e);
  return STRERROR_CODES.has(e.code) ? strerror(e.code) : e.reason;
}

main(process.argv.slice(2)).catch((e: unknown) => fatal(PROG, String((e as Error)?.stack ?? e)));
