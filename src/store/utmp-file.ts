// The utmp database: fixed-size records, searched and rewritten in place
// (PROTOCOL.md section 3). Each client session owns a Cursor.

import { RECORD_SIZE, UTMPS_LAYOUT as L } from '../record/layout.js';
import { recordType } from '../record/fields.js';
import { Errno } from '../errno.js';
import { StoreError } from './errors.js';
import { type IdKey, isSearchableType, keyOfRecord, matchesId, matchesLine } from './match.js';
import { RecordFile, type RecordFileOptions } from './record-file.js';

function holdsSameProcess(a: Buffer, b: Buffer): boolean {
  return recordType(a) === recordType(b) && a.readInt32LE(L.pid) === b.readInt32LE(L.pid);
}

/** A session's position: the index of the next record to read. */
export interface Cursor {
  index: number;
  /** Records read ahead for a getent scan, and the write count they were read at. */
  ahead: { writes: number; start: number; records: Buffer } | null;
}

export function newCursor(): Cursor {
  return { index: 0, ahead: null };
}

/**
 * A getent scan reads this many records under one lock and serves the next getents from
 * them, as long as nothing was written through this server meanwhile. A scan of 1,000
 * entries then costs 16 locked reads instead of 1,000.
 */
const READ_AHEAD = 64;

export class UtmpFile extends RecordFile {
  static async open(path: string, options: RecordFileOptions = {}): Promise<UtmpFile> {
    return new UtmpFile(path, await RecordFile.openHandle(path, options), options);
  }

  // Each request takes an optional signal: aborted (its client hung up) while it waits
  // for the lock, it is dropped without running.

  /** The record at the cursor, or null at the end (ESRCH on the wire). */
  getent(cursor: Cursor, signal?: AbortSignal): Promise<Buffer | null> | Buffer {
    const cached = this.fromReadAhead(cursor);
    if (cached) return cached;
    return this.locked('read', () => {
      const start = cursor.index;
      const records = this.readRecords(start, Math.min(start + READ_AHEAD, this.recordCount()));
      if (records.length === 0) {
        cursor.ahead = null;
        return null;
      }
      cursor.ahead = { writes: this.writes, start, records };
      return this.fromReadAhead(cursor);
    }, signal);
  }

  private fromReadAhead(cursor: Cursor): Buffer | null {
    const ahead = cursor.ahead;
    if (!ahead || ahead.writes !== this.writes) return null;
    const at = (cursor.index - ahead.start) * RECORD_SIZE;
    if (at < 0 || at >= ahead.records.length) return null;
    cursor.index++;
    return ahead.records.subarray(at, at + RECORD_SIZE);
  }

  /** Every record from the cursor to the end, concatenated; the cursor ends at the end. */
  getall(cursor: Cursor, signal?: AbortSignal): Promise<Buffer> {
    return this.locked('read', () => {
      const count = this.recordCount();
      const recs = this.readRecords(cursor.index, count);
      cursor.index = Math.max(cursor.index, count);
      return recs;
    }, signal);
  }

  getid(cursor: Cursor, type: number, id: Uint8Array, signal?: AbortSignal): Promise<Buffer | null> {
    if (!isSearchableType(type)) {
      return Promise.reject(new StoreError(Errno.EINVAL, `getid: type ${type} cannot be searched for`));
    }
    const key: IdKey = { type, id, line: null };
    return this.search(cursor, (rec) => matchesId(key, rec), signal);
  }

  getline(cursor: Cursor, line: Uint8Array, signal?: AbortSignal): Promise<Buffer | null> {
    return this.search(cursor, (rec) => matchesLine(line, rec), signal);
  }

  /**
   * Overwrites the first record matching the new one, searching from the record before
   * the cursor (so a lookup then a put replaces what was read), or appends. Resolves once
   * the record is on disk.
   */
  async putline(cursor: Cursor, record: Buffer, signal?: AbortSignal): Promise<void> {
    if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes`);
    const fileRecord = this.toFileLayout(record);
    await this.durably(() => {
      const count = this.recordCount();
      const start = Math.max(0, Math.min(cursor.index, count) - 1);
      const key = keyOfRecord(record);
      const found = this.find(start, count, (rec) => matchesId(key, rec));
      const index = found?.index ?? count;
      this.writeRecord(index, fileRecord, this.fileSize());
      cursor.index = index + 1;
    }, signal);
  }

  /**
   * The reaper's write: the first entry matching entry's key (as putline finds it) is
   * rewritten by transform, but only while it still holds entry's type and pid: a session
   * that logged out, or a new session on the line, is left as it is. Returns the record
   * written, or null. Same lock queue and group commit as putline.
   */
  async rewriteIfHeld(entry: Buffer, transform: (found: Buffer) => Buffer, signal?: AbortSignal): Promise<Buffer | null> {
    let written: Buffer | null = null;
    await this.durably(() => {
      const key = keyOfRecord(entry);
      const found = this.find(0, this.recordCount(), (rec) => matchesId(key, rec));
      if (!found || !holdsSameProcess(found.record, entry)) return;
      written = transform(found.record);
      this.writeRecord(found.index, this.toFileLayout(written), this.fileSize());
    }, signal);
    return written;
  }

  private search(cursor: Cursor, match: (rec: Buffer) => boolean, signal?: AbortSignal): Promise<Buffer | null> {
    return this.locked('read', () => {
      const count = this.recordCount();
      const found = this.find(cursor.index, count, match);
      if (found === null) {
        cursor.index = Math.max(cursor.index, count);
        return null;
      }
      cursor.index = found.index + 1;
      return found.record;
    }, signal);
  }

  /** The first matching record in [from, to), reading in blocks. */
  private find(from: number, to: number, match: (rec: Buffer) => boolean): { index: number; record: Buffer } | null {
    const BLOCK = 256;
    for (let base = from; base < to; base += BLOCK) {
      const recs = this.readRecords(base, Math.min(base + BLOCK, to));
      for (let off = 0; off < recs.length; off += RECORD_SIZE) {
        const rec = recs.subarray(off, off + RECORD_SIZE);
        if (match(rec)) return { index: base + off / RECORD_SIZE, record: Buffer.from(rec) };
      }
    }
    return null;
  }
}
