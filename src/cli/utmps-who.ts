// utmps who: who is logged in, like coreutils who (differences: docs/READERS.md).
// Reads utmp through utmpd (no file access needed), or a file of either layout.

import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { UtmpSession } from '../client/index.js';
import { RecordType, UTMPS_LAYOUT } from '../record/layout.js';
import { terminalSafeJson, utf8 } from '../format/text.js';
import { countedUser, type TtyProbe, type TtyStat, whoCount, whoHeading, whoJson, whoKind, whoLine, type WhoOptions } from '../format/who.js';
import { pidAt, typeAt } from '../format/view.js';
import { WtmpReader } from '../store/wtmp-reader.js';
import { Exit, fatalError, formatOption, Output, parseOptions, reason, usageError, valueError } from './utmps-io.js';

const USAGE = 'utmps who [ -abdHlpqrsTtuw ] [ --json ] [ -U socket | --file FILE | FILE ] [ --format utmps|glibc ] [ --timeout ms ]';

const HELP = `usage: ${USAGE}

Shows who is logged in (coreutils who's output). Reads utmp through utmpd's socket
(-U, default $UTMPS_UTMPD_SOCKET, else /run/utmps/.utmpd-socket), or a utmp/wtmp FILE.
  -a, --all        -b -d -l -p -r -t -T -u
  -b, --boot       time of the last boot
  -d, --dead       dead processes
  -H, --heading    a line of column headings
  -l, --login      login processes
  -p, --process    active processes spawned by init
  -q, --count      user names and their number
  -r, --runlevel   the current run level
  -s, --short      only name, line and time (the default)
  -t, --time       the last system clock change
  -T, -w, --mesg   the user's message status (+, - or ?)
  -u, --users      idle time and PID of each user
      --json       one JSON document instead of text
  -U, --socket P   utmpd socket
      --file FILE  read FILE instead of asking utmpd
      --format F   the file's layout, utmps or glibc (default: detected)
      --timeout MS deadline for utmpd (default 10000; 0: none)
`;

