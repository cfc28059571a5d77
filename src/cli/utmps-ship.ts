// utmps ship: wtmp records as log messages to syslog (unix, udp, tcp), journald, or JSON
// lines on stdout, one message per record, resuming from a cursor file (docs/SHIPPING.md).

import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { formatJournal, formatJson, formatRfc3164, formatRfc5424, type SyslogIdentity } from '../format/ship.js';
import { CursorError, readCursor } from '../ship/cursor.js';
import { FileSource } from '../ship/file-source.js';
import { Shipper } from '../ship/shipper.js';
import { SocketSource } from '../ship/socket-source.js';
import type { Source, SourceItem } from '../ship/source.js';
import { openTarget, parseTarget, type TargetSpec, targetName } from '../ship/target.js';
import { fatalError, formatOption, parseOptions, reason, usageError, valueError, writeAll } from './utmps-io.js';

const USAGE =
  'utmps ship --to URL [ --cursor-file F ] [ --format rfc5424|rfc3164|json ] [ -f wtmp-file | -W wtmpd-socket ] ' +
  '[ --rotated PATH ]... [ --layout utmps|glibc ] [ --no-follow ] [ --start beginning|end ] [ --buffer N ] [ --batch N ] ' +
  '[ --when-full wait|drop ] [ --cursor-interval MS ] [ --poll MS ] [ --drain-timeout MS ] [ --hostname NAME ]';

const HELP = `usage: ${USAGE}

Sends one message per wtmp record: logins, logouts, boots, shutdowns.
  --to URL             unix:///dev/log (any unix:// path), udp://host:port,
                       tcp://host:port (RFC 6587 octet counting), journal
                       (journald's native protocol; $UTMPS_JOURNAL_SOCKET or
                       journal:///path for another socket), - (stdout)
  --cursor-file F      resume after the record F names; F is rewritten after each delivery
  --format F           rfc5424 (default for udp and tcp), rfc3164 (syslog(3)'s local
                       form, default for unix), json (default for -)
  -f, --file FILE      tail FILE (default $UTMPS_WTMP_FILE, else /var/log/wtmp, when readable)
  -W, --socket PATH    follow through the wtmpd socket instead (when the file is not readable)
  --rotated PATH       where FILE goes when rotated (repeatable; default FILE.1)
  --layout L           the file's layout, utmps or glibc (default: detected)
  --no-follow          stop at the current end of wtmp
  --start WHERE        without a cursor: beginning (default) or end (only new records)
  --buffer N           messages held in memory at most (default 1000)
  --batch N            messages per send and per cursor write at most (default 256)
  --when-full W        queue full: wait (stop reading; default for a file) or drop
                       the oldest (default for the socket); drops are counted
  --cursor-interval MS while catching up on a backlog, write the cursor at most this
                       often (default 0: after every batch; always once caught up)
  --poll MS            how often a quiet file is looked at (default 250)
  --drain-timeout MS   on SIGTERM, time to send what is queued (default 5000)
  --hostname NAME      HOSTNAME of the messages (default: this host's name)
`;

const OPTIONS = {
  to: { type: 'string' },
  'cursor-file': { type: 'string' },
  format: { type: 'string' },
  file: { type: 'string', short: 'f' },
  socket: { type: 'string', short: 'W' },
  rotated: { type: 'string', multiple: true },
  layout: { type: 'string' },
  'no-follow': { type: 'boolean' },
  start: { type: 'string' },
  buffer: { type: 'string' },
  batch: { type: 'string' },
  'when-full': { type: 'string' },
  poll: { type: 'string' },
  'cursor-interval': { type: 'string' },
  'drain-timeout': { type: 'string' },
  hostname: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Format = 'rfc5424' | 'rfc3164' | 'json' | 'journal';

function count(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) throw valueError(`invalid ${name}: ${text}`);
  return Number(text);
}

