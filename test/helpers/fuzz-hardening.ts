// Helpers for the hardening tests (test/integration/hardening-*.test.ts): daemons in a
// directory the test chose (fuzz/target.ts), raw conversations as root or as another user
// (fuzz/conversation.ts, fuzz/agent.ts), records built by hand at the utmps offsets
// (PROTOCOL.md section 1), lock holders and file probes running as other users, tmpfs
// mounts. Everything started here is stopped by whoever started it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from '../../fuzz/agent.js';
import { type Conversation, converse, type EndMode, type Outcome } from '../../fuzz/conversation.js';
import { PY_LOCK } from '../../fuzz/locker.js';
import { startTarget, type Target, type TargetKind, type TargetOptions } from '../../fuzz/target.js';
import { ROOT } from './paths.js';

export const RECORD = 400;
/** Debian's python3: pyenv shims under /root are not reachable as another user. */
export const PYTHON = '/usr/bin/python3';

export interface User {
  uid: number;
  gid: number;
  name: string;
}

export const ROOT_USER: User = { uid: 0, gid: 0, name: 'root' };
export const NOBODY: User = { uid: 65534, gid: 65534, name: 'nobody' };
/** A second unprivileged account that exists on every Debian system. */
export const DAEMON: User = { uid: 1, gid: 1, name: 'daemon' };