const OPTIONS = {
  all: { type: 'boolean', short: 'a' },
  boot: { type: 'boolean', short: 'b' },
  dead: { type: 'boolean', short: 'd' },
  heading: { type: 'boolean', short: 'H' },
  login: { type: 'boolean', short: 'l' },
  process: { type: 'boolean', short: 'p' },
  count: { type: 'boolean', short: 'q' },
  runlevel: { type: 'boolean', short: 'r' },
  short: { type: 'boolean', short: 's' },
  time: { type: 'boolean', short: 't' },
  mesg: { type: 'boolean', short: 'T' },
  writable: { type: 'boolean', short: 'w' },
  message: { type: 'boolean' },
  users: { type: 'boolean', short: 'u' },
  json: { type: 'boolean' },
  socket: { type: 'string', short: 'U' },
  file: { type: 'string' },
  format: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** coreutils prints ISO times unless LC_TIME resolves to the C (POSIX) locale. */
function isoLocale(): boolean {
  const env = process.env;
  const name = env.LC_ALL || env.LC_TIME || env.LANG || 'C';
  return name !== 'C' && name !== 'POSIX';
}

const probeTty: TtyProbe = (line) => {
  const path = Buffer.from(line.startsWith('/') ? line : `/dev/${line}`, 'latin1');
  try {
    const st = statSync(path);
    return { mode: st.mode, atime: Math.floor(st.atimeMs / 1000) } satisfies TtyStat;
  } catch {
    return null;
  }
};

/** Is the session's process gone? (who drops those when it reads the system's utmp.) */
function processGone(buf: Buffer, at: number): boolean {
  const pid = pidAt(buf, at);
  if (typeAt(buf, at) !== RecordType.USER_PROCESS || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Records as blocks of utmps-layout bytes, from a file or from utmpd. */
async function* source(v: { file?: string; format?: string; socket?: string; timeout?: string }, file: string | undefined): AsyncGenerator<Buffer> {
  if (file !== undefined) {
    let reader: WtmpReader;
    try {
      reader = WtmpReader.open(file, { layout: formatOption(v.format) });
    } catch (e) {
      if (e instanceof Exit) throw e;
      throw fatalError(`unable to open ${file}: ${reason(e)}`);
    }
    try {
      for (const block of reader.blocksForward()) yield block.buf;
    } catch (e) {
      throw fatalError(`unable to read ${file}: ${reason(e)}`);
    } finally {
      reader.close();
    }
    return;
  }
  let timeoutMs = 10_000;
  if (v.timeout !== undefined) {
    if (!/^\d+$/.test(v.timeout)) throw valueError(`invalid timeout: ${v.timeout}`);
    timeoutMs = Number(v.timeout);
  }
  let records;
  let session: UtmpSession | undefined;
  try {
    session = await UtmpSession.connect({ path: v.socket, timeoutMs });
    records = await session.readAll();
  } catch (e) {
    throw fatalError(`unable to read utmp via utmpd${session ? ` at ${session.path}` : ''}: ${reason(e)}`);
  } finally {
    session?.close();
  }
  const buf = Buffer.concat(records.map((r) => r.bytes));
  // Like who on the system's utmp: sessions whose process no longer exists are stale.
  const kept: Buffer[] = [];
  for (let at = 0; at < buf.length; at += UTMPS_LAYOUT.size) {
    if (!processGone(buf, at)) kept.push(buf.subarray(at, at + UTMPS_LAYOUT.size));
  }
  yield Buffer.concat(kept);
}

/** Offsets of the records in a block. */
function* offsets(buf: Buffer): Generator<number> {
  for (let at = 0; at + UTMPS_LAYOUT.size <= buf.length; at += UTMPS_LAYOUT.size) yield at;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 1 || (positionals.length === 1 && v.file !== undefined)) throw usageError(USAGE);
  const file = v.file ?? positionals[0];
  if (file !== undefined && v.socket !== undefined) throw usageError(USAGE, `-U and a file exclude each other`);

  const a = v.all ?? false;
  const selected = v.boot || v.dead || v.login || v.process || v.runlevel || v.time;
  const short = v.short ?? false;
  const o: WhoOptions = {
    users: a || v.users || !selected,
    boot: a || v.boot,
    dead: a || v.dead,
    login: a || v.login,
    init: a || v.process,
    runlevel: a || v.runlevel,
    clock: a || v.time,
    mesg: a || v.mesg || v.writable || v.message,
    idle: !short && (a || v.users || v.runlevel || v.dead || v.login),
    pid: !short && (a || selected || v.users),
    exit: a || v.dead,
    isoTime: isoLocale(),
  };
  const now = Math.floor(Date.now() / 1000);
  const out = new Output();

  if (v.count) {
    const names: string[] = [];
    for await (const buf of source(v, file)) {
      for (const at of offsets(buf)) {
        const name = countedUser(buf, at);
        if (name !== null) names.push(name);
      }
    }
    if (v.json) out.line(terminalSafeJson(JSON.stringify({ users: names.map(utf8), count: names.length })));
    else out.write(whoCount(names));
    out.flush();
    return 0;
  }

  let first = true;
  if (v.json) out.write('{"entries":[');
  else if (v.heading) out.line(whoHeading(o));
  for await (const buf of source(v, file)) {
    for (const at of offsets(buf)) {
      const kind = whoKind(buf, at, o);
      if (kind === null) continue;
      if (v.json) {
        out.write(`${first ? '' : ','}\n${terminalSafeJson(JSON.stringify(whoJson(kind, buf, at)))}`);
        first = false;
      } else {
        out.line(whoLine(kind, buf, at, o, probeTty, now));
      }
    }
  }
  if (v.json) out.write('\n]}\n');
  out.flush();
  return 0;
}
