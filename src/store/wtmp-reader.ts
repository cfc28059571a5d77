// Reading a wtmp (or utmp) file of either layout as utmps-layout records, in blocks, so
// memory stays bounded whatever the file size. Backwards (newest first) is what `last`
// needs: `last -n 10` on a huge file reads a few kilobytes at its end. Forwards serves
// dump and convert.
//
// The size is taken once at open: records appended later are not seen (a follower would
// reopen or read on from `size`). A torn tail (size not a multiple of the record size) is
// ignored; records are counted from the start of the file.

import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { GLIBC_LAYOUT, type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { type Detection, detectFileLayout } from './detect.js';

const U = UTMPS_LAYOUT;
const G = GLIBC_LAYOUT;

// ---- layout conversion, record by record into caller buffers (no objects) ----

/** A glibc record at src[s..] to a utmps record at dst[d..]; the utmps-only padding becomes zero. */
export function glibcToUtmps(src: Buffer, s: number, dst: Buffer, d: number): void {
  src.copy(dst, d, s, s + G.tvSec); // ut_type .. ut_session share their offsets
  dst.fill(0, d + G.tvSec, d + U.tvSec);
  const sec = src.readInt32LE(s + G.tvSec);
  const usec = src.readInt32LE(s + G.tvUsec);
  dst.writeInt32LE(sec, d + U.tvSec);
  dst.writeInt32LE(sec < 0 ? -1 : 0, d + U.tvSec + 4);
  dst.writeInt32LE(usec, d + U.tvUsec);
  dst.writeInt32LE(usec < 0 ? -1 : 0, d + U.tvUsec + 4);
  src.copy(dst, d + U.addr, s + G.addr, s + G.size); // ut_addr_v6 and the reserved bytes
  dst.fill(0, d + U.reserved + 20, d + U.size);
}

// Word offsets: every field of both layouts from ut_pid on is 4-byte aligned. Words are
// host order, as the records are (little-endian on every platform we target).
const GW = G.size / 4;
const UW = U.size / 4;
const HEAD_W = G.tvSec / 4; // ut_type .. ut_session: the same in both
const G_SEC_W = G.tvSec / 4;
const U_SEC_W = U.tvSec / 4;
const G_TAIL_W = G.addr / 4; // ut_addr_v6 and the reserved bytes: 9 words
const U_TAIL_W = U.addr / 4;

/**
 * Turns n glibc records, read into the start of buf, into n utmps records in place.
 * Going from the last record down, each one moves to a place at or beyond where it was,
 * never onto a record not yet moved. copyWithin costs one native call per field group,
 * far less than a Buffer.copy or a loop per word.
 */
export function expandGlibcInPlace(buf: Buffer, n: number): void {
  if (buf.byteOffset % 4 !== 0 || buf.length < n * U.size) {
    throw new RangeError('expandGlibcInPlace needs a word-aligned buffer of n utmps records');
  }
  const w = new Int32Array(buf.buffer, buf.byteOffset, (n * U.size) / 4);
  for (let i = n - 1; i >= 0; i--) {
    const s = i * GW;
    const d = i * UW;
    const sec = w[s + G_SEC_W];
    const usec = w[s + G_SEC_W + 1];
    w.copyWithin(d + U_TAIL_W, s + G_TAIL_W, s + GW);
    w[d + UW - 1] = 0;
    w[d + U_SEC_W] = sec;
    w[d + U_SEC_W + 1] = sec >> 31;
    w[d + U_SEC_W + 2] = usec;
    w[d + U_SEC_W + 3] = usec >> 31;
    w[d + HEAD_W] = 0;
    if (d !== s) w.copyWithin(d, s, s + HEAD_W);
  }
}

function fits32(buf: Buffer, off: number): boolean {
  return buf.readInt32LE(off + 4) === (buf.readInt32LE(off) < 0 ? -1 : 0);
}

/**
 * A utmps record at src[s..] to a glibc record at dst[d..]. A time outside 32 bits is
 * refused with a RangeError carrying code EOVERFLOW; nothing is ever wrapped.
 */
export function utmpsToGlibc(src: Buffer, s: number, dst: Buffer, d: number): void {
  if (!fits32(src, s + U.tvSec) || !fits32(src, s + U.tvUsec)) {
    const sec = src.readBigInt64LE(s + U.tvSec);
    const usec = src.readBigInt64LE(s + U.tvUsec);
    throw Object.assign(new RangeError(`time ${sec}.${usec} does not fit the 32-bit time of the glibc layout`), {
      code: 'EOVERFLOW',
      errno: 75,
    });
  }
  src.copy(dst, d, s, s + G.tvSec);
  dst.writeInt32LE(src.readInt32LE(s + U.tvSec), d + G.tvSec);
  dst.writeInt32LE(src.readInt32LE(s + U.tvUsec), d + G.tvUsec);
  src.copy(dst, d + G.addr, s + U.addr, s + U.reserved + 20);
}

// ---- the reader ----

/**
 * Records [first, first + count) of the file, as utmps records in file order. `buf` is
 * the reader's block buffer, overwritten by the next block: copy what you keep.
 */
export interface RecordBlock {
  buf: Buffer;
  count: number;
  first: number;
}

export interface ReaderOptions {
  /** The file's layout; detected from size and content when absent. */
  layout?: RecordLayout;
}

const { O_RDONLY, O_NONBLOCK } = constants;
const MAX_BLOCK = 8192;

export class WtmpReader {
  /** How the layout was chosen, when it was detected. */
  readonly detection: Detection | null;
  readonly layout: RecordLayout;
  /** File size at open. */
  readonly size: number;
  /** Whole records at open. */
  readonly count: number;
  /** st_ctime in seconds (util-linux last shows it as the start of an empty file). */
  readonly ctime: number;
  private block = Buffer.alloc(0);

  private constructor(
    readonly path: string,
    private fd: number,
    options: ReaderOptions,
  ) {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw Object.assign(new Error('not a regular file'), { code: 'EINVAL', errno: 22 });
    }
    this.size = st.size;
    this.ctime = Math.floor(st.ctimeMs / 1000);
    this.detection = options.layout ? null : detectFileLayout(fd, st.size);
    this.layout = options.layout ?? this.detection!.layout;
    this.count = Math.floor(st.size / this.layout.size);
  }

  /** Opens for reading (never blocking on a FIFO, refusing anything but a regular file). */
  static open(path: string, options: ReaderOptions = {}): WtmpReader {
    const fd = openSync(path, O_RDONLY | O_NONBLOCK);
    try {
      return new WtmpReader(path, fd, options);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Records [first, first + n) as utmps records, in the reader's block buffer (valid until the next read). */
  read(first: number, n: number): RecordBlock {
    const rs = this.layout.size;
    const want = n * rs;
    // One buffer per reader, reused block after block (memory stays one block), of its own
    // (not from Node's pool) so it can be seen as 32-bit words. glibc records are read
    // into its start and spread out in place.
    if (this.block.length < n * U.size) this.block = Buffer.from(new ArrayBuffer(n * U.size));
    const raw = this.block;
    let got = 0;
    while (got < want) {
      const r = readSync(this.fd, raw, got, want - got, first * rs + got);
      if (r === 0) break;
      got += r;
    }
    const count = Math.floor(got / rs);
    if (this.layout !== U) expandGlibcInPlace(raw, count);
    return { buf: raw.subarray(0, count * U.size), count, first };
  }

  /** The first record (a copy), or null for an empty file. */
  first(): Buffer | null {
    const b = this.read(0, 1);
    return b.count === 1 ? Buffer.from(b.buf) : null;
  }

  /**
   * Blocks from the end of the file to its start. Blocks start small (a `last -n 10`
   * reads little) and double up to MAX_BLOCK records.
   */
  *blocksBackward(initial = 64): Generator<RecordBlock> {
    let end = this.count;
    let n = initial;
    while (end > 0) {
      const first = Math.max(0, end - n);
      const block = this.read(first, end - first);
      if (block.count === 0) return; // the file shrank under us
      yield block;
      end = first;
      n = Math.min(n * 2, MAX_BLOCK);
    }
  }

  /** Blocks from the start of the file to its end. */
  *blocksForward(n = MAX_BLOCK): Generator<RecordBlock> {
    for (let first = 0; first < this.count; first += n) {
      const block = this.read(first, Math.min(n, this.count - first));
      if (block.count === 0) return;
      yield block;
    }
  }

  /** Every record, newest first, each a 400-byte view valid until the next block is read. */
  *newestFirst(): Generator<Buffer> {
    for (const { buf, count } of this.blocksBackward()) {
      for (let i = count - 1; i >= 0; i--) yield buf.subarray(i * U.size, (i + 1) * U.size);
    }
  }
}

// ---- is a login still there? (util-linux last's "gone - no logout") ----

let bootTime: number | undefined;

/** When this system booted (/proc/stat btime), in seconds; 0 if unknown. */
export function systemBootTime(): number {
  if (bootTime === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
      bootTime = m ? Number(m[1]) : 0;
    } catch {
      bootTime = 0;
    }
  }
  return bootTime;
}

/** Answers whether a login with no logout is gone; names and lines are latin1 byte strings. */
export type LoginProbe = (user: string, pid: number, line: string, login: number) => boolean;

/** Logins from before this boot are gone whatever else holds: no user lookup needed. */
export const loginBeforeBoot: LoginProbe = (_user, _pid, _line, login) => login < systemBootTime();

/**
 * The full probe, judged on this system as util-linux last does: a login is gone if it
 * predates the current boot, if its user does not exist, or if its process's login uid
 * (or, without such a process, the owner of /dev/LINE) is not the user's uid. Loads the
 * native addon (NSS lookups), so callers load it only when a login is recent enough.
 */
export async function loadLoginProbe(): Promise<LoginProbe> {
  const { lookupUserByNameSync } = await import('../sys/native.js');
  return (user, pid, line, login) => {
    if (login < systemBootTime()) return true;
    let uid: number;
    try {
      const pw = lookupUserByNameSync(Buffer.from(user.slice(0, 31), 'latin1').toString());
      if (!pw) return true;
      uid = pw.uid;
    } catch {
      return true;
    }
    let loginUid: string | undefined;
    try {
      loginUid = readFileSync(`/proc/${pid >>> 0}/loginuid`, 'latin1');
    } catch {
      loginUid = undefined;
    }
    if (loginUid !== undefined) {
      const m = /^\d+/.exec(loginUid);
      return m === null || Number(m[0]) !== uid;
    }
    try {
      return statSync(Buffer.concat([Buffer.from('/dev/'), Buffer.from(line, 'latin1')])).uid !== uid;
    } catch {
      return true;
    }
  };
}
