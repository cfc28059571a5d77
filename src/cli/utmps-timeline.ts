// utmps timeline --svg FILE: sessions, boots, shutdowns, crashes and failed logins as one
// self-contained SVG picture (src/format/timeline.ts). Sessions are paired by `last`'s own
// LastPairing, failed logins listed as `lastb` lists them, so the picture agrees with both.
// wtmp comes from -f files or the wtmpd socket; btmp from --btmp or the btmpd socket, and
// is left out, with a warning, when it cannot be read (it is root's only).

import { parseArgs } from 'node:util';
import { btmpdSocketPath, wtmpdSocketPath } from '../client/paths.js';
import { LastPairing } from '../format/last.js';
import { Timeline, type TimelineBy } from '../format/timeline.js';
import { UTMPS_LAYOUT } from '../record/layout.js';
import { loadLoginProbe, loginBeforeBoot, type LoginProbe, systemBootTime } from './login-probe.js';
import { FileSource, type RecordSource, SocketSource } from './record-source.js';
import { timeArg, TIME_HELP } from './utmps-last.js';
import { AtomicFile, Exit, fatalError, formatOption, parseOptions, reason, valueError, writeAll } from './utmps-io.js';

const VERSION = '0.1.0';

const USAGE =
  'utmps timeline --svg file [ -s time ] [ -t time ] [ --by user|line ] [ -W wtmpd-socket | -f file... ] ' +
  '[ --btmp file | --btmp-socket path | --no-btmp ] [ --format utmps|glibc ]';

const HELP = `usage: ${USAGE}

Draws who was logged in when, as an SVG picture: one row per user (or line), a bar per
session (paired as \`utmps last\` pairs them), boots, shutdowns and crashes as marks,
failed logins (btmp) as ticks. Each bar, mark and tick has a tooltip.
      --svg FILE         write the picture to FILE ("-": standard output)
  -s, --since TIME       the picture starts at TIME (default: the first event)
  -t, --until TIME       the picture ends at TIME (default: now, or the last event)
      --by user|line     one row per user (default) or per line
  -f, --file FILE        read the wtmp FILE (repeatable) instead of the wtmpd socket
  -W, --socket PATH      wtmpd socket (default $UTMPS_WTMPD_SOCKET, else /run/utmps/.wtmpd-socket)
      --btmp FILE        failed logins from the btmp FILE
      --btmp-socket PATH failed logins through this btmpd socket (the default, from
                         $UTMPS_BTMPD_SOCKET, else /run/utmps/.btmpd-socket)
      --no-btmp          no failed logins
      --format F         the files' layout, utmps or glibc (default: detected)
  -V, --version          print the version
  -h, --help             print this help
${TIME_HELP}`;

const OPTIONS = {
  svg: { type: 'string' },
  since: { type: 'string', short: 's' },
  until: { type: 'string', short: 't' },
  by: { type: 'string' },
  file: { type: 'string', short: 'f', multiple: true },
  socket: { type: 'string', short: 'W' },
  btmp: { type: 'string' },
  'btmp-socket': { type: 'string' },
  'no-btmp': { type: 'boolean' },
  format: { type: 'string' },
  version: { type: 'boolean', short: 'V' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Feeds every record of a source, newest first, to a pairing. */
async function feed(src: RecordSource, pairing: LastPairing): Promise<void> {
  pairing.reset();
  for await (const { buf, count } of src.blocks()) {
    for (let i = count - 1; i >= 0; i--) pairing.push(buf, i * UTMPS_LAYOUT.size);
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (v.version) {
    process.stdout.write(`utmps timeline from utmps-ts ${VERSION}\n`);
    return 0;
  }
  if (v.svg === undefined) throw valueError('--svg FILE is required');
  const by = (v.by ?? 'user') as TimelineBy;
  if (by !== 'user' && by !== 'line') throw valueError(`unknown --by '${v.by}' (expected user or line)`);
  const now = Math.floor(Date.now() / 1000);
  const since = await timeArg(v.since, now);
  const until = await timeArg(v.until, now);
  if (since !== undefined && until !== undefined && until <= since) throw valueError('--until must come after --since');
  const layout = formatOption(v.format);
  const timeline = new Timeline(by, since, until);

  // wtmp: as `last` reads it (-x, so shutdowns are seen; the same "gone" probe).
  let probe: LoginProbe = loginBeforeBoot;
  const sessions = new LastPairing({ system: true, isGone: (...args) => probe(...args) }, timeline.add);
  const wtmp = v.file ?? [wtmpdSocketPath(v.socket)];
  for (const path of wtmp) {
    let src: RecordSource;
    try {
      src = v.file ? new FileSource(path, layout) : new SocketSource(path, 'wtmp');
    } catch (e) {
      throw fatalError(`unable to open ${path}: ${reason(e)}`);
    }
    try {
      const newest = src.newest();
      if (probe === loginBeforeBoot && (newest === null || newest >= systemBootTime())) probe = await loadLoginProbe();
      await feed(src, sessions);
    } catch (e) {
      if (e instanceof Exit) throw e;
      throw fatalError(`unable to read ${path}: ${reason(e)}`);
    } finally {
      src.close();
    }
  }

  // btmp: where it can be read; otherwise the picture has no failed-login row.
  if (!v['no-btmp']) {
    const path = v.btmp ?? btmpdSocketPath(v['btmp-socket']);
    const failed = new LastPairing({ failed: true }, timeline.addFailed);
    let src: RecordSource | null = null;
    try {
      src = v.btmp !== undefined ? new FileSource(path, layout) : new SocketSource(path, 'btmp');
      await feed(src, failed);
      timeline.btmpRead();
    } catch (e) {
      timeline.failed = null;
      process.stderr.write(`utmps: warning: no failed logins in the picture: unable to read ${path}: ${reason(e)}\n`);
    } finally {
      src?.close();
    }
  }

  const svg = Buffer.from(timeline.svg(now), 'utf8');
  if (v.svg === '-') {
    writeAll(1, svg);
    return 0;
  }
  let file: AtomicFile;
  try {
    file = new AtomicFile(v.svg, true);
  } catch (e) {
    throw fatalError(`unable to create ${v.svg}: ${reason(e)}`);
  }
  try {
    file.write(svg);
    file.commit();
  } catch (e) {
    file.abort();
    throw fatalError(`unable to write ${v.svg}: ${reason(e)}`);
  }
  return 0;
}
