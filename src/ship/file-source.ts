// Tailing a wtmp file for `utmps ship`: whole records from where the cursor points, read
// with the one block reader and converted with the one converter, then (with follow) new
// records as they are appended, across rotation.
//
// Rotation, while running: the open descriptor still reaches the renamed file, so it is
// read to its end before the new file at the path is opened. Rotation while stopped: the
// record at the cursor's offset no longer has the cursor's hash, so the rotated files
// (--rotated, default FILE.1) are searched for it; the one holding it is finished first.
// When none does, the file is shipped from its start and that is reported.

import * as crypto from 'node:crypto';
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, statSync } from 'node:fs';
import { shipRecord } from '../format/ship.js';
import { expandGlibcInPlace, recordBuffer } from '../record/convert.js';
import { GLIBC_LAYOUT, type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { readAt } from '../store/block-read.js';
import { detectFileLayout } from '../store/detect.js';
import type { Cursor } from './cursor.js';
import { pause, type Report, type Source, type SourceItem } from './source.js';

export interface FileSourceOptions {
  path: string;
  /** Where the rotated file may be; searched in order when the cursor is not in `path`. */
  rotated: string[];
  cursor: Cursor | null;
  /** The file's layout; detected when absent. */
  layout?: RecordLayout;
  follow: boolean;
  /** Without a cursor: ship the history (beginning) or only what is appended (end). */
  start: 'beginning' | 'end';
  pollMs: number;
  /** Records read per block (and at most per batch yielded). */
  block: number;
  report: Report;
}

const { O_RDONLY, O_NONBLOCK } = constants;

// crypto.hash (Node 20.12+) is the one-shot form, much cheaper for 400 bytes.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;

export function sha256(bytes: Uint8Array): string {
  return oneShot ? oneShot('sha256', bytes, 'hex') : createHash('sha256').update(bytes).digest('hex');
}

class OpenFile {
  layout: RecordLayout | null;
  readonly ino: number;
  readonly dev: number;
  constructor(
    readonly path: string,
    readonly fd: number,
    fixed: RecordLayout | undefined,
  ) {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw Object.assign(new Error(`${path}: not a regular file`), { code: 'EINVAL' });
    }
    this.ino = st.ino;
    this.dev = st.dev;
    this.layout = fixed ?? (st.size > 0 ? detectFileLayout(fd, st.size).layout : null);
  }

  static open(path: string, fixed: RecordLayout | undefined): OpenFile {
    return new OpenFile(path, openSync(path, O_RDONLY | O_NONBLOCK), fixed);
  }

  size(): number {
    return fstatSync(this.fd).size;
  }

  /** The layout, detected on first content when it was not known. */
  layoutNow(): RecordLayout | null {
    if (this.layout === null) {
      const size = this.size();
      if (size > 0) this.layout = detectFileLayout(this.fd, size).layout;
    }
    return this.layout;
  }

  /** The stored bytes of the record at offset, or null past the end. */
  recordAt(offset: number, size: number): Buffer | null {
    const b = Buffer.alloc(size);
    return readAt(this.fd, b, offset) === size ? b : null;
  }

  close(): void {
    closeSync(this.fd);
  }
}

export class FileSource implements Source {
  constructor(private readonly o: FileSourceOptions) {}

  /** The rotated file holding the cursor's record, opened, or null. */
  private findRotated(cursor: Cursor): OpenFile | null {
    for (const path of this.o.rotated) {
      let f: OpenFile;
      try {
        f = OpenFile.open(path, cursor.size === GLIBC_LAYOUT.size ? GLIBC_LAYOUT : UTMPS_LAYOUT);
      } catch {
        continue;
      }
      const rec = f.recordAt(cursor.offset!, cursor.size);
      if (rec !== null && sha256(rec) === cursor.hash) return f;
      f.close();
    }
    return null;
  }

