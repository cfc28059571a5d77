// Answers: a status byte, then a record iff the status is 0 and the request reads one.
// Each answer is built as ONE buffer so it goes out in one write: libutmps reads an
// answer with a single recv() (PROTOCOL.md section 2, interop hazard).

import { RECORD_SIZE } from '../record/layout.js';
import { Errno } from '../errno.js';

export function statusAnswer(errno: number): Buffer {
  if (!Number.isInteger(errno) || errno < 0 || errno > 255) throw new RangeError(`status ${errno} is not a byte`);
  return Buffer.of(errno);
}

export function recordAnswer(record: Uint8Array): Buffer {
  // The buffer is not zeroed: a short record would send uninitialised memory.
  if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes, got ${record.length}`);
  const out = Buffer.allocUnsafe(1 + RECORD_SIZE);
  out[0] = Errno.OK;
  out.set(record, 1);
  return out;
}

/** Several record answers and the closing ESRCH, in one buffer (the getall extension). */
export function recordsAnswer(records: Uint8Array): Buffer {
  if (records.length % RECORD_SIZE !== 0) {
    throw new RangeError(`records are ${RECORD_SIZE} bytes each, got ${records.length} bytes`);
  }
  const n = records.length / RECORD_SIZE;
  const out = Buffer.allocUnsafe(n * (1 + RECORD_SIZE) + 1);
  for (let i = 0; i < n; i++) {
    out[i * (1 + RECORD_SIZE)] = Errno.OK;
    out.set(records.subarray(i * RECORD_SIZE, (i + 1) * RECORD_SIZE), i * (1 + RECORD_SIZE) + 1);
  }
  out[out.length - 1] = Errno.ESRCH;
  return out;
}

export type Answer = { status: 0; record: Buffer | null } | { status: number; record: null };

/**
 * Incremental answer reader for clients: the caller says what shape it expects next, and
 * bytes may arrive in any chunking.
 */
export class AnswerReader {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
  }

  get buffered(): number {
    return this.buf.length;
  }

  /** The next answer, or null until enough bytes are here. */
  next(withRecord: boolean): Answer | null {
    if (this.buf.length === 0) return null;
    const status = this.buf[0];
    if (status !== Errno.OK || !withRecord) {
      this.buf = this.buf.subarray(1);
      return { status, record: null } as Answer;
    }
    if (this.buf.length < 1 + RECORD_SIZE) return null;
    const record = Buffer.from(this.buf.subarray(1, 1 + RECORD_SIZE));
    this.buf = this.buf.subarray(1 + RECORD_SIZE);
    return { status: 0, record };
  }
}
