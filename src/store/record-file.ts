// A file of fixed-size records, in the utmps or glibc layout, seen as utmps records.
// Shared by the utmp and wtmp stores: locking with a bounded wait per request
// (lock-queue.ts), whole-record reads, durable writes, and the partial-tail rule (reads
// ignore it, writes replace it).

import { fstatSync, ftruncateSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { convertRecord } from '../record/convert.js';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { Errno, errnoOf } from '../errno.js';
import type { LockKind } from '../sys/native.js';
import { StoreError } from './errors.js';
import { readRecordBlock } from './block-read.js';
import { detectFileLayout } from './detect.js';
import { GroupSync } from './group-sync.js';
import { openDatabaseFile } from './open.js';
import { LockQueue } from './lock-queue.js';

export interface RecordFileOptions {
  /** On-disk layout; the wire and the API always use utmps records. */
  layout?: RecordLayout;
  /** Longest wait for another process's lock before failing with EAGAIN, per request. */
  lockTimeoutMs?: number;
  /** Mode for a file this store creates. */
  mode?: number;
  /** Told about anything odd in the file (a partial tail record), once per occurrence. */
  warn?: (message: string) => void;
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/**
 * Writing utmps records into a glibc file (or the reverse) would corrupt it for every
 * reader. Refuse a file whose sampled records make sense in the other layout and not in
 * ours. A file our own daemons wrote always fits our record size, so then it takes many
 * plausible records to refuse: a few odd records (a fuzzer's, an attacker's) must never
 * stop the service.
 */
function refuseOtherLayout(path: string, fd: number, size: number, layout: RecordLayout): void {
  if (size === 0) return;
  const found = detectFileLayout(fd, size);
  const ours = found.scores[layout.name];
  const theirs = found.scores[layout.name === 'utmps' ? 'glibc' : 'utmps'];
  const needed = size % layout.size === 0 ? 10 : 2;
  if (found.layout !== layout && theirs.good >= needed && theirs.bad === 0 && ours.good === 0) {
    throw new StoreError(
      Errno.EINVAL,
      `${path} looks like a ${found.layout.name}-layout file (${found.reason}), not ${layout.name}: ` +
        `use --format ${found.layout.name}, or convert it with utmps convert`,
    );
  }
}

export class RecordFile {
  readonly layout: RecordLayout;
  protected handle: FileHandle;
  protected readonly queue: LockQueue;
  protected syncer: GroupSync;
  private readonly warn: (message: string) => void;
  private reportedTail = -1;
  /** Counts writes made through this object: read-ahead data is good while it is unchanged. */
  protected writes = 0;

  protected constructor(
    readonly path: string,
    handle: FileHandle,
    options: RecordFileOptions,
  ) {
    this.handle = handle;
    this.layout = options.layout ?? UTMPS_LAYOUT;
    this.queue = new LockQueue(() => this.handle.fd, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, path);
    this.warn = options.warn ?? (() => {});
    this.syncer = new GroupSync(handle);
  }

  protected static async openHandle(path: string, options: RecordFileOptions): Promise<FileHandle> {
    const { handle, stat } = await openDatabaseFile(path, options.mode ?? 0o644);
    if ((stat.mode & 0o022) !== 0) {
      options.warn?.(
        `${path} is writable by group or others (mode 0${(stat.mode & 0o777).toString(8)}): ` +
          'they can forge or erase records without asking the daemon; chmod 0644 or stricter (docs/SECURITY.md)',
      );
    }
    try {
      refuseOtherLayout(path, handle.fd, stat.size, options.layout ?? UTMPS_LAYOUT);
    } catch (e) {
      await handle.close();
      throw e;
    }
    return handle;
  }

  get fd(): number {
    return this.handle.fd;
  }

  /** Lets the requests waiting for the lock finish, waits for every write to be durable, then closes the file. */
  async close(): Promise<void> {
    await this.queue.idle();
    await this.syncer.retire();
  }

  /** Switches to another open file (log rotation); the old one closes once synced. */
  protected replaceHandle(fresh: FileHandle): void {
    void this.syncer.retire().catch(() => undefined);
    this.handle = fresh;
    this.syncer = new GroupSync(fresh);
  }

  /**
   * Runs fn under a whole-file lock of the given kind, waiting at most the lock timeout
   * from now. A task whose signal aborts (its client hung up) is dropped before it runs.
   */
  protected locked<T>(kind: LockKind, fn: () => T, signal?: AbortSignal): Promise<T> {
    return this.queue.run(kind, fn, signal);
  }

  /** Whole records in the file; reports a partial tail once per distinct size. */
  protected recordCount(): number {
    const size = fstatSync(this.handle.fd).size;
    const rs = this.layout.size;
    if (size % rs !== 0 && size !== this.reportedTail) {
      this.reportedTail = size;
      this.warn(
        `${this.path}: ignoring a partial record of ${size % rs} bytes at offset ${size - (size % rs)}; the next write replaces it`,
      );
    }
    return Math.floor(size / rs);
  }

  /** Records [from, to) as utmps records, concatenated. */
  protected readRecords(from: number, to: number): Buffer {
    return readRecordBlock(this.handle.fd, this.layout, from, Math.max(0, to - from));
  }

  /** Converts a utmps record to the file layout; EOVERFLOW when its time does not fit. */
  protected toFileLayout(record: Buffer): Buffer {
    if (this.layout === UTMPS_LAYOUT) return record;
    try {
      return convertRecord(record, UTMPS_LAYOUT, this.layout);
    } catch (e) {
      throw new StoreError(errnoOf(e, Errno.EINVAL), `unable to store the record in ${this.path}: ${(e as Error).message}`);
    }
  }

  /**
   * Writes one record at index. A short or failed write leaves the file as it was
   * (truncated back when it grew), so the file only ever holds whole records.
   */
  protected writeRecord(index: number, fileRecord: Buffer, sizeBefore: number): void {
    const offset = index * this.layout.size;
    let written = 0;
    try {
      while (written < fileRecord.length) {
        written += writeSync(this.handle.fd, fileRecord, written, fileRecord.length - written, offset + written);
      }
    } catch (e) {
      if (offset + written > sizeBefore || offset >= sizeBefore) {
        try {
          ftruncateSync(this.handle.fd, Math.min(sizeBefore, offset));
        } catch {
          // Nothing more we can do; the error below is what the client hears.
        }
      }
      throw new StoreError(errnoOf(e), `unable to write to ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Runs fn (which writes) under the write lock, then waits until its bytes are on stable
   * storage. The fsync may be shared with concurrent writers (group commit).
   */
  protected async durably(fn: () => void, signal?: AbortSignal): Promise<void> {
    const [syncer, companion] = await this.locked(
      'write',
      () => {
        this.writes++;
        fn();
        return [this.syncer, this.companion()] as const;
      },
      signal,
    );
    try {
      await (companion ? Promise.all([syncer.sync(), companion.sync()]) : syncer.sync());
    } catch (e) {
      throw new StoreError(errnoOf(e), `unable to sync ${this.path}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Another file written under the same lock and made durable in the same commit (the wtmp seal). */
  protected companion(): GroupSync | null {
    return null;
  }

  protected fileSize(): number {
    return fstatSync(this.handle.fd).size;
  }
}
