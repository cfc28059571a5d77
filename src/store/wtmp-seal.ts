// The seal of a wtmp file (docs/SEALING.md): the key state file, rewritten in place at
// each epoch, and the sidecar beside wtmp (<wtmp>.seal) with one chained MAC per record.
//
// Every method that writes is synchronous and is called by WtmpFile under its write lock,
// right after the record is written: the sidecar entry and the record go out in the same
// group commit (WtmpFile.companion), so an acknowledged record always has its seal.

import { closeSync, constants, fchmodSync, fstatSync, fsync, fsyncSync, ftruncateSync, openSync, readlinkSync, renameSync, writeSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Errno, errnoOf } from '../errno.js';
import {
  BODY_SIZE,
  decodeBody,
  decodeState,
  type EntryKind,
  ENTRY_SIZE,
  encodeBody,
  encodeState,
  entryMac,
  epochAt,
  epochStartMs,
  keyAt,
  macKeyOf,
  recordDigest,
  type SealState,
  STATE_SIZE,
  ZERO_MAC,
} from '../seal/chain.js';
import { readAt } from './block-read.js';
import { StoreError } from './errors.js';
import { GroupSync, type Syncable } from './group-sync.js';
import { openDatabaseFile } from './open.js';

const { O_RDWR, O_NOFOLLOW, O_NONBLOCK } = constants;

export const SIDECAR_SUFFIX = '.seal';

export interface SealOptions {
  /** Checks the opened sidecar before anything is read or written (utmpsd as root: checkOpenedFile). */
  checkSidecar?: (path: string, fd: number) => void;
  /** Mode of a sidecar this store creates (the wtmp file's). */
  mode?: number;
  warn?: (message: string) => void;
  /** The clock (tests); unix ms. */
  now?: () => number;
}

/** Reads the raw file bytes of wtmp records [from, from + n). */
export type RawReader = (from: number, n: number) => Buffer;

function seal(path: string, what: string, e: unknown): StoreError {
  return new StoreError(errnoOf(e), `unable to ${what} ${path}: ${(e as Error).message}`, { cause: e });
}

/**
 * Opens the seal key state file: never through a link, a regular file with one name,
 * owned by root or us, that nobody else may read (it holds the current epoch key).
 */
