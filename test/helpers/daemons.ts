// Starts the daemons for a test, over either transport, in a fresh short temp dir, and
// stops them. Every test that starts daemons stops them.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN } from './paths.js';

export type TransportKind = 'ucspi' | 'utmpsd';

export interface Daemons {
  kind: TransportKind;
  dir: string;
  utmpSocket: string;
  wtmpSocket: string;
  utmpFile: string;
  wtmpFile: string;
  /** Everything the daemons wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  format?: 'utmps' | 'glibc';
  /** Body/answer timeout in ms. */
  timeoutMs?: number;
  lockTimeoutMs?: number;
  /** Extra arguments for utmpsd. */
  extra?: string[];
}

export async function makeDir(prefix = 'ut-'): Promise<string> {
  return mkdtemp(join('/tmp', prefix));
}

/** Waits for the readiness newline a server writes on the given stream. */
function ready(child: ChildProcess, stream: NodeJS.ReadableStream, what: string, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.includes(10)) {
        stream.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`${what} exited with ${code} before it was ready: ${log()}`));
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

function daemonFlags(options: DaemonOptions): string[] {
  const flags: string[] = [];
  if (options.format) flags.push('-F', options.format);
  if (options.timeoutMs !== undefined) flags.push('-t', String(options.timeoutMs));
  if (options.lockTimeoutMs !== undefined) flags.push('-L', String(options.lockTimeoutMs));
  return flags;
}

/** The classic way: s6-ipcserver + utmps-utmpd / utmps-wtmpd, one process per connection. */
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
  const children = [utmpd, wtmpd];
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
    utmpFile: join(dir, 'utmp'),
    wtmpFile: join(dir, 'wtmp'),
    stderr: () => log,
    async stop() {
      await Promise.all(children.map((c) => kill(c)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startDaemons(kind: TransportKind, options: DaemonOptions = {}): Promise<Daemons> {
  if (kind === 'ucspi') return startUcspi(options);
  const { startUtmpsd } = await import('./utmpsd.js');
  return startUtmpsd(options);
}
