// The wtmp log: whole-record appends only (PROTOCOL.md section 4). Follows log rotation:
// when the path no longer names the open file, the next append goes to a fresh file.

import { fstatSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { RECORD_SIZE } from '../record/layout.js';
import { RecordFile, type RecordFileOptions } from './record-file.js';

interface FileIdentity {
  dev: number;
  ino: number;
}

function identityOf(fd: number): FileIdentity {
  const { dev, ino } = fstatSync(fd);
  return { dev, ino };
}

export class WtmpFile extends RecordFile {
  private reopenRequested = false;
  private identity: FileIdentity;

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

  /** Appends one utmps record; resolves once it is on disk. */
  async append(record: Buffer): Promise<void> {
    if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes`);
    const fileRecord = this.toFileLayout(record);
    await this.followRotation();
    await this.durably(() => {
      // A partial tail is replaced, never extended: append at the last whole record.
      this.writeRecord(this.recordCount(), fileRecord, this.fileSize());
    });
  }

  /** Whole records [from, to) of the current file, as utmps records. */
  read(from: number, to = Infinity): Promise<Buffer> {
    return this.locked('read', () => this.readRecords(from, Math.min(to, this.recordCount())));
  }

  count(): Promise<number> {
    return this.locked('read', () => this.recordCount());
  }

  private async followRotation(): Promise<void> {
    if (!this.reopenRequested && this.pathStillNamesFile()) return;
    this.reopenRequested = false;
    const fresh = await RecordFile.openHandle(this.path, this.options);
    await this.queue.run(() => {
      this.replaceHandle(fresh);
      this.identity = identityOf(fresh.fd);
    });
  }

  private pathStillNamesFile(): boolean {
    try {
      const st = statSync(this.path);
      return st.ino === this.identity.ino && st.dev === this.identity.dev;
    } catch (e) {
      // Gone: rotated away, open a fresh one. Unreadable path (EACCES after dropping
      // privileges): we cannot tell, so keep the file we have.
      return (e as NodeJS.ErrnoException).code !== 'ENOENT';
    }
  }
}