export function setprivFor(who: { uid: number; gid: number }): string[] {
  return ['setpriv', `--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups'];
}

export interface RecordFields {
  type?: number;
  pid?: number;
  line?: string;
  id?: string;
  user?: string;
  host?: string;
  tvSec?: number;
  session?: number;
}

/** A utmps record with these fields at their offsets; everything else zero. */
export function record(f: RecordFields = {}): Buffer {
  const rec = Buffer.alloc(RECORD);
  rec.writeInt16LE(f.type ?? 7, 0);
  rec.writeInt32LE(f.pid ?? 4242, 4);
  rec.write(f.line ?? '', 8, 32, 'latin1');
  rec.write(f.id ?? '', 40, 4, 'latin1');
  rec.write(f.user ?? '', 44, 32, 'latin1');
  rec.write(f.host ?? '', 76, 256, 'latin1');
  rec.writeInt32LE(f.session ?? 0, 336);
  rec.writeBigInt64LE(BigInt(f.tvSec ?? 1_700_000_000), 344);
  return rec;
}

export const putline = (rec: Buffer): Buffer => Buffer.concat([Buffer.of(0x45), rec]);
export const append = (rec: Buffer): Buffer => Buffer.concat([Buffer.of(0x2b), rec]);
export const REWIND = Buffer.of(0x72);
export const GETENT = Buffer.of(0x65);
export const GETALL = Buffer.of(0x41);

export function recordsOf(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + RECORD <= file.length; at += RECORD) out.push(file.subarray(at, at + RECORD));
  return out;
}

/** A fresh directory that other users may search (the sockets in it must be reachable). */
export async function scratchDir(prefix = 'hd-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join('/tmp', prefix));
  await chmod(dir, 0o755);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts the daemons of one transport in `options.dir` (or a scratch dir), runs fn, stops them. */
export async function withTarget<T>(
  kind: TargetKind,
  options: Partial<TargetOptions>,
  fn: (t: Target) => Promise<T>,
): Promise<T> {
  const scratch = options.dir === undefined ? await scratchDir() : null;
  try {
    const t = await startTarget(kind, { ...options, dir: options.dir ?? scratch!.dir });
    try {
      return await fn(t);
    } finally {
      await t.stop();
    }
  } finally {
    await scratch?.remove();
  }
}

/** Sends bytes on a fresh connection as root and collects the answer (see fuzz/conversation.ts). */
export function talk(socket: string, bytes: Buffer, end: EndMode = 'eof', guardMs = 10_000): Promise<Outcome> {
  const conv: Conversation = { service: socket.endsWith('wtmpd-socket') ? 'wtmp' : 'utmp', who: 'root', chunks: [bytes], end };
  return converse(socket, conv, guardMs);
}

/** The same through an agent running as another user. */
export function talkAs(agent: Agent, socket: string, bytes: Buffer | Buffer[], end: EndMode = 'eof', gapMs = 0, guardMs = 10_000): Promise<Outcome> {
  const conv: Conversation = {
    service: socket.endsWith('wtmpd-socket') ? 'wtmp' : 'utmp',
    who: 'nobody',
    chunks: Array.isArray(bytes) ? bytes : [bytes],
    end,
    gapMs,
  };
  return agent.run(socket, conv, guardMs);
}

export { Agent };

/** The first status byte of an outcome, as a number (undefined: no answer at all). */
export const status = (o: Outcome): number | undefined => (o.received.length > 0 ? o.received[0] : undefined);

// ---- processes as other users ----

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { out: () => out, err: () => err };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGKILL');
  await gone;
}

export interface LockHolder {
  release(): Promise<void>;
}

/**
 * A process (as `who`) holding a whole-file lock on path until released. Rejects with the
 * holder's error (PermissionError when it cannot even open the file).
 */
export async function holdLock(path: string, kind: 'read' | 'write', who: { uid: number; gid: number } = ROOT_USER): Promise<LockHolder> {
  const argv = [...(who.uid === 0 && who.gid === 0 ? [] : setprivFor(who)), PYTHON, '-c', PY_LOCK, path, kind];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const { out, err } = collect(child);
  try {
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (out().includes('locked\n')) resolve();
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => reject(new Error(`lock holder exited ${code}: ${err().trim().split('\n').pop()}`)));
    });
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { release: () => stopChild(child) };
}

/** Can `who` open path for reading ('r') or reading and writing ('r+')? 'ok' or the Python error name. */
export function tryOpen(path: string, mode: 'r' | 'r+', who: { uid: number; gid: number }): string {
  const script = ['import sys', 'try:', '    open(sys.argv[1], sys.argv[2]).close()', "    print('ok')", 'except OSError as e:', '    print(type(e).__name__)'].join('\n');
  const r = spawnSync(setprivFor(who)[0], [...setprivFor(who).slice(1), PYTHON, '-c', script, path, mode], { encoding: 'utf8' });
  return r.stdout.trim() || `failed: ${r.stderr.trim()}`;
}

/**
 * hold-connections.js (test/helpers) as `who`: opens n utmp connections one after another,
 * each asked for a rewind; says which were served and which closed, then holds them.
 */
export async function holdConnections(who: { uid: number; gid: number }, socket: string, n: number): Promise<{ outcomes: string[]; release: () => Promise<void> }> {
  const hold = join(ROOT, 'dist', 'test', 'helpers', 'hold-connections.js');
  const argv = [...setprivFor(who), process.execPath, hold, socket, String(n)];
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const { out, err } = collect(child);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', () => {
        const nl = out().indexOf('\n');
        if (nl >= 0) resolve(out().slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`hold-connections exited ${code}: ${err()}`)));
    });
    return { outcomes: JSON.parse(line) as string[], release: () => stopChild(child) };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

// ---- the system ----

/** Lines of /proc/PID/status as a map ('Uid' -> '65534\t65534\t65534\t65534'). */
export function procStatus(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}

export interface Tmpfs {
  dir: string;
  unmount(): Promise<void>;
}

/** Mounts a tmpfs of sizeKb on a fresh directory; null (and why) where mounting is not allowed. */
export async function mountTmpfs(sizeKb: number): Promise<Tmpfs | { skip: string }> {
  const { dir, remove } = await scratchDir('tf-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    await remove();
    return { skip: `cannot mount a tmpfs here (mount -t tmpfs: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})` };
  }
  return {
    dir,
    async unmount() {
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', dir]);
      await remove();
    },
  };
}

/** Polls until condition() holds; false if it still does not after ms (a hang guard). */
export async function eventually(condition: () => boolean, ms = 10_000): Promise<boolean> {
  const stopAt = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > stopAt) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}
