// Lossless codec: every byte of a record, padding included, survives decode + encode,
// because the C daemons store exactly the bytes they receive (PROTOCOL.md section 1).

import { FIELD_SIZE, type RecordLayout, UTMPS_LAYOUT } from './layout.js';

export interface RawRecord {
  type: number;
  pid: number;
  line: Buffer;
  id: Buffer;
  user: Buffer;
  host: Buffer;
  termination: number;
  exit: number;
  session: number;
  tvSec: bigint;
  tvUsec: bigint;
  addr: Buffer;
  reserved: Buffer;
  /** The layout's padding bytes, concatenated in offset order. */
  padding: Buffer;
}

function slice(buf: Uint8Array, start: number, length: number): Buffer {
  return Buffer.from(buf.subarray(start, start + length));
}

function bufferView(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function checkSize(buf: Uint8Array, layout: RecordLayout): void {
  if (buf.length !== layout.size) {
    throw new RangeError(`a ${layout.name} record is ${layout.size} bytes, got ${buf.length}`);
  }
}

export function decodeRecord(bytes: Uint8Array, layout: RecordLayout = UTMPS_LAYOUT): RawRecord {
  checkSize(bytes, layout);
  const buf = bufferView(bytes);
  const wide = layout.timeBytes === 8;
  return {
    type: buf.readInt16LE(layout.type),
    pid: buf.readInt32LE(layout.pid),
    line: slice(buf, layout.line, FIELD_SIZE.line),
    id: slice(buf, layout.id, FIELD_SIZE.id),
    user: slice(buf, layout.user, FIELD_SIZE.user),
    host: slice(buf, layout.host, FIELD_SIZE.host),
    termination: buf.readInt16LE(layout.termination),
    exit: buf.readInt16LE(layout.exit),
    session: buf.readInt32LE(layout.session),
    tvSec: wide ? buf.readBigInt64LE(layout.tvSec) : BigInt(buf.readInt32LE(layout.tvSec)),
    tvUsec: wide ? buf.readBigInt64LE(layout.tvUsec) : BigInt(buf.readInt32LE(layout.tvUsec)),
    addr: slice(buf, layout.addr, FIELD_SIZE.addr),
    reserved: slice(buf, layout.reserved, FIELD_SIZE.reserved),
    padding: Buffer.concat(layout.padding.map(([s, e]) => slice(buf, s, e - s))),
  };
}

function paddingSize(layout: RecordLayout): number {
  return layout.padding.reduce((n, [s, e]) => n + e - s, 0);
}

function putBytes(out: Buffer, offset: number, value: Uint8Array, size: number, what: string): void {
  if (value.length > size) throw new RangeError(`${what} is ${value.length} bytes, the field holds ${size}`);
  out.set(value, offset);
}

function fitsTime(value: bigint, bytes: 4 | 8): boolean {
  const bits = BigInt(bytes * 8 - 1);
  return value >= -(1n << bits) && value < 1n << bits;
}

/** Encodes into a zeroed buffer. Throws RangeError for any value the layout cannot hold. */
export function encodeRecord(raw: RawRecord, layout: RecordLayout = UTMPS_LAYOUT): Buffer {
  const out = Buffer.alloc(layout.size);
  out.writeInt16LE(raw.type, layout.type);
  out.writeInt32LE(raw.pid, layout.pid);
  putBytes(out, layout.line, raw.line, FIELD_SIZE.line, 'ut_line');
  putBytes(out, layout.id, raw.id, FIELD_SIZE.id, 'ut_id');
  putBytes(out, layout.user, raw.user, FIELD_SIZE.user, 'ut_user');
  putBytes(out, layout.host, raw.host, FIELD_SIZE.host, 'ut_host');
  out.writeInt16LE(raw.termination, layout.termination);
  out.writeInt16LE(raw.exit, layout.exit);
  out.writeInt32LE(raw.session, layout.session);
  for (const [value, offset, what] of [
    [raw.tvSec, layout.tvSec, 'tv_sec'],
    [raw.tvUsec, layout.tvUsec, 'tv_usec'],
  ] as const) {
    if (!fitsTime(value, layout.timeBytes)) {
      throw new RangeError(`${what} ${value} does not fit the ${layout.timeBytes * 8}-bit field of the ${layout.name} layout`);
    }
    if (layout.timeBytes === 8) out.writeBigInt64LE(value, offset);
    else out.writeInt32LE(Number(value), offset);
  }
  putBytes(out, layout.addr, raw.addr, FIELD_SIZE.addr, 'ut_addr_v6');
  putBytes(out, layout.reserved, raw.reserved, FIELD_SIZE.reserved, 'reserved');
  if (raw.padding.length !== 0) {
    if (raw.padding.length !== paddingSize(layout)) {
      throw new RangeError(`padding is ${raw.padding.length} bytes, the ${layout.name} layout has ${paddingSize(layout)}`);
    }
    let at = 0;
    for (const [s, e] of layout.padding) {
      out.set(raw.padding.subarray(at, at + e - s), s);
      at += e - s;
    }
  }
  return out;
}
