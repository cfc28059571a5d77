// Starts the daemons for a test, over either transport, in a fresh short temp dir, and
// stops them. Every test that starts daemons stops them.

import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type DaemonOptions, type Daemons, kill, makeDir, ready, type TransportKind } from './daemon-common.js';
import { BIN } from './paths.js';
import { startUtmpsd } from './utmpsd.js';

export { type DaemonOptions, type Daemons, makeDir, type TransportKind } from './daemon-common.js';

function daemonFlags(options: DaemonOptions): string[] {
  const flags: string[] = [];
  if (options.format) flags.push('-F', options.format);
  if (options.timeoutMs !== undefined) flags.push('-t', String(options.timeoutMs));
  if (options.lockTimeoutMs !== undefined) flags.push('-L', String(options.lockTimeoutMs));
  return flags;
}

/** The classic way: s6-ipcserver + utmps-utmpd / utmps-wtmpd / utmps-btmpd, one process per connection. */
export async function startUcspi(options: DaemonOptions = {}): Promise<Daemons> {
  const dir = await makeDir();
  let log = '';
  const start = (socket: string, program: string, args: string[]): ChildProcess => {
    const child = spawn('s6-ipcserver', ['-1', socket, join(BIN, program), ...daemonFlags(options), ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
    return child;
  };
  const utmpd = start('.utmpd-socket', 'utmps-utmpd', []);
  const wtmpd = start('.wtmpd-socket', 'utmps-wtmpd', ['-U', join(dir, 'utmp'), 'wtmp']);
  const btmpd = start('.btmpd-socket', 'utmps-btmpd', ['btmp']);
  const children = [utmpd, wtmpd, btmpd];
  try {
    await Promise.all(children.map((c) => ready(c, c.stdout!, 's6-ipcserver', () => log)));
  } catch (e) {
    await Promise.all(children.map((c) => kill(c)));
    throw e;
  }
  return {
    kind: 'ucspi',
    dir,
    utmpSocket: join(dir, '.utmpd-socket'),
    wtmpSocket: join(dir, '.wtmpd-socket'),
    btmpSocket: join(dir, '.btmpd-socket'),
    utmpFile: join(dir, 'utmp'),
    wtmpFile: join(dir, 'wtmp'),
    btmpFile: join(dir, 'btmp'),
    stderr: () => log,
    async stop() {
      await Promise.all(children.map((c) => kill(c)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startDaemons(kind: TransportKind, options: DaemonOptions = {}): Promise<Daemons> {
  if (kind === 'ucspi') return startUcspi(options);
  return startUtmpsd(options);
}
