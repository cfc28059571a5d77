// utmps reap: one pass of utmpsd's reaper through the sockets, for deployments whose
// daemons cannot watch processes (the UCSPI daemons, one process per connection). Same
// rules (src/host/liveness.ts), same records (src/record/logout.ts); see docs/REAPING.md.

import { parseArgs } from 'node:util';
import { appendWtmp, UtmpSession, wtmpdSocketPath } from '../client/index.js';
import { deadEntry, logoutRecord } from '../record/logout.js';
import { nowTimeval } from '../record/time.js';
import { typeName, UTMPS_LAYOUT as L } from '../record/layout.js';
import { recordType } from '../record/fields.js';
import { entryPid, judge, procHost } from '../host/liveness.js';
import { timeoutOption } from './host.js';
import { EXIT_REFUSED, Exit, fatalError, Output, parseOptions, reason, usageError } from './utmps-io.js';

const USAGE = 'utmps reap [ -n ] [ -U utmpd-socket ] [ -W wtmpd-socket ] [ --timeout ms ]';

const HELP = `usage: ${USAGE}

Ends the utmp sessions whose process is gone without a logout, as utmpsd does on its own:
each USER_PROCESS, LOGIN_PROCESS or INIT_PROCESS entry written since the boot whose pid
names no process, or a process started after the entry, becomes DEAD_PROCESS (time now,
user and host cleared), and a logout record for its line goes to wtmp. Run as root.
The pids are read in this program's pid namespace: do not run it against sessions written
from containers with their own (docs/REAPING.md).
  -n, --dry-run    print what would be reaped, change nothing
  -U, --utmpd-socket P   (default $UTMPS_UTMPD_SOCKET, else /run/utmps/.utmpd-socket)
  -W, --wtmpd-socket P   (default $UTMPS_WTMPD_SOCKET, else /run/utmps/.wtmpd-socket)
      --timeout MS deadline for each daemon request (default 10000; 0: none)
Exit status: 0 done (whether or not anything was reaped), 1 a daemon refused a write,
100 usage, 111 system failure.
`;

const OPTIONS = {
  'dry-run': { type: 'boolean', short: 'n' },
  'utmpd-socket': { type: 'string', short: 'U' },
  'wtmpd-socket': { type: 'string', short: 'W' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function field(rec: Buffer, at: number, size: number): string {
  const f = rec.subarray(at, at + size);
  const nul = f.indexOf(0);
  // Output is latin1 text: anything outside printable ASCII is escaped.
  return JSON.stringify(f.subarray(0, nul < 0 ? size : nul).toString('utf8')).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function describe(rec: Buffer): string {
  return `${typeName(recordType(rec))} pid ${entryPid(rec)} line ${field(rec, L.line, 32)} id ${field(rec, L.id, 4)} user ${field(rec, L.user, 32)}`;
}

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw usageError(USAGE);
  const timeoutMs = timeoutOption(v.timeout);
  const host = procHost();
  const out = new Output();
  let session: UtmpSession;
  try {
    session = await UtmpSession.connect({ path: v['utmpd-socket'], timeoutMs });
  } catch (e) {
    throw fatalError(`unable to connect to utmpd: ${reason(e)}`);
  }
  let refused = false;
  try {
    let entries;
    try {
      entries = await session.readAll();
    } catch (e) {
      throw fatalError(`unable to read utmp: ${reason(e)}`);
    }
    for (const { bytes } of entries) {
      const verdict = judge(bytes, host);
      if (verdict.kind !== 'gone') continue;
      if (v['dry-run']) {
        out.write(`would reap: ${describe(bytes)} (${verdict.why})\n`);
        continue;
      }
      const result = await reapOne(session, bytes, v['wtmpd-socket'], timeoutMs);
      if (result === 'refused') refused = true;
      if (result === 'done') out.write(`reaped: ${describe(bytes)} (${verdict.why})\n`);
    }
  } finally {
    session.close();
    out.flush();
  }
  return refused ? EXIT_REFUSED : 0;
}

/**
 * What logout() then logwtmp() would do: find the entry again (it must still hold the
 * same process), rewrite it, append the logout.
 */
async function reapOne(session: UtmpSession, stale: Buffer, wtmpSocket: string | undefined, timeoutMs: number): Promise<'done' | 'changed' | 'refused'> {
  const at = nowTimeval();
  try {
    await session.rewind();
    const id = stale.subarray(L.id, L.id + 4);
    const found = id[0] !== 0 ? await session.findId(recordType(stale), id) : await session.findLine(stale.subarray(L.line, L.line + 32));
    // Someone else changed it since we read it: it is theirs now.
    if (!found || recordType(found.bytes) !== recordType(stale) || entryPid(found.bytes) !== entryPid(stale)) return 'changed';
    const dead = deadEntry(found.bytes, at);
    await session.put(dead);
    // A logout ends whatever session last shows on the line: not while another live entry,
    // maybe someone else's, holds it (utmpsd's reaper does the same).
    await session.rewind();
    if (await session.findLine(dead.subarray(L.line, L.line + 32))) return 'done';
    await appendWtmp(logoutRecord(dead, at), { path: wtmpdSocketPath(wtmpSocket), timeoutMs });
    return 'done';
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EPERM' || code === 'EDQUOT') {
      process.stderr.write(`utmps reap: warning: unable to reap ${describe(stale)}: ${reason(e)}\n`);
      return 'refused';
    }
    if (e instanceof Exit) throw e;
    throw fatalError(`unable to reap ${describe(stale)}: ${reason(e)}`);
  }
}
