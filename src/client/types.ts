// Shapes shared by the session, the wtmp append and the POSIX facade.

import { buildRecord, decodeEntry, type EntryInput, entryToJSON, RECORD_SIZE, RecordError, type UtmpEntry, type UtmpEntryJSON } from '../record/index.js';

/** Bounds one operation: a deadline in ms (0 or Infinity: none) and/or a caller's signal. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface ConnectOptions extends CallOptions {
  /** Socket path; defaults to the environment, then /run/utmps/... (see paths.ts). */
  path?: string;
}

/** A record as the server sent it: the 400 bytes verbatim, and their decoded view. */
export interface UtmpRecord {
  readonly bytes: Buffer;
  readonly entry: UtmpEntry;
  /** JSON.stringify(record) gives the decoded entry (see UtmpEntryJSON). */
  toJSON(): UtmpEntryJSON;
}

class ReceivedRecord implements UtmpRecord {
  #entry: UtmpEntry | undefined;
  constructor(readonly bytes: Buffer) {}
  // Decoded on first use: readAll of a big file need not decode what nobody looks at.
  get entry(): UtmpEntry {
    return (this.#entry ??= decodeEntry(this.bytes));
  }
  /** JSON.stringify(record) gives the decoded entry, not 400 bytes of Buffer. */
  toJSON(): UtmpEntryJSON {
    return entryToJSON(this.entry);
  }
}

export function utmpRecord(bytes: Buffer): UtmpRecord {
  return new ReceivedRecord(bytes);
}

/** What callers may hand over as a record: raw bytes, a received record, or fields. */
export type RecordInput = Uint8Array | UtmpRecord | EntryInput;

/** 400 bytes to send. Raw bytes are copied verbatim (padding included); fields are built. */
export function recordBytes(input: RecordInput): Buffer {
  if (input instanceof Uint8Array) {
    if (input.length !== RECORD_SIZE) throw new RecordError('record', `a record is ${RECORD_SIZE} bytes, got ${input.length}`);
    return Buffer.from(input);
  }
  if ('bytes' in input && input.bytes instanceof Uint8Array) return recordBytes(input.bytes);
  return buildRecord(input as EntryInput);
}

/** A fixed NUL-padded field (ut_id, ut_line) from text or bytes; too long is an error, not a cut. */
export function fieldBytes(field: string, value: string | Uint8Array, size: number): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  if (typeof value === 'string' && bytes.includes(0)) throw new RecordError(field, 'contains a NUL byte');
  if (bytes.length > size) throw new RecordError(field, `is ${bytes.length} bytes, at most ${size} fit`);
  const out = Buffer.alloc(size);
  bytes.copy(out);
  return out;
}
