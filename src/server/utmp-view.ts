// Read access to utmp for the wtmp service, which checks that a non-root DEAD_PROCESS ends
// one of the peer's own sessions (policy.ts). utmpsd asks its open UtmpFile; a UCSPI
// utmps-wtmpd, a fresh process with no utmp of its own, reads the file by path.

import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { recordBuffer } from '../record/convert.js';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { readRecordBlock } from '../store/block-read.js';
import { matchesLine } from '../store/match.js';
import { newCursor, type UtmpFile } from '../store/utmp-file.js';
import { lock, unlock } from '../sys/native.js';
import type { UtmpView } from './policy.js';

/** The entries getutline would find for the line, in file order. */
export function utmpViewOf(file: UtmpFile): UtmpView {
  return {
    async liveEntries(line) {
      const cursor = newCursor();
      const found: Buffer[] = [];
      for (let rec = await file.getline(cursor, line); rec !== null; rec = await file.getline(cursor, line)) found.push(rec);
      return found;
    },
  };
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC } = constants as typeof constants & { O_CLOEXEC?: number };
/** Records read per block: utmp is small, but its size is not ours to trust. */
const BLOCK = 256;

/**
 * utmp by path, opened read-only for each question (never created, never through a
 * symlink) and read under a read lock, waiting at most lockTimeoutMs for it.
 */
export function utmpViewAt(path: string, layout: RecordLayout, lockTimeoutMs: number): UtmpView {
  return {
    async liveEntries(line) {
      let fd: number;
      try {
        fd = openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (O_CLOEXEC ?? 0));
      } catch (e) {
        // No utmp yet (no utmp request since boot): nobody is logged in anywhere.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
      try {
        if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
        await lock(fd, 'read', { timeoutMs: lockTimeoutMs });
        try {
          return scan(fd, layout, line);
        } finally {
          unlock(fd);
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}

function scan(fd: number, layout: RecordLayout, line: Uint8Array): Buffer[] {
  const block = recordBuffer(BLOCK);
  const found: Buffer[] = [];
  for (let first = 0; ; first += BLOCK) {
    const recs = readRecordBlock(fd, layout, first, BLOCK, block);
    for (let at = 0; at < recs.length; at += UTMPS_LAYOUT.size) {
      const rec = recs.subarray(at, at + UTMPS_LAYOUT.size);
      if (matchesLine(line, rec)) found.push(Buffer.from(rec));
    }
    if (recs.length < block.length) return found;
  }
}
