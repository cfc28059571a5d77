// What glibc's logout() and logwtmp(line, "", "") write when a session ends, as utmps
// records: the reaper (utmpsd, utmps reap) writes these for a session whose process died
// without writing them itself. Checked against glibc with a C program (docs/REAPING.md):
//  - logout() rewrites the utmp entry: DEAD_PROCESS, time now, ut_user and ut_host zeroed;
//    pid, line, id, exit, session and address stay;
//  - logwtmp() appends a zeroed record: DEAD_PROCESS, the caller's pid, the line, time now;
//    no id, user, host or address.

import { FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from './layout.js';
import type { Timeval } from './time.js';

function setTime(rec: Buffer, at: Timeval): void {
  rec.writeBigInt64LE(at.tvSec, L.tvSec);
  rec.writeBigInt64LE(BigInt(at.tvUsec), L.tvUsec);
}

/** The utmp entry as logout() leaves it. */
export function deadEntry(entry: Uint8Array, at: Timeval): Buffer {
  const rec = Buffer.from(entry);
  rec.writeInt16LE(RecordType.DEAD_PROCESS, L.type);
  rec.fill(0, L.user, L.user + FIELD_SIZE.user);
  rec.fill(0, L.host, L.host + FIELD_SIZE.host);
  setTime(rec, at);
  return rec;
}

/**
 * The wtmp record logwtmp(line, "", "") appends. Its pid is the session's: the login
 * program that would have called logwtmp is the process ut_pid names.
 */
export function logoutRecord(entry: Uint8Array, at: Timeval): Buffer {
  const rec = Buffer.alloc(L.size);
  rec.writeInt16LE(RecordType.DEAD_PROCESS, L.type);
  rec.writeInt32LE(Buffer.from(entry.buffer, entry.byteOffset, entry.byteLength).readInt32LE(L.pid), L.pid);
  rec.set(entry.subarray(L.line, L.line + FIELD_SIZE.line), L.line);
  setTime(rec, at);
  return rec;
}
