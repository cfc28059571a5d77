// Reading a wtmp (or utmp) file of either layout as utmps-layout records, in blocks, so
// memory stays bounded whatever the file size. Backwards (newest first) is what `last`
// needs: `last -n 10` on a huge file reads a few kilobytes at its end. Forwards serves
// dump and convert.
//
// The size is taken once at open: records appended later are not seen (a follower would
// reopen or read on from `size`). A torn tail (size not a multiple of the record size) is
// ignored; records are counted from the start of the file.

import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { Errno } from '../errno.js';
import { recordBuffer } from '../record/convert.js';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { readRecordBlock } from './block-read.js';
import { type Detection, detectFileLayout } from './detect.js';

const U = UTMPS_LAYOUT;

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
// 400 KB of utmps records: larger blocks read no faster and cost `last` its memory bound.
const MAX_BLOCK = 1024;

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
  private block: Buffer = Buffer.alloc(0);

  private constructor(
    readonly path: string,
    private fd: number,
    options: ReaderOptions,
  ) {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw Object.assign(new Error('not a regular file'), { code: 'EINVAL', errno: Errno.EINVAL });
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
    // One buffer per reader, reused block after block (memory stays one block).
    if (this.block.length < n * U.size) this.block = recordBuffer(n);
    const buf = readRecordBlock(this.fd, this.layout, first, n, this.block);
    return { buf, count: buf.length / U.size, first };
  }

  /** The first record (a copy), or null for an empty file. */
  first(): Buffer | null {
    const b = this.read(0, 1);
    return b.count === 1 ? Buffer.from(b.buf) : null;
  }

  /**
   * Blocks from the end of the file to its start. Blocks start small (a `last -n 10`
   * reads little) and double up to `max` records.
   */
  *blocksBackward(initial = 64, max = MAX_BLOCK): Generator<RecordBlock> {
    let end = this.count;
    let n = Math.min(initial, max);
    while (end > 0) {
      const first = Math.max(0, end - n);
      const block = this.read(first, end - first);
      if (block.count === 0) return; // the file shrank under us
      yield block;
      end = first;
      n = Math.min(n * 2, max);
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
