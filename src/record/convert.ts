// The one glibc <-> utmps record converter, on buffers. The store, the readers, dump and
// convert all go through it. Going to glibc loses the utmps-only padding and refuses
// (EOVERFLOW) a time outside 32 bits rather than wrapping it; the padding after ut_type,
// the one gap both layouts share, crosses.

import { Errno } from '../errno.js';
import { checkSize } from './codec.js';
import { GLIBC_LAYOUT as G, type RecordLayout, UTMPS_LAYOUT as U } from './layout.js';

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

/** A word-aligned buffer for n utmps records, off Node's pool. */
export function recordBuffer(n: number): Buffer {
  return Buffer.from(new ArrayBuffer(n * U.size));
}

/** The whole records of `bytes`, in layout `from`, as utmps records (a copy). */
export function toUtmpsRecords(bytes: Uint8Array, from: RecordLayout): Buffer {
  const n = Math.floor(bytes.length / from.size);
  const out = recordBuffer(n);
  out.set(bytes.subarray(0, n * from.size));
  if (from !== U) expandGlibcInPlace(out, n);
  return out;
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
      errno: Errno.EOVERFLOW,
    });
  }
  src.copy(dst, d, s, s + G.tvSec);
  dst.writeInt32LE(src.readInt32LE(s + U.tvSec), d + G.tvSec);
  dst.writeInt32LE(src.readInt32LE(s + U.tvUsec), d + G.tvUsec);
  src.copy(dst, d + G.addr, s + U.addr, s + U.reserved + 20);
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Converts one record between layouts (a copy, even to the same layout). */
export function convertRecord(bytes: Uint8Array, from: RecordLayout, to: RecordLayout): Buffer {
  checkSize(bytes, from);
  if (from === to) return Buffer.from(bytes);
  if (to === U) return toUtmpsRecords(bytes, from);
  const out = Buffer.alloc(G.size);
  utmpsToGlibc(asBuffer(bytes), 0, out, 0);
  return out;
}