  /** Whole records of f from byte offset pos to its current end, in batches. */
  private *drain(f: OpenFile, from: number, raw: { buf: Buffer }): Generator<SourceItem[], number> {
    let pos = from;
    for (;;) {
      const layout = f.layoutNow();
      if (layout === null) return pos;
      const rs = layout.size;
      const n = Math.min(this.o.block, Math.floor((f.size() - pos) / rs));
      if (n <= 0) return pos;
      if (raw.buf.length < n * UTMPS_LAYOUT.size) raw.buf = recordBuffer(n);
      const got = Math.floor(readAt(f.fd, raw.buf, pos, n * rs) / rs);
      if (got === 0) return pos;
      // Hashes are of the stored bytes, taken before glibc records are spread out in place.
      const hashes: string[] = [];
      for (let i = 0; i < got; i++) hashes.push(sha256(raw.buf.subarray(i * rs, (i + 1) * rs)));
      if (layout !== UTMPS_LAYOUT) expandGlibcInPlace(raw.buf, got);
      const items: SourceItem[] = [];
      for (let i = 0; i < got; i++) {
        const record = shipRecord(raw.buf, i * UTMPS_LAYOUT.size, hashes[i]);
        const offset = pos + i * rs;
        items.push({ record, cursor: { version: 1, file: f.path, offset, size: rs, hash: hashes[i], tvSec: record.tvSec, tvUsec: record.tvUsec } });
      }
      pos += got * rs;
      yield items;
    }
  }

  /** Where to start in the file at the path, finishing a rotated file first if the cursor is there. */
  private *resume(current: OpenFile, raw: { buf: Buffer }): Generator<SourceItem[], number> {
    const c = this.o.cursor;
    if (c === null || c.offset === null) {
      if (c !== null) this.o.report(`the cursor names no file offset (it came from the wtmpd socket): shipping ${current.path} from its start`);
      if (this.o.start === 'end') {
        const layout = current.layoutNow();
        return layout === null ? 0 : Math.floor(current.size() / layout.size) * layout.size;
      }
      return 0;
    }
    const here = current.recordAt(c.offset, c.size);
    if (here !== null && sha256(here) === c.hash) return c.offset + c.size;
    const old = this.findRotated(c);
    if (old === null) {
      this.o.report(
        `the cursor's record (offset ${c.offset}) is in neither ${current.path} nor ${this.o.rotated.join(', ') || 'a rotated file'}: shipping ${current.path} from its start`,
      );
      return 0;
    }
    this.o.report(`${current.path} was rotated: finishing ${old.path} from offset ${c.offset + c.size} first`);
    try {
      yield* this.drain(old, c.offset + c.size, raw);
    } finally {
      old.close();
    }
    return 0;
  }

  async *items(signal: AbortSignal): AsyncGenerator<SourceItem[]> {
    const raw = { buf: recordBuffer(this.o.block) };
    let f = OpenFile.open(this.o.path, this.o.layout);
    try {
      let pos = yield* this.resume(f, raw);
      for (;;) {
        pos = yield* this.drain(f, pos, raw);
        if (signal.aborted || !this.o.follow) return;
        // Rotated (another file at the path) or gone: the old file is read to its end
        // above; one more look for a last append, then the new file from its start.
        let moved = false;
        try {
          const st = statSync(this.o.path);
          moved = st.ino !== f.ino || st.dev !== f.dev;
        } catch {
          moved = false; // not there yet: keep reading the old one until it is
        }
        if (moved) {
          pos = yield* this.drain(f, pos, raw);
          const next = OpenFile.open(this.o.path, this.o.layout);
          f.close();
          f = next;
          pos = 0;
          this.o.report(`${this.o.path} was rotated: shipping the new file from its start`);
          continue;
        }
        const layout = f.layout;
        if (layout !== null && f.size() < pos) {
          this.o.report(`${this.o.path} shrank below the cursor: shipping it from its start`);
          pos = 0;
          continue;
        }
        await pause(this.o.pollMs, signal);
      }
    } finally {
      f.close();
    }
  }
}
