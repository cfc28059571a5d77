// Starts utmpsd for a test in a fresh temp dir, waits for readiness on --notify-fd 3.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type DaemonOptions, type Daemons, makeDir, ready } from './daemon-common.js';
import { ROOT } from './paths.js';

export interface Utmpsd extends Daemons {
  child: ChildProcess;
  /** Sends a signal and waits for the exit code. */
  signal(sig: NodeJS.Signals): Promise<number | null>;
}

export const UTMPSD = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');

export function utmpsdArgs(dir: string, options: DaemonOptions = {}): string[] {
  const args = ['--state-dir', dir, '--notify-fd', '3'];
  if (options.format) args.push('--format', options.format);
  if (options.timeoutMs !== undefined) args.push('--timeout', String(options.timeoutMs));
  if (options.lockTimeoutMs !== undefined) args.push('--lock-timeout', String(options.lockTimeoutMs));
  return [...args, ...(options.extra ?? [])];
}

/** Spawns utmpsd with stdio[3] as the notification pipe; resolves once it is ready. */
export async function spawnUtmpsd(
  args: string[],
  spawnOptions: { env?: NodeJS.ProcessEnv; cwd?: string; wrapper?: string[] } = {},
): Promise<{ child: ChildProcess; stderr: () => string }> {
  const [cmd, ...pre] = spawnOptions.wrapper ?? [process.execPath];
  const full = spawnOptions.wrapper ? [...pre, process.execPath, UTMPSD, ...args] : [UTMPSD, ...args];
  const child = spawn(cmd, full, {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: spawnOptions.env ?? process.env,
    cwd: spawnOptions.cwd,
  });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const notify = child.stdio[3] as Readable;
  await ready(child, notify, 'utmpsd', () => log);
  return { child, stderr: () => log };
}

export async function startUtmpsd(options: DaemonOptions = {}): Promise<Utmpsd> {
  const dir = await makeDir('us-');
  const { child, stderr } = await spawnUtmpsd(utmpsdArgs(dir, options));
  const signal = async (sig: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill(sig);
    const [code] = (await exited) as [number | null];
    return code;
  };
  return {
    kind: 'utmpsd',
    child,
    dir,
    utmpSocket: join(dir, '.utmpd-socket'),
    wtmpSocket: join(dir, '.wtmpd-socket'),
    btmpSocket: join(dir, '.btmpd-socket'),
    utmpFile: join(dir, 'utmp'),
    wtmpFile: join(dir, 'wtmp'),
    btmpFile: join(dir, 'btmp'),
    stderr,
    signal,
    async stop() {
      await signal('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
