// The servers under test, started in a directory the caller chose (the fuzzer's scratch
// directory, a tmpfs mount, a state directory with hostile files in it):
//   utmpsd: `utmpsd --state-dir DIR --notify-fd 3 ...`;
//   ucspi:  two `s6-ipcserver -1` (one per socket) running bin/utmps-utmpd (./utmp) and
//           bin/utmps-wtmpd -U DIR/utmp wtmp, with DIR as their working directory.
// Each server leads its own process group, so stopping it also ends any per-connection
// daemon still running. Only groups started here are ever signalled.

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';

export type TargetKind = 'utmpsd' | 'ucspi';
export const TARGET_KINDS: readonly TargetKind[] = ['utmpsd', 'ucspi'];

/** The project root: this file is dist/fuzz/target.js. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const UTMPSD_JS = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');
export const BIN = join(ROOT, 'bin');

export interface TargetOptions {
  /** Where the sockets and files go; it must exist. */
  dir: string;
  /** Options both kinds of daemon take: -t, -L, -F, -i. */
  daemonArgs?: string[];
  /** More options for utmpsd only (-c, -C, --user ...). */
  utmpsdArgs?: string[];
  /** Options for s6-ipcserver only (-c, -C). */
  ipcserverArgs?: string[];
  /** Run the server(s) under this prefix (for instance setpriv ... as another user). */
  wrapper?: string[];
  /** Hang guard for readiness. */
  readyMs?: number;
}

export interface Target {
  kind: TargetKind;
  dir: string;
  utmpSocket: string;
  wtmpSocket: string;
  utmpFile: string;
  wtmpFile: string;
  /** The server processes: utmpsd, or the two s6-ipcservers. */
  pids: number[];
  alive(): boolean;
  /** Everything logged so far (the last 256 KiB). */
  stderr(): string;
  /** Whole stderr lines logged since the previous call. */
  newLines(): string[];
  /** True while a connection is being served (utmpsd: a client socket is open; ucspi: a daemon runs). */
  busy(): boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves once everything has exited. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  crash(): Promise<void>;
  /** How each server process ended, or 'running'. */
  exitStatus(): string;
}

const LOG_CAP = 256 * 1024;

class Log {
  private text = '';
  private partial = '';
  private fresh: string[] = [];

  attach(stream: Readable | null | undefined): void {
    stream?.on('data', (c: Buffer) => this.add(c.toString()));
  }

  add(s: string): void {
    this.text += s;
    if (this.text.length > LOG_CAP) this.text = this.text.slice(-LOG_CAP / 2);
    const parts = (this.partial + s).split('\n');
    this.partial = parts.pop() ?? '';
    this.fresh.push(...parts);
    if (this.fresh.length > 10_000) this.fresh.splice(0, this.fresh.length - 10_000);
  }

  all(): string {
    return this.text;
  }

  take(): string[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function exited(child: ChildProcess): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}

async function stopGroup(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (alive(child)) {
    const done = exited(child);
    signalGroup(child, signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
  // Whatever is left of the group (per-connection daemons) goes too.
  signalGroup(child, 'SIGKILL');
  await exited(child);
}

/** Resolves at the first newline on `stream`; rejects if the child exits first or on timeout. */
function readiness(child: ChildProcess, stream: Readable, what: string, log: Log, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const finish = (error?: Error): void => {
      clearTimeout(timer);
      stream.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    const onData = (c: Buffer): void => {
      seen += c.toString();
      if (seen.includes('\n')) finish();
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(Object.assign(new Error(`${what} exited (${code ?? signal}) before it was ready: ${log.all().trim()}`), { exitCode: code }));
    const timer = setTimeout(() => finish(new Error(`${what} not ready after ${ms} ms: ${log.all().trim()}`)), ms);
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Servers still running; killed (their whole groups) if this process exits first. */
const running = new Set<ChildProcess>();
let exitHook = false;

function spawnServer(command: string[], dir: string, stdio: ('ignore' | 'pipe')[]): ChildProcess {
  const [cmd, ...args] = command;
  const child = spawn(cmd, args, { cwd: dir, stdio, detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of running) signalGroup(c, 'SIGKILL');
    });
  }
  return child;
}

/** Client sockets a process has open beyond `baseline` (its listening sockets). */
function socketCount(pid: number): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${name}`).startsWith('socket:')) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

function hasChildren(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

export async function startTarget(kind: TargetKind, options: TargetOptions): Promise<Target> {
  const { dir } = options;
  const wrapper = options.wrapper ?? [];
  const readyMs = options.readyMs ?? 20_000;
  const log = new Log();
  const paths = {
    dir,
    utmpSocket: join(dir, '.utmpd-socket'),
    wtmpSocket: join(dir, '.wtmpd-socket'),
    utmpFile: join(dir, 'utmp'),
    wtmpFile: join(dir, 'wtmp'),
  };
  let children: ChildProcess[];
  if (kind === 'utmpsd') {
    const argv = [...wrapper, process.execPath, UTMPSD_JS, '--state-dir', dir, '--notify-fd', '3', ...(options.daemonArgs ?? []), ...(options.utmpsdArgs ?? [])];
    const child = spawnServer(argv, dir, ['ignore', 'ignore', 'pipe', 'pipe']);
    log.attach(child.stderr);
    children = [child];
    try {
      await readiness(child, child.stdio[3] as Readable, 'utmpsd', log, readyMs);
    } catch (e) {
      await stopGroup(child, 'SIGKILL', 0);
      throw e;
    }
  } else {
    const server = (socket: string, program: string, args: string[]): ChildProcess => {
      const argv = [...wrapper, 's6-ipcserver', '-1', ...(options.ipcserverArgs ?? []), socket, join(BIN, program), ...(options.daemonArgs ?? []), ...args];
      const child = spawnServer(argv, dir, ['ignore', 'pipe', 'pipe']);
      log.attach(child.stderr);
      return child;
    };
    // utmps-wtmpd reads the utmp beside it (-U) to check non-root DEAD_PROCESS records.
    children = [server('.utmpd-socket', 'utmps-utmpd', []), server('.wtmpd-socket', 'utmps-wtmpd', ['-U', paths.utmpFile, 'wtmp'])];
    try {
      await Promise.all(children.map((c) => readiness(c, c.stdout!, 's6-ipcserver', log, readyMs)));
    } catch (e) {
      await Promise.all(children.map((c) => stopGroup(c, 'SIGKILL', 0)));
      throw e;
    }
  }
  const pids = children.map((c) => c.pid!);
  // utmpsd's own sockets once ready: its two listeners (and nothing else, normally).
  const baseline = kind === 'utmpsd' ? socketCount(pids[0]) : 0;
  return {
    kind,
    ...paths,
    pids,
    alive: () => children.every(alive),
    stderr: () => log.all(),
    newLines: () => log.take(),
    busy: () => (kind === 'utmpsd' ? socketCount(pids[0]) > baseline : pids.some(hasChildren)),
    stop: async () => {
      await Promise.all(children.map((c) => stopGroup(c, 'SIGTERM', 5000)));
    },
    crash: async () => {
      await Promise.all(children.map((c) => stopGroup(c, 'SIGKILL', 0)));
    },
    exitStatus: () =>
      children
        .map((c) => `pid ${c.pid}: ${alive(c) ? 'running' : c.signalCode ? `killed by ${c.signalCode}` : `exit ${c.exitCode}`}`)
        .join(', '),
  };
}
