// Field reads straight from utmps-layout record bytes (PROTOCOL.md section 1), so the
// formatters can walk a block of records without decoding each into an object.

import { FIELD_SIZE, UTMPS_LAYOUT as L } from '../record/layout.js';
import { fieldBytes } from './text.js';

export function typeAt(buf: Buffer, at: number): number {
  return buf.readInt16LE(at + L.type);
}

export function pidAt(buf: Buffer, at: number): number {
  return buf.readInt32LE(at + L.pid);
}

/** int64 as a Number: exact below 2^53 seconds, which covers any calendar time. */
function int64At(buf: Buffer, off: number): number {
  // Bytes by hand: readInt32LE's checks cost, on every record `last` reads.
  const low = (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
  const high = buf[off + 4] | (buf[off + 5] << 8) | (buf[off + 6] << 16) | (buf[off + 7] << 24);
  return high * 4_294_967_296 + low;
}

export function secondsAt(buf: Buffer, at: number): number {
  return int64At(buf, at + L.tvSec);
}

export function usecAt(buf: Buffer, at: number): number {
  return int64At(buf, at + L.tvUsec);
}

export function lineAt(buf: Buffer, at: number): string {
  return fieldBytes(buf, at + L.line, FIELD_SIZE.line);
}

export function idAt(buf: Buffer, at: number): string {
  return fieldBytes(buf, at + L.id, FIELD_SIZE.id);
}

export function userAt(buf: Buffer, at: number): string {
  return fieldBytes(buf, at + L.user, FIELD_SIZE.user);
}

export function hostAt(buf: Buffer, at: number): string {
  return fieldBytes(buf, at + L.host, FIELD_SIZE.host);
}

export function exitAt(buf: Buffer, at: number): { termination: number; status: number } {
  return { termination: buf.readInt16LE(at + L.termination), status: buf.readInt16LE(at + L.exit) };
}

export function sessionAt(buf: Buffer, at: number): number {
  return buf.readInt32LE(at + L.session);
}

export const ADDR_OFFSET = L.addr;