function chooseFormat(spec: TargetSpec, asked: string | undefined): Format {
  if (spec.kind === 'journal') {
    if (asked !== undefined) throw valueError('--format does not apply to journal (its fields are the format)');
    return 'journal';
  }
  if (asked === undefined) return spec.kind === 'stdout' ? 'json' : spec.kind === 'unix' ? 'rfc3164' : 'rfc5424';
  if (asked === 'rfc5424' || asked === 'rfc3164' || asked === 'json') return asked;
  throw valueError(`unknown format '${asked}' (expected rfc5424, rfc3164 or json)`);
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw usageError(USAGE, `unexpected argument '${positionals[0]}'`);
  if (v.to === undefined) throw usageError(USAGE, '--to is required');
  if (v.file !== undefined && v.socket !== undefined) throw usageError(USAGE, '-f and -W exclude each other');
  let spec: TargetSpec;
  try {
    spec = parseTarget(v.to);
  } catch (e) {
    throw valueError((e as Error).message);
  }
  const format = chooseFormat(spec, v.format);
  const start = v.start ?? 'beginning';
  if (start !== 'beginning' && start !== 'end') throw valueError(`invalid --start '${start}' (expected beginning or end)`);
  const whenFullText = v['when-full'];
  if (whenFullText !== undefined && whenFullText !== 'wait' && whenFullText !== 'drop') throw valueError(`invalid --when-full '${whenFullText}' (expected wait or drop)`);
  const layout = formatOption(v.layout);
  const capacity = count('--buffer', v.buffer, 1000);
  const batch = count('--batch', v.batch, 256);
  const pollMs = count('--poll', v.poll, 250);
  const cursorIntervalMs = count('--cursor-interval', v['cursor-interval'], 0, 0);
  const drainMs = count('--drain-timeout', v['drain-timeout'], 5000, 0);
  const follow = !v['no-follow'];

  const report = (m: string): void => writeAll(2, Buffer.from(`utmps: ship: ${m}\n`));
  const cursorFile = v['cursor-file'] ?? null;
  let cursor = null;
  if (cursorFile !== null) {
    try {
      cursor = readCursor(cursorFile);
    } catch (e) {
      throw fatalError(`unable to read the cursor ${cursorFile}: ${e instanceof CursorError ? e.message : reason(e)}`);
    }
  }

  const defaultFile = process.env.UTMPS_WTMP_FILE || '/var/log/wtmp';
  const useSocket = v.socket !== undefined || (v.file === undefined && !readable(defaultFile));
  const file = v.file ?? defaultFile;
  let source: Source;
  if (useSocket) {
    source = new SocketSource({ socket: v.socket, cursor, follow, start, report });
  } else {
    source = new FileSource({ path: file, rotated: v.rotated ?? [`${file}.1`], cursor, layout, follow, start, pollMs, block: batch, report });
  }
  const whenFull = (whenFullText as 'wait' | 'drop' | undefined) ?? (useSocket ? 'drop' : 'wait');

  const id: SyslogIdentity = { hostname: v.hostname ?? hostname(), appName: 'utmps', procId: process.pid };
  const formatters: Record<Format, (item: SourceItem) => Buffer> = {
    rfc5424: (i) => Buffer.from(formatRfc5424(i.record, id)),
    rfc3164: (i) => Buffer.from(formatRfc3164(i.record, id)),
    json: (i) => Buffer.from(formatJson(i.record, id.hostname)),
    journal: (i) => formatJournal(i.record),
  };

  const target = await openTarget(spec, report);
  const stop = new AbortController();
  const end = (): void => stop.abort(new Error('stopped'));
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  const shipper = new Shipper({ source, target, format: formatters[format], cursorFile, capacity, batch, whenFull, drainMs, cursorIntervalMs, report });
  try {
    const stats = await shipper.run(stop.signal);
    const where = stats.cursor === null ? 'no record delivered' : stats.cursor.offset === null ? `cursor at time ${stats.cursor.tvSec}` : `cursor at offset ${stats.cursor.offset} of ${stats.cursor.file}`;
    report(`sent ${stats.sent} to ${targetName(spec)}, dropped ${stats.dropped}, unsent ${stats.unsent}; ${where}`);
    return 0;
  } catch (e) {
    const s = shipper.stats;
    report(`sent ${s.sent} to ${targetName(spec)}, dropped ${s.dropped}, unsent ${s.unsent}`);
    throw fatalError(`unable to ship ${useSocket ? 'wtmp' : file}: ${reason(e)}`);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
    await target.close();
  }
}
