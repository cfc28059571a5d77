// Shared helpers for the native tests: temp dirs and child processes that hold
// resources (a socket connection, a POSIX lock) as another process would.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A short-named temp dir (socket paths must fit in 108 bytes). */
export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'un-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves with the first stdout line of child; rejects if it exits first. */
export function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        resolve(out.slice(0, nl));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      reject(new Error(`child exited (${code ?? signal}) before writing a line: ${err}`));
    };
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Kills child (if still running) and waits until it has exited. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

// fcntl.lockf takes classic POSIX (process-owned) locks, which must conflict with ours.
const PY_HOLD_LOCK = [
  'import fcntl, sys',
  "f = open(sys.argv[1], 'r+')",
  "fcntl.lockf(f, fcntl.LOCK_EX if sys.argv[2] == 'write' else fcntl.LOCK_SH)",
  "print('locked', flush=True)",
  'sys.stdin.read()',
].join('\n');

/** Starts a python3 process that holds a whole-file POSIX lock on path until stopped. */
export async function holdPosixLock(path: string, kind: 'read' | 'write'): Promise<ChildProcess> {
  const child = spawn('python3', ['-c', PY_HOLD_LOCK, path, kind], { stdio: ['pipe', 'pipe', 'pipe'] });
  try {
    const line = await firstLine(child);
    if (line !== 'locked') throw new Error(`unexpected output from lock holder: ${line}`);
  } catch (err) {
    await stop(child);
    throw err;
  }
  return child;
}
