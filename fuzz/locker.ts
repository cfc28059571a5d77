// Lock holders for fuzz cases: another process (root's, or nobody's through setpriv) that
// holds a whole-file lock on utmp or wtmp while a case plays. Python's fcntl.lockf takes a
// classic POSIX lock, which conflicts with the daemons' OFD locks. Anyone who can open a
// 0644 file can take a read lock on it; only root can take a write lock here.

import { type ChildProcess, spawn } from 'node:child_process';
import { setpriv } from './agent.js';
import type { Who } from './model.js';

export interface LockHold {
  file: 'utmp' | 'wtmp';
  kind: 'read' | 'write';
  who: Who;
  /** From the moment the lock is held. */
  holdMs: number;
}

/** Debian's python3: pyenv shims under /root are not reachable as nobody. */
const PYTHON = '/usr/bin/python3';

/** Holds a classic POSIX lock (fcntl.lockf), which conflicts with the daemons' OFD locks: `-c PY_LOCK PATH read|write`. */
export const PY_LOCK = [
  'import fcntl, sys',
  "f = open(sys.argv[1], 'r' if sys.argv[2] == 'read' else 'r+')",
  "fcntl.lockf(f, fcntl.LOCK_SH if sys.argv[2] == 'read' else fcntl.LOCK_EX)",
  "print('locked', flush=True)",
  'sys.stdin.read()',
].join('\n');

function gone(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Resolves once the lock is held, with a function that lets go of it. */
export async function takeLock(path: string, kind: LockHold['kind'], who: Who): Promise<() => Promise<void>> {
  const argv = [...(who === 'root' ? [] : setpriv(65534, 65534)), PYTHON, '-c', PY_LOCK, path, kind];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const release = async (): Promise<void> => {
    const done = gone(child);
    child.kill('SIGKILL');
    await done;
  };
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('locked\n')) resolve();
      });
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`lock holder exited ${code}: ${err.trim().split('\n').pop()}`)));
    });
  } catch (e) {
    await release();
    throw e;
  }
  return release;
}