function openState(path: string): { fd: number; state: SealState } {
  let fd: number;
  try {
    fd = openSync(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ELOOP' ? 'it is a symbolic link, which is never followed' : err.code === 'ENOENT' ? 'it does not exist (create it with utmps seal init --key FILE)' : err.message;
    throw new StoreError(errnoOf(e), `unable to open seal key ${path}: ${why}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    const euid = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new StoreError(Errno.EINVAL, `unable to use seal key ${path}: not a regular file`);
    if (st.nlink !== 1) throw new StoreError(Errno.EINVAL, `unable to use seal key ${path}: it has ${st.nlink} hard links`);
    if (st.uid !== 0 && st.uid !== euid) throw new StoreError(Errno.EPERM, `unable to use seal key ${path}: it belongs to uid ${st.uid}, not root`);
    if ((st.mode & 0o077) !== 0) {
      throw new StoreError(
        Errno.EPERM,
        `unable to use seal key ${path}: mode 0${(st.mode & 0o777).toString(8)} lets others read the sealing key; chmod 0600 it (and make a new one: this one may be known)`,
      );
    }
    const buf = Buffer.alloc(STATE_SIZE + 1);
    const got = readAt(fd, buf, 0);
    let state: SealState;
    try {
      state = decodeState(buf.subarray(0, got));
    } catch (e) {
      throw new StoreError(Errno.EINVAL, `unable to use seal key ${path}: ${(e as Error).message}`);
    }
    return { fd, state };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

export class WtmpSeal {
  private key: Buffer;
  private macKey: Buffer;
  private epoch: bigint;
  private prevMac: Buffer = ZERO_MAC;
  /** Whole entries in the sidecar. */
  private entries = 0;
  /** The index the next sealed record has. */
  private sealedNext = 0;
  /** sealedNext at the last epoch mark or header. */
  private markAt = 0;
  private sidecarFd_: number;
  syncer: GroupSync;
  private disabled = false;
  private readonly warn: (message: string) => void;
  private readonly now: () => number;

  private constructor(
    readonly keyPath: string,
    private readonly stateFd: number,
    private readonly state: SealState,
    public sidecarPath: string,
    sidecar: FileHandle,
    private readonly options: SealOptions,
  ) {
    this.key = state.key;
    this.epoch = state.epoch;
    this.macKey = macKeyOf(this.key);
    this.sidecarFd_ = sidecar.fd;
    this.syncer = new GroupSync(sidecar);
    this.warn = options.warn ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  /** Opens the key state and the sidecar of wtmpPath; refuses (throws) a missing or corrupt key. */
  static async open(keyPath: string, wtmpPath: string, options: SealOptions = {}): Promise<WtmpSeal> {
    const { fd, state } = openState(keyPath);
    const sidecarPath = wtmpPath + SIDECAR_SUFFIX;
    let handle: FileHandle;
    try {
      ({ handle } = await openDatabaseFile(sidecarPath, options.mode ?? 0o640));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const s = new WtmpSeal(keyPath, fd, state, sidecarPath, handle, options);
    try {
      // Before resume(), which may write a header: a linked-in file gets nothing from us.
      options.checkSidecar?.(sidecarPath, handle.fd);
      s.resume();
    } catch (e) {
      await handle.close();
      closeSync(fd);
      throw e;
    }
    return s;
  }

  /** The state file's descriptor (kept root's: written through this descriptor only). */
  get keyFd(): number {
    return this.stateFd;
  }

  get sidecarFd(): number {
    return this.sidecarFd_;
  }

  /** The epoch the current key belongs to. */
  get currentEpoch(): bigint {
    return this.epoch;
  }

  /** When the next epoch starts (unix ms). */
  nextBoundaryMs(): number {
    return epochStartMs(this.epoch + 1n, this.state.startS, this.state.intervalS);
  }

  /** Picks up the chain where the sidecar ends; starts a new sidecar with its header. */
  private resume(): void {
    const size = fstatSync(this.sidecarFd_).size;
    this.entries = Math.floor(size / ENTRY_SIZE);
    if (size % ENTRY_SIZE !== 0) {
      this.warn(`${this.sidecarPath}: ignoring a partial entry of ${size % ENTRY_SIZE} bytes at the end; the next seal replaces it`);
    }
    if (this.entries === 0) {
      this.append('header', { index: 0, digest: ZERO_MAC });
      return;
    }
    const two = Buffer.alloc(2 * ENTRY_SIZE);
    const from = Math.max(0, this.entries - 2);
    readAt(this.sidecarFd_, two, from * ENTRY_SIZE);
    const last = two.subarray((this.entries - 1 - from) * ENTRY_SIZE, (this.entries - from) * ENTRY_SIZE);
    const entry = decodeBody(last.subarray(0, BODY_SIZE));
    if (!entry) throw new StoreError(Errno.EINVAL, `unable to use ${this.sidecarPath}: its last entry is no seal entry`);
    this.prevMac = Buffer.from(last.subarray(BODY_SIZE));
    if (entry.epoch === this.epoch) {
      // Sealed under our key? If not, a new key met an old sidecar: every seal from here is
      // "sealed under another key" for both keys.
      const before = this.entries >= 2 ? two.subarray(BODY_SIZE, ENTRY_SIZE) : ZERO_MAC;
      if (!entryMac(this.macKey, before, this.entries - 1, last.subarray(0, BODY_SIZE)).equals(last.subarray(BODY_SIZE))) {
        this.warn(
          `${this.sidecarPath} was not sealed with the key in ${this.keyPath}: a new key needs a new sidecar ` +
            '(rotate wtmp, or move wtmp and its .seal away, before starting with it); utmps verify will report it',
        );
      }
    }
    this.sealedNext = entry.kind === 'record' || entry.kind === 'adopted' ? entry.index + 1 : entry.index;
    this.markAt = this.findMark();
    const chainEpoch = entry.kind === 'epoch' ? entry.newEpoch : entry.epoch;
    if (chainEpoch > this.epoch && entry.kind === 'epoch') {
      // Stopped between the epoch mark and the key's evolution: finish the evolution.
      this.evolve(chainEpoch);
    } else if (chainEpoch !== this.epoch) {
      this.warn(
        `${this.sidecarPath} ends in epoch ${chainEpoch} but the key ${this.keyPath} is at epoch ${this.epoch}: ` +
          'the sidecar was cut or belongs to another key; utmps verify will report it',
      );
    }
  }

  /** sealedNext at the last header or epoch mark: scans back in blocks. */
  private findMark(): number {
    const per = 4096;
    const buf = Buffer.alloc(per * ENTRY_SIZE);
    for (let end = this.entries; end > 0; end -= per) {
      const from = Math.max(0, end - per);
      readAt(this.sidecarFd_, buf, from * ENTRY_SIZE, (end - from) * ENTRY_SIZE);
      for (let j = end - from - 1; j >= 0; j--) {
        const e = decodeBody(buf.subarray(j * ENTRY_SIZE, j * ENTRY_SIZE + BODY_SIZE));
        if (e && (e.kind === 'epoch' || e.kind === 'header')) return e.index;
      }
    }
    return 0;
  }

  /** One entry, MAC'd under the current key, written at the end of the sidecar. */
  private append(kind: EntryKind, fields: { index: number; digest?: Buffer; newEpoch?: bigint; count?: number; time?: number }): void {
    const body = encodeBody({ kind, epoch: this.epoch, time: fields.time ?? this.now(), ...fields });
    const mac = entryMac(this.macKey, this.prevMac, this.entries, body);
    const entry = Buffer.concat([body, mac]);
    const offset = this.entries * ENTRY_SIZE;
    let written = 0;
    try {
      while (written < ENTRY_SIZE) written += writeSync(this.sidecarFd_, entry, written, ENTRY_SIZE - written, offset + written);
    } catch (e) {
      try {
        ftruncateSync(this.sidecarFd_, offset);
      } catch {
        // the error below is what counts
      }
      throw seal(this.sidecarPath, 'write to', e);
    }
    this.entries++;
    this.prevMac = mac;
  }

  /**
   * Before a record is sealed or a timer fires (under the wtmp write lock): records found
   * in wtmp without a seal (a crash between the two writes, another writer) are sealed as
   * adopted; then every epoch boundary passed is marked and the key evolved.
   */
  advance(count: number, read: RawReader, recordSize: number): void {
    if (this.disabled) return;
    if (count > this.sealedNext) {
      this.warn(
        `wtmp has ${count - this.sealedNext} records without a seal (from index ${this.sealedNext}): written before sealing began, after a crash, or by another writer; sealing them as adopted`,
      );
      for (let from = this.sealedNext; from < count; from += 1024) {
        const n = Math.min(1024, count - from);
        const raw = read(from, n);
        if (raw.length < n * recordSize) throw new StoreError(Errno.EIO, `unable to read wtmp records ${from}..${from + n - 1} to seal them`);
        for (let i = 0; i < n; i++) {
          this.append('adopted', { index: from + i, digest: recordDigest(raw.subarray(i * recordSize, (i + 1) * recordSize)) });
        }
      }
      this.sealedNext = count;
    } else if (count < this.sealedNext) {
      this.warn(`wtmp has ${count} records but ${this.sealedNext} were sealed: it was cut; utmps verify will report it`);
      this.sealedNext = count;
    }
    const now = epochAt(this.now(), this.state.startS, this.state.intervalS);
    if (now > this.epoch) this.mark(now);
  }

  /** Seals the record just written at index (under the wtmp write lock). */
  sealRecord(index: number, fileRecord: Uint8Array): void {
    if (this.disabled) return;
    this.append('record', { index, digest: recordDigest(fileRecord) });
    this.sealedNext = index + 1;
  }

  /**
   * Closes the current epoch with a mark MAC'd under its key, makes the mark durable, then
   * overwrites the key with the new epoch's key and makes that durable: the old key is
   * gone from the file before anything is sealed under the new one.
   */
  private mark(newEpoch: bigint): void {
    this.append('epoch', {
      index: this.sealedNext,
      newEpoch,
      count: this.sealedNext - this.markAt,
      time: epochStartMs(newEpoch, this.state.startS, this.state.intervalS),
    });
    this.markAt = this.sealedNext;
    try {
      fsyncSync(this.sidecarFd_);
    } catch (e) {
      throw seal(this.sidecarPath, 'sync', e);
    }
    this.evolve(newEpoch);
  }

  private evolve(newEpoch: bigint): void {
    const next = keyAt(this.key, this.epoch, newEpoch);
    const bytes = encodeState({ ...this.state, epoch: newEpoch, key: next });
    try {
      // In place, same offset and length: the blocks that held the old key get the new one.
      let written = 0;
      while (written < STATE_SIZE) written += writeSync(this.stateFd, bytes, written, STATE_SIZE - written, written);
      fsyncSync(this.stateFd);
    } catch (e) {
      throw seal(this.keyPath, 'rewrite', e);
    } finally {
      bytes.fill(0);
    }
    this.key.fill(0);
    this.macKey.fill(0);
    this.key = next;
    this.macKey = macKeyOf(next);
    this.epoch = newEpoch;
  }

  /**
   * wtmp was rotated (oldFd is the rotated file, still open): closes the old sidecar, renames
   * it beside the rotated file's new name (<name>.seal), and starts a new sidecar whose
   * header carries the old chain's last MAC.
   */
  rotate(oldFd: number): void {
    if (this.disabled) return;
    this.append('close', { index: this.sealedNext, count: this.sealedNext - this.markAt });
    fsyncSync(this.sidecarFd_);
    const last = this.prevMac;
    let target: string | null = null;
    try {
      const now = readlinkSync(`/proc/self/fd/${oldFd}`);
      if (!now.endsWith(' (deleted)') && dirname(now) === dirname(this.sidecarPath)) target = now + SIDECAR_SUFFIX;
    } catch {
      // no /proc: we cannot tell where the rotated file went
    }
    target ??= join(dirname(this.sidecarPath), `${basename(this.sidecarPath)}.${fstatSync(oldFd).ino}`);
    try {
      renameSync(this.sidecarPath, target);
    } catch (e) {
      // Already moved along by whoever rotated wtmp: the new sidecar can start.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return this.startSidecar(last);
      this.disabled = true;
      this.warn(`unable to rename ${this.sidecarPath} to ${target} after wtmp rotation: ${(e as Error).message}; sealing stops until restart`);
      return;
    }
    this.startSidecar(last);
  }

  /** A new sidecar at the usual path, its header chaining from the last MAC of the one before. */
  private startSidecar(last: Buffer): void {
    void this.syncer.retire().catch(() => undefined);
    let fd: number;
    try {
      fd = openSync(this.sidecarPath, O_RDWR | O_NOFOLLOW | O_NONBLOCK | constants.O_CREAT | constants.O_EXCL, this.options.mode ?? 0o640);
    } catch (e) {
      this.disabled = true;
      this.warn(`unable to create ${this.sidecarPath} after wtmp rotation: ${(e as Error).message}; sealing stops until restart`);
      return;
    }
    try {
      fchmodSync(fd, this.options.mode ?? 0o640);
    } catch {
      // the umask's mode stays; not worth losing the seal over
    }
    this.sidecarFd_ = fd;
    this.syncer = new GroupSync(syncableOf(fd));
    this.entries = 0;
    this.sealedNext = 0;
    this.markAt = 0;
    this.prevMac = ZERO_MAC;
    this.append('header', { index: 0, digest: last });
  }

  /** Clean stop: a close mark, so verify knows the sidecar was not cut. */
  async close(): Promise<void> {
    if (!this.disabled) {
      try {
        this.append('close', { index: this.sealedNext, count: this.sealedNext - this.markAt });
      } catch (e) {
        this.warn((e as Error).message);
      }
    }
    await this.syncer.retire();
    this.key.fill(0);
    this.macKey.fill(0);
    closeSync(this.stateFd);
  }
}

/** A descriptor as GroupSync needs it: fsync, and close once retired. */
function syncableOf(fd: number): Syncable {
  return {
    sync: () => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve()))),
    close: async () => closeSync(fd),
  };
}
