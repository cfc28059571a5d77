// The one block read of a record file: positioned reads until the block is full or the
// file ends, then the whole records as utmps records (glibc ones spread out in place).

import { readSync } from 'node:fs';
import { expandGlibcInPlace, recordBuffer } from '../record/convert.js';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';

/** Reads length bytes at position into the start of buf, fewer only at end of file; the bytes read. */
export function readAt(fd: number, buf: Uint8Array, position: number, length = buf.length): number {
  let got = 0;
  while (got < length) {
    const r = readSync(fd, buf, got, length - got, position + got);
    if (r === 0) break;
    got += r;
  }
  return got;
}

/**
 * Records [first, first + n) of a file in `layout`, as utmps records at the start of
 * `into` (a word-aligned buffer of at least n utmps records, see recordBuffer; fresh when
 * absent). Only whole records count: the result is shorter at end of file.
 */
export function readRecordBlock(fd: number, layout: RecordLayout, first: number, n: number, into: Buffer = recordBuffer(n)): Buffer {
  const rs = layout.size;
  const count = Math.floor(readAt(fd, into, first * rs, n * rs) / rs);
  if (layout !== UTMPS_LAYOUT) expandGlibcInPlace(into, count);
  return into.subarray(0, count * UTMPS_LAYOUT.size);
}
