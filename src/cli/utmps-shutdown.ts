// utmps shutdown: the shutdown record halt and systemd-update-utmp write (field table:
// docs/HOST.md), through wtmpd, then every live utmp entry marked dead with no wtmp
// logout: last shows the sessions still open as "down", and nothing in utmp claims a
// login that the shutdown ends.

import { parseArgs } from 'node:util';
import { appendWtmp, nowTimeval, wtmpdSocketPath } from '../client/index.js';
import { clientFailure, markLiveEntriesDead, shutdownRecord, timeoutOption } from './host.js';
import { parseOptions, usageError } from './utmps-io.js';

const USAGE = 'utmps shutdown [ -U utmpd-socket ] [ -W wtmpd-socket ] [ --timeout ms ] [ -v ]';

const HELP = `usage: ${USAGE}

Records a clean shutdown, as halt and systemd-update-utmp do: appends the shutdown
record (RUN_LVL, user shutdown, line ~~) to wtmp through wtmpd, then marks every live
utmp entry dead without a wtmp logout (last then shows those sessions as "down").
Run it as root, late in the shutdown, while the server still runs.
  -U, --utmpd-socket P  utmpd socket (default $UTMPS_UTMPD_SOCKET, else /run/utmps/.utmpd-socket)
  -W, --wtmpd-socket P  wtmpd socket (default $UTMPS_WTMPD_SOCKET, else /run/utmps/.wtmpd-socket)
      --timeout MS      deadline for each server step (default 10000; 0: none)
  -v, --verbose         say what was done, on stderr
`;

const OPTIONS = {
  'utmpd-socket': { type: 'string', short: 'U' },
  'wtmpd-socket': { type: 'string', short: 'W' },
  timeout: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw usageError(USAGE, `unexpected argument: ${positionals[0]}`);
  const timeoutMs = timeoutOption(v.timeout);
  const wtmpPath = wtmpdSocketPath(v['wtmpd-socket']);
  // wtmp first: the record last needs matters more than tidying utmp, which goes anyway.
  try {
    await appendWtmp(shutdownRecord(nowTimeval()), { path: wtmpPath, timeoutMs });
  } catch (e) {
    throw clientFailure('append to wtmp', e);
  }
  let marked: number;
  try {
    marked = await markLiveEntriesDead({ path: v['utmpd-socket'], timeoutMs });
  } catch (e) {
    throw clientFailure('mark utmp entries dead', e);
  }
  if (v.verbose) process.stderr.write(`utmps shutdown: recorded; ${marked} live utmp ${marked === 1 ? 'entry' : 'entries'} marked dead\n`);
  return 0;
}
