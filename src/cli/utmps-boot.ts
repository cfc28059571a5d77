// utmps boot: what systemd-update-utmp and sysvinit record at boot, through utmpd and
// wtmpd (field table: docs/HOST.md). Run once, early, after the server is up:
//  1. every live entry left in utmp (USER, LOGIN, INIT_PROCESS) is marked dead, with no
//     wtmp logout, so last shows those sessions as "crash", as after a glibc system's crash;
//  2. BOOT_TIME at the kernel's boot time, to utmp and wtmp;
//  3. the RUN_LVL record of the runlevel reached (systemd's multi-user is 3), to both.
// A second run in the same boot (a service restarted by hand) changes nothing: utmp already
// holds this boot's BOOT_TIME, and the sessions opened since are live.

import { parseArgs } from 'node:util';
import { nowTimeval, wtmpdSocketPath, appendWtmp, UtmpSession } from '../client/index.js';
import { RecordType } from '../record/index.js';
import { bootRecord, clientFailure, kernelBootTime, markLiveEntriesDead, runlevelRecord, timeoutOption } from './host.js';
import { fatalError, parseOptions, reason, usageError, valueError } from './utmps-io.js';

const USAGE =
  'utmps boot [ -U utmpd-socket ] [ -W wtmpd-socket ] [ -r runlevel | --no-runlevel ] [ --keep-current ] [ --force ] [ --timeout ms ] [ -v ]';

const HELP = `usage: ${USAGE}

Records a boot, as systemd-update-utmp and sysvinit do, through utmpd and wtmpd:
marks every live utmp entry (USER, LOGIN, INIT_PROCESS) dead without a wtmp logout
(last then shows those sessions as "crash"), writes BOOT_TIME (user reboot, the kernel's
boot time and release) to utmp and wtmp, then the RUN_LVL record of the runlevel.
Run it once per boot, as root, after the server is up; not in a container unless
its utmp is its own (docs/HOST.md). If utmp already holds the BOOT_TIME of this boot
(the kernel's boot time), it does nothing, unless --force.
  -U, --utmpd-socket P  utmpd socket (default $UTMPS_UTMPD_SOCKET, else /run/utmps/.utmpd-socket)
  -W, --wtmpd-socket P  wtmpd socket (default $UTMPS_WTMPD_SOCKET, else /run/utmps/.wtmpd-socket)
  -r, --runlevel C      the runlevel reached: 1-5 or S (default 3, systemd's multi-user)
      --no-runlevel     write no RUN_LVL record
      --keep-current    mark dead only entries older than the kernel's boot time
      --force           record the boot even if utmp says it is already recorded
      --timeout MS      deadline for each server step (default 10000; 0: none)
  -v, --verbose         say what was done, on stderr
`;

const OPTIONS = {
  'utmpd-socket': { type: 'string', short: 'U' },
  'wtmpd-socket': { type: 'string', short: 'W' },
  runlevel: { type: 'string', short: 'r' },
  'no-runlevel': { type: 'boolean' },
  'keep-current': { type: 'boolean' },
  force: { type: 'boolean' },
  timeout: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;


/** One runlevel character: sysvinit's 1-5 and S (0 and 6 mean going down, not booted). */
export function runlevelOption(text: string | undefined): string {
  if (text === undefined) return '3';
  if (!/^[1-5Ss]$/.test(text)) throw valueError(`invalid runlevel: ${text} (expected 1 to 5 or S)`);
  return text.toUpperCase();
}

/**
 * Whether utmp's BOOT_TIME entry is this boot's: its time is the kernel's boot time, give
 * or take the second by which /proc/stat's btime (computed from the wall clock at each
 * read) can wander. A clock step between the two runs defeats this; docs/HOST.md.
 */
async function bootRecorded(path: string | undefined, timeoutMs: number, btime: bigint): Promise<boolean> {
  const session = await UtmpSession.connect({ path, timeoutMs });
  try {
    const found = await session.findId(RecordType.BOOT_TIME, '');
    const off = found === null ? null : found.entry.tvSec - btime;
    return off !== null && off >= -2n && off <= 2n;
  } finally {
    session.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw usageError(USAGE, `unexpected argument: ${positionals[0]}`);
  if (v['no-runlevel'] && v.runlevel !== undefined) throw usageError(USAGE, '-r and --no-runlevel exclude each other');
  const timeoutMs = timeoutOption(v.timeout);
  const level = v['no-runlevel'] ? null : runlevelOption(v.runlevel);
  let btime: bigint;
  try {
    btime = kernelBootTime();
  } catch (e) {
    throw fatalError(`unable to read the kernel's boot time: ${reason(e)}`);
  }
  const utmpPath = v['utmpd-socket'];
  const wtmpPath = wtmpdSocketPath(v['wtmpd-socket']);
  const say = (text: string): void => {
    if (v.verbose) process.stderr.write(`utmps boot: ${text}\n`);
  };

  if (!v.force) {
    let recorded: boolean;
    try {
      recorded = await bootRecorded(utmpPath, timeoutMs, btime);
    } catch (e) {
      throw clientFailure('read utmp', e);
    }
    if (recorded) {
      say('this boot is already recorded in utmp: nothing done (--force to record it again)');
      return 0;
    }
  }

  let marked: number;
  try {
    marked = await markLiveEntriesDead({ path: utmpPath, timeoutMs, before: v['keep-current'] ? btime : undefined });
  } catch (e) {
    throw clientFailure('mark stale utmp entries dead', e);
  }
  say(`${marked} stale utmp ${marked === 1 ? 'entry' : 'entries'} marked dead`);

  const records = [bootRecord({ tvSec: btime, tvUsec: 0 })];
  if (level !== null) records.push(runlevelRecord(level, null, nowTimeval()));
  for (const record of records) {
    try {
      await appendWtmp(record, { path: wtmpPath, timeoutMs });
    } catch (e) {
      throw clientFailure('append to wtmp', e);
    }
  }
  try {
    const session = await UtmpSession.connect({ path: utmpPath, timeoutMs });
    try {
      // BOOT_TIME and RUN_LVL match by type alone: each replaces the previous boot's.
      for (const record of records) await session.put(record);
    } finally {
      session.close();
    }
  } catch (e) {
    throw clientFailure('write utmp', e);
  }
  say(`boot at ${new Date(Number(btime) * 1000).toISOString()} recorded${level === null ? '' : `, runlevel ${level}`}`);
  return 0;
}
