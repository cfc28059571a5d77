// What `utmps boot` and `utmps shutdown` share: the host records of systemd-update-utmp
// and sysvinit (field table in docs/HOST.md), the kernel facts they carry, and the walk
// that marks stale utmp entries dead through utmpd.

import { release } from 'node:os';
import { UtmpsError, UtmpSession } from '../client/index.js';
import { entrySeconds, procBootTime, WATCHED_TYPES } from '../host/liveness.js';
import { buildRecord, FIELD_SIZE } from '../record/index.js';
import { recordType } from '../record/fields.js';
import { deadEntry } from '../record/logout.js';
import { nowTimeval, type Timeval } from '../record/time.js';
import { EXIT_REFUSED, fatalError, valueError } from './utmps-io.js';

/** The kernel's boot time in seconds since the epoch (/proc/stat btime, as procps uses). */
export function kernelBootTime(): bigint {
  return BigInt(procBootTime());
}

/** uname -r; systemd and sysvinit put it in ut_host of every host record. */
export function kernelRelease(): string {
  return release().slice(0, FIELD_SIZE.host);
}

/** BOOT_TIME: user "reboot", line "~", id "~~", pid 0, to utmp and wtmp (both managers). */
export function bootRecord(time: Timeval, host = kernelRelease()): Buffer {
  return buildRecord({ type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host, ...time });
}

/**
 * RUN_LVL as systemd-update-utmp and sysvinit write it: user "runlevel", line "~", id "~~",
 * the new level's character in the low byte of ut_pid and the previous one (0: none) in
 * the next byte.
 */
export function runlevelRecord(level: string, previous: string | null, time: Timeval, host = kernelRelease()): Buffer {
  const pid = level.charCodeAt(0) + (previous === null ? 0 : previous.charCodeAt(0) << 8);
  return buildRecord({ type: 'RUN_LVL', pid, line: '~', id: '~~', user: 'runlevel', host, ...time });
}

/**
 * The shutdown record halt writes: RUN_LVL, user "shutdown", line "~~", id "~~", pid 0.
 * (systemd-update-utmp writes line "~"; last only looks at the first '~'.)
 */
export function shutdownRecord(time: Timeval, host = kernelRelease()): Buffer {
  return buildRecord({ type: 'RUN_LVL', pid: 0, line: '~~', id: '~~', user: 'shutdown', host, ...time });
}

export interface MarkOptions {
  path?: string;
  timeoutMs: number;
  /** Only entries whose time is before this (seconds) are marked; undefined: all. */
  before?: bigint;
}

/**
 * Walks utmp with getent and rewrites each live entry as dead in place: a putline right
 * after the getent that returned it searches from that record, so it replaces exactly
 * that one, even when another entry shares its id (PROTOCOL.md section 3). No wtmp
 * record is written: last shows those sessions as "crash" (or "down" after a shutdown
 * record), which is what happened to them. Returns how many were marked.
 */
export async function markLiveEntriesDead(options: MarkOptions): Promise<number> {
  const session = await UtmpSession.connect({ path: options.path, timeoutMs: options.timeoutMs });
  try {
    let marked = 0;
    await session.rewind();
    for (let r = await session.next(); r; r = await session.next()) {
      // At boot no process of these types can be there; at shutdown none will be.
      if (!WATCHED_TYPES.has(recordType(r.bytes))) continue;
      if (options.before !== undefined && BigInt(entrySeconds(r.bytes)) >= options.before) continue;
      await session.put(deadEntry(r.bytes, nowTimeval()));
      marked++;
    }
    return marked;
  } finally {
    session.close();
  }
}

/** A client failure as an exit: refusals (EPERM) 1, everything else 111. */
export function clientFailure(what: string, e: unknown): Error {
  if (e instanceof UtmpsError) return fatalError(`unable to ${what}: ${e.message}`, e.code === 'EPERM' ? EXIT_REFUSED : undefined);
  return fatalError(`unable to ${what}: ${String((e as Error)?.message ?? e)}`);
}

/** --timeout of boot, shutdown and reap: milliseconds for each request (default 10000). */
export function timeoutOption(text: string | undefined): number {
  if (text === undefined) return 10_000;
  if (!/^[0-9]+$/.test(text)) throw valueError(`invalid timeout: ${text}`);
  return Number(text);
}
