// Incremental request framing: accepts any chunking, one complete request at a time.

import { Errno } from '../errno.js';
import { RECORD_SIZE } from '../record/layout.js';
import { type CommandSpec, commandForByte, Commands, type Service } from './commands.js';

export type Request =
  | { op: 'rewind' }
  | { op: 'getent' }
  | { op: 'getall' }
  | { op: 'getid'; type: number; id: Buffer }
  | { op: 'getline'; line: Buffer }
  | { op: 'putline'; record: Buffer }
  | { op: 'append'; record: Buffer }
  | ({ op: 'read' } & ReadQuery);

/** The wtmp read extension's query (docs/PROTOCOL-EXTENSIONS.md). */
export interface ReadQuery {
  newestFirst: boolean;
  /** After the history, keep sending records as they are appended. */
  follow: boolean;
  /** Skip the history: only records appended from now on. */
  liveOnly: boolean;
  /** At most this many history records; 0 for all. */
  limit: number;
  /** tv_sec bounds, inclusive; null for none. */
  since: bigint | null;
  until: bigint | null;
  /** NUL-padded 32-byte fields; all zero matches anything. */
  user: Buffer;
  line: Buffer;
}

export const ReadFlags = { NEWEST_FIRST: 1, FOLLOW: 2, LIVE_ONLY: 4 } as const;
const NO_SINCE = -(1n << 63n);
const NO_UNTIL = (1n << 63n) - 1n;

function decodeReadQuery(body: Buffer): ReadQuery {
  const flags = body[0];
  const since = body.readBigInt64BE(5);
  const until = body.readBigInt64BE(13);
  return {
    newestFirst: (flags & ReadFlags.NEWEST_FIRST) !== 0,
    follow: (flags & ReadFlags.FOLLOW) !== 0,
    liveOnly: (flags & ReadFlags.LIVE_ONLY) !== 0,
    limit: body.readUInt32BE(1),
    since: since === NO_SINCE ? null : since,
    until: until === NO_UNTIL ? null : until,
    user: body.subarray(21, 53),
    line: body.subarray(53, 85),
  };
}

function encodeReadQuery(q: Partial<ReadQuery>): Buffer {
  const out = Buffer.alloc(86);
  out[0] = Commands.read.byte;
  out[1] =
    (q.newestFirst ? ReadFlags.NEWEST_FIRST : 0) | (q.follow ? ReadFlags.FOLLOW : 0) | (q.liveOnly ? ReadFlags.LIVE_ONLY : 0);
  out.writeUInt32BE(q.limit ?? 0, 2);
  out.writeBigInt64BE(q.since ?? NO_SINCE, 6);
  out.writeBigInt64BE(q.until ?? NO_UNTIL, 14);
  if (q.user) out.set(q.user.subarray(0, 32), 22);
  if (q.line) out.set(q.line.subarray(0, 32), 54);
  return out;
}

export class ProtocolError extends Error {
  readonly code = 'EPROTO';
  readonly errno = Errno.EPROTO;
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function decodeBody(spec: CommandSpec, body: Buffer): Request {
  switch (spec.op) {
    case 'getid':
      return { op: 'getid', type: body.readUInt16BE(0), id: body.subarray(2, 6) };
    case 'getline':
      return { op: 'getline', line: body };
    case 'putline':
    case 'append':
      return { op: spec.op, record: body };
    case 'read':
      return { op: 'read', ...decodeReadQuery(body) };
    default:
      return { op: spec.op as 'rewind' | 'getent' | 'getall' };
  }
}

export class RequestParser {
  private chunks: Buffer[] = [];
  private length = 0;

  constructor(private readonly service: Service) {}

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.length += chunk.length;
  }

  /** Bytes received and not yet returned as a request. */
  get buffered(): number {
    return this.length;
  }

  /** The command byte at the head of the buffer, if any. */
  peekCommand(): CommandSpec | undefined {
    if (this.length === 0) return undefined;
    return commandForByte(this.service, this.chunks[0][0]);
  }

  /**
   * The next complete request, or null until more bytes arrive. Throws ProtocolError on
   * a command byte this service does not know; nothing after it is interpreted.
   */
  next(): Request | null {
    if (this.length === 0) return null;
    const byte = this.chunks[0][0];
    const spec = commandForByte(this.service, byte);
    if (!spec) {
      throw new ProtocolError(`unknown ${this.service} command byte 0x${byte.toString(16).padStart(2, '0')}`);
    }
    if (this.length < 1 + spec.body) return null;
    const frame = this.take(1 + spec.body);
    // Copy the body: it outlives the chunk it came in, and a record is stored verbatim.
    return decodeBody(spec, Buffer.from(frame.subarray(1)));
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    return frame;
  }
}

/** Request encoders, for clients. Each returns one buffer to send in one write. */
export const encodeRequest = {
  rewind: (): Buffer => Buffer.of(Commands.rewind.byte),
  getent: (): Buffer => Buffer.of(Commands.getent.byte),
  getall: (): Buffer => Buffer.of(Commands.getall.byte),
  getid(type: number, id: Uint8Array): Buffer {
    const out = Buffer.alloc(7);
    out[0] = Commands.getid.byte;
    out.writeUInt16BE(type & 0xffff, 1);
    out.set(id.subarray(0, 4), 3);
    return out;
  },
  getline(line: Uint8Array): Buffer {
    const out = Buffer.alloc(33);
    out[0] = Commands.getline.byte;
    out.set(line.subarray(0, 32), 1);
    return out;
  },
  putline: (record: Uint8Array): Buffer => withRecord(Commands.putline.byte, record),
  append: (record: Uint8Array): Buffer => withRecord(Commands.append.byte, record),
  read: encodeReadQuery,
};

function withRecord(byte: number, record: Uint8Array): Buffer {
  if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes, got ${record.length}`);
  const out = Buffer.allocUnsafe(1 + RECORD_SIZE);
  out[0] = byte;
  out.set(record, 1);
  return out;
}
