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

/**
 * On SIGINT/SIGTERM: stop everything, run `cleanup` (temp dirs), exit 130/143. On exit for
 * any other reason (an uncaught error included): SIGKILL whatever is left.
 */
export function installSignalHandlers(cleanup: () => Promise<void> | void = () => {}): void {
  if (installed) return;
  installed = true;
  let stopping = false;
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
