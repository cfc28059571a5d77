// Where the readers (last, lastb, lastlog, timeline) get records, newest first: a file
// read backwards in blocks (the one block reader, src/store/wtmp-reader.ts), or a
// wtmpd-protocol socket's read extension (docs/PROTOCOL-EXTENSIONS.md), batched into the
// same utmps-layout blocks so the formatters cannot tell the two apart.

import { basename } from 'node:path';
import { readWtmpBatches } from '../client/wtmp-read.js';
import { recordBuffer } from '../record/convert.js';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { secondsAt } from '../format/view.js';
import { WtmpReader } from '../store/wtmp-reader.js';

/** Records in file order within a block; blocks come newest first. Valid until the next block. */
export interface Block {
  buf: Buffer;
  count: number;
}

export interface RecordSource {
  /** What "X begins" names: the file's base name. */
  readonly name: string;
  /** The file or socket path, for messages and JSON. */
  readonly path: string;
  /** The layout read ('utmps' for a socket: the wire carries utmps records). */
  readonly layoutName: string;
  /** The newest record's time, when it is known before reading (files); null otherwise. */
  newest(): number | null;
  blocks(): AsyncIterable<Block>;
  /** After reading: the oldest record's time (an empty file: its change time; an empty socket history: now). */
  begins(): number;
  close(): void;
}

export class FileSource implements RecordSource {
  readonly name: string;
  readonly layoutName: string;
  private readonly reader: WtmpReader;

  constructor(
    readonly path: string,
    layout?: RecordLayout,
  ) {
    this.reader = WtmpReader.open(path, { layout });
    this.name = basename(path);
    this.layoutName = this.reader.layout.name;
  }

  newest(): number | null {
    const r = this.reader;
    return r.count > 0 ? secondsAt(r.read(r.count - 1, 1).buf, 0) : null;
  }

  async *blocks(): AsyncIterable<Block> {
    // 256-record blocks: 96 KB reads of a glibc file. A positioned read of more than
    // about 128 KB costs the kernel 2-3 times as much per byte here (1M records read
    // backwards: 150-240 ms in 96 KB blocks, 510-570 ms in 384 KB ones).
    yield* this.reader.blocksBackward(64, 256);
  }

  begins(): number {
    const first = this.reader.first();
    return first ? secondsAt(first, 0) : this.reader.ctime;
  }

  close(): void {
    this.reader.close();
  }
}

// Records per block from a socket: the size of the file reader's first blocks.
const SOCKET_BLOCK = 256;
// A whole history can be long (1M records); a dead server still ends the read.
const HISTORY_TIMEOUT_MS = 600_000;

export class SocketSource implements RecordSource {
  readonly layoutName = 'utmps';
  private oldest: number | null = null;

  constructor(
    readonly path: string,
    readonly name: string,
  ) {}

  newest(): number | null {
    return null;
  }

  async *blocks(): AsyncIterable<Block> {
    const buf = recordBuffer(SOCKET_BLOCK);
    const U = UTMPS_LAYOUT.size;
    // Records come newest first: fill the block from its end, so it is in file order.
    let free = SOCKET_BLOCK;
    for await (const { records } of readWtmpBatches({ path: this.path, newestFirst: true, timeoutMs: HISTORY_TIMEOUT_MS })) {
      for (const record of records) {
        free--;
        record.copy(buf, free * U, 0, U);
        this.oldest = secondsAt(buf, free * U);
        if (free === 0) {
          yield { buf, count: SOCKET_BLOCK };
          free = SOCKET_BLOCK;
        }
      }
    }
    if (free < SOCKET_BLOCK) yield { buf: buf.subarray(free * U), count: SOCKET_BLOCK - free };
  }

  begins(): number {
    return this.oldest ?? Math.floor(Date.now() / 1000);
  }

  close(): void {}
}
