// Starts our daemons fresh in a scratch directory, the two ways they are deployed:
//   utmpsd: the built-in server, one Node process for both services;
//   ucspi:  s6-ipcserver + bin/utmps-utmpd / bin/utmps-wtmpd, one Node process per connection;
//   echo:   bench/echo-server.ts, a bare Node server answering the plain listing (who
//           scenarios only): the floor of a Node request path on the same socket.
// Each server is the leader of its own process group (procs.ts), so stopping it also stops
// the per-connection daemons s6-ipcserver forked.

import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { spawnGroup, stopGroup } from './procs.js';
import { BIN, DIST_BENCH, UTMPSD_JS } from './system.js';

export type ServerKind = 'utmpsd' | 'ucspi' | 'echo';
export const SERVER_KINDS: readonly ServerKind[] = ['utmpsd', 'ucspi', 'echo'];

/** Whether a server of `kind` takes part in a scenario of `op` (echo: listings only). */
export function serves(kind: ServerKind, op: string): boolean {
  return kind !== 'echo' || op === 'who';
}

export interface Server {
  kind: ServerKind;
  dir: string;
  utmpSocket: string;
  wtmpSocket: string;
  /** utmpsd: the server process; ucspi: the two s6-ipcserver processes. */
  pids: number[];
  stderr(): string;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Extra node options for utmpsd (--cpu-prof ...). */
  nodeArgs?: string[];
  /** Extra utmpsd options (-c 2000 ...). */
  extra?: string[];
  readyTimeoutMs?: number;
}

const LOG_CAP = 64 * 1024;

function collect(stream: Readable | null | undefined): () => string {
  let log = '';
  stream?.on('data', (c: Buffer) => {
    if (log.length < LOG_CAP) log += c.toString();
  });
  return () => log;
}

/** Resolves at the first newline on `stream`; rejects if the child exits first or on timeout. */
function readiness(child: ChildProcess, stream: Readable, what: string, log: () => string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined = undefined;
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const onData = (c: Buffer): void => {
      if (c.includes(10)) finish();
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`${what} exited (${code ?? signal}) before it was ready: ${log().trim()}`));
    timer = setTimeout(() => finish(new Error(`${what} not ready after ${ms} ms: ${log().trim()}`)), ms);
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

async function startUtmpsd(dir: string, options: ServerOptions): Promise<Server> {
  // The flags bin/utmpsd and `npm start` run it with, unless told otherwise.
  const args = [...(options.nodeArgs ?? ['--max-semi-space-size=1']), UTMPSD_JS, '--state-dir', dir, '--notify-fd', '3', '-q', ...(options.extra ?? [])];
  const child = spawnGroup(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const stderr = collect(child.stderr);
  try {
    await readiness(child, child.stdio[3] as Readable, 'utmpsd', stderr, options.readyTimeoutMs ?? 15_000);
  } catch (e) {
    await stopGroup(child);
    throw e;
  }
  return {
    kind: 'utmpsd',
    dir,
    utmpSocket: join(dir, '.utmpd-socket'),
    wtmpSocket: join(dir, '.wtmpd-socket'),
    pids: [child.pid!],
    stderr,
    stop: () => stopGroup(child),
  };
}

async function startUcspi(dir: string, options: ServerOptions): Promise<Server> {
  // -1: a newline on stdout once listening; -c/-C: lift the default 40-connection limits so
  // 16 clients (and the per-connection process each one costs) are never refused.
  const one = (socket: string, program: string, args: string[]): ChildProcess =>
    spawnGroup('s6-ipcserver', ['-1', '-c', '1000', '-C', '1000', socket, join(BIN, program), ...args], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  const children = [one('.utmpd-socket', 'utmps-utmpd', []), one('.wtmpd-socket', 'utmps-wtmpd', ['wtmp'])];
  const logs = children.map((c) => collect(c.stderr));
  const stderr = (): string => logs.map((l) => l()).join('');
  try {
    await Promise.all(children.map((c) => readiness(c, c.stdout!, 's6-ipcserver', stderr, options.readyTimeoutMs ?? 15_000)));
  } catch (e) {
    await Promise.all(children.map((c) => stopGroup(c)));
    throw e;
  }
  return {
    kind: 'ucspi',
    dir,
    utmpSocket: join(dir, '.utmpd-socket'),
    wtmpSocket: join(dir, '.wtmpd-socket'),
    pids: children.map((c) => c.pid!),
    stderr,
    stop: async () => {
      await Promise.all(children.map((c) => stopGroup(c)));
    },
  };
}

async function startEcho(dir: string, options: ServerOptions): Promise<Server> {
  const socket = join(dir, '.utmpd-socket');
  const child = spawnGroup(process.execPath, [join(DIST_BENCH, 'echo-server.js'), socket], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = collect(child.stderr);
  try {
    await readiness(child, child.stdout!, 'echo-server', stderr, options.readyTimeoutMs ?? 15_000);
  } catch (e) {
    await stopGroup(child);
    throw e;
  }
  return { kind: 'echo', dir, utmpSocket: socket, wtmpSocket: join(dir, '.wtmpd-socket'), pids: [child.pid!], stderr, stop: () => stopGroup(child) };
}

/** Starts a server of `kind` in `dir` (created if needed). */
export async function startServer(kind: ServerKind, dir: string, options: ServerOptions = {}): Promise<Server> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  if (kind === 'echo') return startEcho(dir, options);
  return kind === 'utmpsd' ? startUtmpsd(dir, options) : startUcspi(dir, options);
}

export interface ProcMemory {
  rssKiB: number;
  hwmKiB: number;
  /** The anonymous part of the RSS (heaps, stacks); the rest is mostly node's own binary. */
  anonKiB: number;
  fileKiB: number;
}

/** VmRSS, VmHWM, RssAnon and RssFile of a process, from /proc/PID/status. */
export async function procMemory(pid: number): Promise<ProcMemory> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`no ${name} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM'), anonKiB: field('RssAnon'), fileKiB: field('RssFile') };
}
