// Incremental request framing: accepts any chunking, one complete request at a time.

import { RECORD_SIZE } from '../record/layout.js';
import { type CommandSpec, commandForByte, Commands, type Service } from './commands.js';

export type Request =
  | { op: 'rewind' }
  | { op: 'getent' }
  | { op: 'getall' }
  | { op: 'getid'; type: number; id: Buffer }
  | { op: 'getline'; line: Buffer }
  | { op: 'putline'; record: Buffer }
  | { op: 'append'; record: Buffer };

export class ProtocolError extends Error {
  readonly code = 'EPROTO';
  readonly errno = 71;
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
};

function withRecord(byte: number, record: Uint8Array): Buffer {
  if (record.length !== RECORD_SIZE) throw new RangeError(`a record is ${RECORD_SIZE} bytes, got ${record.length}`);
  const out = Buffer.allocUnsafe(1 + RECORD_SIZE);
  out[0] = byte;
  out.set(record, 1);
  return out;
}
