// Fast field access on raw utmps records, for the store's searches: no decoding.

import { FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from './layout.js';

export function recordType(rec: Uint8Array): number {
  return (rec[L.type] | (rec[L.type + 1] << 8)) << 16 >> 16;
}

/** strncmp over a fixed field: equal up to the first NUL or the field's end. */
export function fieldEquals(a: Uint8Array, aAt: number, b: Uint8Array, bAt: number, size: number): boolean {
  for (let i = 0; i < size; i++) {
    const x = a[aAt + i];
    if (x !== b[bAt + i]) return false;
    if (x === 0) return true;
  }
  return true;
}

export function isProcessType(type: number): boolean {
  return (
    type === RecordType.INIT_PROCESS ||
    type === RecordType.LOGIN_PROCESS ||
    type === RecordType.USER_PROCESS ||
    type === RecordType.DEAD_PROCESS
  );
}

/** Decodes a NUL-padded fixed field as text (bytes up to the first NUL). */
export function fieldText(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return Buffer.from(bytes.buffer, bytes.byteOffset, end < 0 ? bytes.length : end).toString('utf8');
}
