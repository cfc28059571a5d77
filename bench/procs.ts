// Every process the bench starts goes through here, so that all of them are stopped at the
// end, on an error, and on SIGINT/SIGTERM. Servers and load generators are started in their
// own process group (detached: setsid), because they have children of their own:
// s6-ipcserver forks one daemon per connection, utmps-bench forks its clients, load.js
// spawns its workers. Stopping one means signalling its group (-pgid), and only groups we
// created.

import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';

const groups = new Set<ChildProcess>();

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

/** Spawns a command as the leader of a new process group, remembered until it exits. */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  groups.add(child);
  child.once('exit', () => {
    // The leader is gone; its children (if any) are not necessarily. Sweep the group.
    signalGroup(child, 'SIGKILL');
    groups.delete(child);
  });
  return child;
}

/** Waits for the child to exit; no-op when it has already. */
function exited(child: ChildProcess): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Stops a group started by spawnGroup: `signal` to the whole group, then SIGKILL if the leader
 * has not exited after `graceMs`. Resolves once the leader has exited; the rest of the group
 * is SIGKILLed then as well.
 */
export async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<void> {
  if (!alive(child)) {
    signalGroup(child, 'SIGKILL');
    groups.delete(child);
    return;
  }
  const done = exited(child);
  signalGroup(child, signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      signalGroup(child, 'SIGKILL');
      resolve();
    }, graceMs);
  });
  await Promise.race([done, late]);
  clearTimeout(timer);
  await done;
}

/** SIGKILLs every group still running. Synchronous, so it also works from 'exit'. */
export function killAllNow(): void {
  for (const child of groups) signalGroup(child, 'SIGKILL');
  groups.clear();
}

/** Stops every group still running, politely first. */
export async function stopAll(): Promise<void> {
  await Promise.all([...groups].map((c) => stopGroup(c, 'SIGTERM', 2000)));
}

let installed = false;
let stopping = false;

/** True once SIGINT/SIGTERM/SIGHUP arrived: the run is being torn down, report nothing. */
export function interrupted(): boolean {
  return stopping;
}

/**
 * On SIGINT/SIGTERM: stop everything, run `cleanup` (temp dirs), exit 130/143. On exit for
 * any other reason (an uncaught error included): SIGKILL whatever is left.
 */
export function installSignalHandlers(cleanup: () => Promise<void> | void = () => {}): void {
  if (installed) return;
  installed = true;
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    if (stopping) {
      killAllNow();
      process.exit(code);
    }
    stopping = true;
    process.stderr.write(`\nbench: ${signal}: stopping every server and client\n`);
    stopAll()
      .then(() => cleanup())
      .catch(() => {})
      .finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('SIGHUP', () => onSignal('SIGHUP', 129));
  process.on('exit', killAllNow);
}

/**
 * Runs a load generator in its own process group, waits for it, parses its JSON line.
 * Exit 0 (clean) and 1 (some errors) both carry a result; anything else is a failure.
 */
export async function runJson(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const child = spawnGroup(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => {
    if (err.length < 8192) err += c.toString();
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void stopGroup(child, 'SIGKILL');
  }, timeoutMs);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('close', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  if (timedOut) throw new Error(`${cmd} ${args.join(' ')}: no result after ${timeoutMs} ms`);
  const line = out.trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  if ((code === 0 || code === 1) && parsed) return parsed;
  const why = parsed?.setup_error ?? err.trim();
  throw new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}: ${why}`);
}
