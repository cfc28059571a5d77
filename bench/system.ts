// Where the bench runs: the project root, the shared tools, a scratch directory on a real
// disk (fsync cost is most of a write, so tmpfs would flatter both servers), and a short
// description of the machine for the report.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir, release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'utmps-ts') return dir;
  }
  throw new Error(`cannot find the project root above ${start}`);
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const SHARED = process.env.UTMPS_SHARED_DIR ?? resolve(ROOT, '../shared');
export const BIN = join(ROOT, 'bin');
export const UTMPSD_JS = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');
export const DIST_BENCH = join(ROOT, 'dist', 'bench');

export interface Mount {
  device: string;
  mountPoint: string;
  fsType: string;
}

/** /proc/self/mounts escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount holding `path`: the longest mount point that is a prefix of it (pure). */
export function mountOf(path: string, mountsText: string): Mount | undefined {
  let best: Mount | undefined;
  for (const line of mountsText.split('\n')) {
    const [device, mp, fsType] = line.split(' ');
    if (!device || !mp || !fsType) continue;
    const mountPoint = unescapeMount(mp);
    const inside = mountPoint === '/' || path === mountPoint || path.startsWith(mountPoint + '/');
    if (inside && (!best || mountPoint.length >= best.mountPoint.length)) best = { device, mountPoint, fsType: fsType };
  }
  return best;
}

export function filesystemOf(path: string): Mount | undefined {
  try {
    return mountOf(realpathSync(path), readFileSync('/proc/self/mounts', 'utf8'));
  } catch {
    return undefined;
  }
}

const MEMORY_FS = new Set(['tmpfs', 'ramfs', 'devtmpfs']);

/**
 * The base for scratch directories: UTMPS_BENCH_TMP if set, else os.tmpdir() when it is on
 * a disk, else ROOT/.bench-tmp (on the repository's disk).
 */
export function scratchBase(): { base: string; mount: Mount | undefined; why: string } {
  const forced = process.env.UTMPS_BENCH_TMP;
  if (forced) {
    mkdirSync(forced, { recursive: true });
    return { base: forced, mount: filesystemOf(forced), why: 'UTMPS_BENCH_TMP' };
  }
  const tmp = tmpdir();
  const mount = filesystemOf(tmp);
  if (mount && !MEMORY_FS.has(mount.fsType)) return { base: tmp, mount, why: `${tmp} is on ${mount.fsType}` };
  const local = join(ROOT, '.bench-tmp');
  mkdirSync(local, { recursive: true });
  return { base: local, mount: filesystemOf(local), why: `${tmp} is ${mount?.fsType ?? 'unknown'}: using the repository's disk` };
}

function firstLine(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  gcc: string | undefined;
  s6: string | undefined;
  loadavg: number[];
  scratch: { dir: string; device: string | undefined; fsType: string | undefined; mountPoint: string | undefined };
}

export function machineInfo(scratchDir: string): MachineInfo {
  const mount = filesystemOf(scratchDir);
  let s6: string | undefined;
  try {
    // Debian keeps the version in the package database; s6 programs have no --version.
    s6 = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 's6'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).trim();
  } catch {
    s6 = undefined;
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    gcc: firstLine('gcc', ['--version']),
    s6,
    loadavg: loadavg().map((v) => Math.round(v * 100) / 100),
    scratch: { dir: scratchDir, device: mount?.device, fsType: mount?.fsType, mountPoint: mount?.mountPoint },
  };
}
