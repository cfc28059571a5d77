// The wtmp log: whole-record appends only (PROTOCOL.md section 4). Follows log rotation:
// when the path no longer names the open file, the next append goes to a fresh file.
//
// Reads take no lock. Records are only ever appended whole (a partial tail is replaced,
// never extended), and the file size grows only once a write's bytes are in, so every
// whole record below the size we see is complete and will not change. A reader then never
// holds a lock that keeps an append waiting, and another process's lock never delays it.

import { type FSWatcher, fstatSync, statSync, watch } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { RECORD_SIZE } from '../record/layout.js';
import { readAt } from './block-read.js';
import type { GroupSync } from './group-sync.js';
import { RecordFile, type RecordFileOptions } from './record-file.js';
import type { WtmpSeal } from './wtmp-seal.js';

interface FileIdentity {
  dev: number;
  ino: number;
}

function identityOf(fd: number): FileIdentity {
  const { dev, ino } = fstatSync(fd);
  return { dev, ino };
}

/** Told that the log may have grown or been rotated; the listener looks for itself. */
export type ChangeListener = () => void;

export class WtmpFile extends RecordFile {
  private reopenRequested = false;
  /** Bumped at each reopen: record indexes restart in a new file. */
  private generation = 0;
  private readonly listeners = new Set<ChangeListener>();
  /** Notices appends by other processes (another daemon, glibc) while anyone listens. */
  private watcher: FSWatcher | null = null;
  private identity: FileIdentity;
  /** The forward-secure seal (utmpsd --seal-key), and the timer of its next epoch. */
  private seal: WtmpSeal | null = null;
  private sealTimer: NodeJS.Timeout | null = null;

  private constructor(
    path: string,
    handle: FileHandle,
    private readonly options: RecordFileOptions,
  ) {
    super(path, handle, options);
    this.identity = identityOf(handle.fd);
  }

  static async open(path: string, options: RecordFileOptions = {}): Promise<WtmpFile> {
    return new WtmpFile(path, await RecordFile.openHandle(path, options), options);
  }

  /** Makes the next append reopen the path (SIGHUP after log rotation). */
  reopen(): void {
    this.reopenRequested = true;
  }

  /**
   * Appends one utmps record; resolves once it is on disk. When signal aborts while the
   * append still waits for the lock (its client hung up), nothing is written.
   */
  async append(record: Buffer, signal?: AbortSignal): Promise<void> {
    if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes`);
    const fileRecord = this.toFileLayout(record);
    await this.followRotation();
    await this.durably(() => {
      // A partial tail is replaced, never extended: append at the last whole record.
      const index = this.recordCount();
      this.seal?.advance(index, this.rawReader, this.layout.size);
      this.writeRecord(index, fileRecord, this.fileSize());
      this.seal?.sealRecord(index, fileRecord);
    }, signal);
    this.changed();
  }

  /**
   * Seals every record from now on (docs/SEALING.md): records already in the file without a
   * seal are adopted, epochs passed are marked, and a timer marks each epoch as it ends.
   */
  async startSealing(seal: WtmpSeal, onError: (e: Error) => void): Promise<void> {
    this.seal = seal;
    const step = async (): Promise<void> => {
      this.sealTimer = null;
      try {
        await this.followRotation(false);
        await this.durably(() => seal.advance(this.recordCount(), this.rawReader, this.layout.size));
      } catch (e) {
        onError(e as Error);
      }
      if (this.seal) arm();
    };
    // At most a minute ahead: a clock set back must not leave a timer armed for years.
    const arm = (): void => {
      this.sealTimer = setTimeout(() => void step(), Math.min(60_000, Math.max(0, seal.nextBoundaryMs() - Date.now()) + 5)).unref();
    };
    await this.durably(() => seal.advance(this.recordCount(), this.rawReader, this.layout.size));
    arm();
  }

  protected override companion(): GroupSync | null {
    return this.seal?.syncer ?? null;
  }

  private readonly rawReader = (from: number, n: number): Buffer => {
    const size = this.layout.size;
    const buf = Buffer.alloc(n * size);
    return buf.subarray(0, Math.floor(readAt(this.handle.fd, buf, from * size) / size) * size);
  };

  /** Subscribes to changes (our appends, other writers, rotation); returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    this.watchFile();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.unwatchFile();
    };
  }

  /**
   * How many whole records the current file has, and which file (generation) it is. Looks
   * at the path first, so a reader notices rotation without waiting for an append.
   */
  async snapshot(): Promise<{ count: number; generation: number }> {
    await this.followRotation(false);
    return { count: this.recordCount(), generation: this.generation };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private watchFile(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.path, { persistent: false }, () => this.changed());
      this.watcher.on('error', () => this.unwatchFile());
    } catch {
      // No inotify here: followers still poll.
    }
  }

  private unwatchFile(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  override async close(): Promise<void> {
    this.unwatchFile();
    if (this.sealTimer) clearTimeout(this.sealTimer);
    const seal = this.seal;
    this.seal = null;
    await this.queue.idle();
    await seal?.close();
    await super.close();
  }

  /** Whole records [from, to) of the current file, as utmps records (no lock: see the top). */
  async read(from: number, to = Infinity): Promise<Buffer> {
    return this.readRecords(from, Math.min(to, this.recordCount()));
  }

  /** Reopens the path if it names another file now; only a writer creates a missing one. */
  private async followRotation(create = true): Promise<void> {
    const current = this.pathStillNamesFile();
    if (current === true && !this.reopenRequested) return;
    if (current === 'missing' && !create) return;
    this.reopenRequested = false;
    const fresh = await RecordFile.openHandle(this.path, this.options);
    // Work under the lock is synchronous, so nothing is half done on the old descriptor.
    this.seal?.rotate(this.handle.fd);
    this.replaceHandle(fresh);
    this.identity = identityOf(fresh.fd);
    this.generation++;
    this.unwatchFile();
    if (this.listeners.size > 0) this.watchFile();
  }

  private pathStillNamesFile(): boolean | 'missing' {
    try {
      const st = statSync(this.path);
      return st.ino === this.identity.ino && st.dev === this.identity.dev;
    } catch (e) {
      // Gone: rotated away. Unreadable path (EACCES after dropping privileges): we cannot
      // tell, so keep the file we have.
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : true;
    }
  }
}
