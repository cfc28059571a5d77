// The reaper's rules, shared by utmpsd and `utmps reap` (docs/REAPING.md): which utmp
// entries name a process, whether that process is still the one that wrote the entry,
// and the host facts (boot time, process start times, pid namespaces) they rest on.

import { readFileSync, statSync } from 'node:fs';
import { RecordType, UTMPS_LAYOUT as L } from '../record/layout.js';
import { recordType } from '../record/fields.js';

/** The entry types a session's process holds (INIT_PROCESS: a getty spawned by init). */
export const WATCHED_TYPES: ReadonlySet<number> = new Set([RecordType.INIT_PROCESS, RecordType.LOGIN_PROCESS, RecordType.USER_PROCESS]);

/**
 * A process start computed from /proc is up to about a second late (btime is whole
 * seconds, ticks are 10 ms); a writer's clock may lag ours a little. A process that
 * started more than this after the entry was written cannot be the one that wrote it.
 */
export const START_SLACK_S = 2;

/** /proc counts process start times in USER_HZ ticks, which Linux fixes at 100. */
const USER_HZ = 100;

/** What the rules need from the host; tests give fakes. */
export interface Host {
  /** The kernel's boot time, seconds since the epoch (/proc/stat btime). */
  bootTime(): number;
  /** When pid started, seconds since the epoch, or null when there is no such process. */
  startTime(pid: number): number | null;
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'latin1');
  } catch {
    return null;
  }
}

export function procBootTime(proc = '/proc'): number {
  const text = readProc(`${proc}/stat`);
  const m = text && /^btime (\d+)$/m.exec(text);
  if (!m) throw new Error(`unable to read the boot time from ${proc}/stat`);
  return Number(m[1]);
}

/** Field 22 of /proc/PID/stat (start time in ticks after boot), or null when gone. */
export function procStartTicks(pid: number, proc = '/proc'): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const text = readProc(`${proc}/${pid}/stat`);
  if (text === null) return null;
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); a zombie has exited: its session is over.
  if (rest[0] === 'Z' || rest[0] === 'X') return null;
  const ticks = Number(rest[22 - 3]);
  return Number.isFinite(ticks) ? ticks : null;
}

export function procHost(proc = '/proc'): Host {
  let btime: number | undefined;
  const boot = (): number => (btime ??= procBootTime(proc));
  return {
    bootTime: boot,
    startTime: (pid) => {
      const ticks = procStartTicks(pid, proc);
      return ticks === null ? null : boot() + ticks / USER_HZ;
    },
  };
}

export type Verdict =
  /** Not a session's entry (dead, boot, run level...), or no pid: nothing to watch. */
  | { kind: 'ignore' }
  /** Written before this boot: `utmps boot` deals with it, the reaper does not. */
  | { kind: 'before-boot' }
  /** Its process is gone, or its pid now names a process started after the entry. */
  | { kind: 'gone'; why: 'exited' | 'pid reused' }
  /** Its process runs; start pins it (the pid reuse guard for later checks). */
  | { kind: 'alive'; start: number };

export function entryPid(record: Uint8Array): number {
  return Buffer.from(record.buffer, record.byteOffset, record.byteLength).readInt32LE(L.pid);
}

export function entrySeconds(record: Uint8Array): number {
  return Number(Buffer.from(record.buffer, record.byteOffset, record.byteLength).readBigInt64LE(L.tvSec));
}

/** The rule for one utmps record: is the process that wrote this session still there? */
export function judge(record: Uint8Array, host: Host): Verdict {
  const pid = entryPid(record);
  if (!WATCHED_TYPES.has(recordType(record)) || pid <= 0) return { kind: 'ignore' };
  const written = entrySeconds(record);
  if (written < host.bootTime()) return { kind: 'before-boot' };
  const start = host.startTime(pid);
  if (start === null) return { kind: 'gone', why: 'exited' };
  if (start > written + START_SLACK_S) return { kind: 'gone', why: 'pid reused' };
  return { kind: 'alive', start };
}

/** Is the process we see as pid still the one that started at `start`? */
export function stillRunning(pid: number, start: number, host: Host): boolean {
  const now = host.startTime(pid);
  return now !== null && Math.abs(now - start) < 0.001;
}

function nsInode(path: string): { dev: number; ino: number } | null {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return null;
  }
}

function nsPidDepth(pid: number | 'self', proc: string): number | null {
  const m = readProc(`${proc}/${pid}/status`)?.match(/^NSpid:\s*(.*)$/m);
  return m ? m[1].trim().split(/\s+/).length : null;
}

/**
 * Is pid in our own pid namespace? Only there do the pids a writer puts in utmp mean our
 * processes. The ns/pid links need ptrace rights (a daemon that dropped root lacks them for
 * other users); then /proc/PID/status tells: a process whose NSpid lists one pid, seen
 * through a /proc of our own namespace, is in it. Unsure means no.
 */
export function inOurPidNamespace(pid: number, proc = '/proc'): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const ours = nsInode(`${proc}/self/ns/pid`);
  const theirs = nsInode(`${proc}/${pid}/ns/pid`);
  if (ours && theirs) return ours.dev === theirs.dev && ours.ino === theirs.ino;
  return nsPidDepth('self', proc) === 1 && nsPidDepth(pid, proc) === 1;
}

/** The soft limit on open files (Node raises it to the hard limit at start), or null. */
export function openFileLimit(proc = '/proc'): number | null {
  const m = readProc(`${proc}/self/limits`)?.match(/^Max open files\s+(\d+)/m);
  return m ? Number(m[1]) : null;
}
