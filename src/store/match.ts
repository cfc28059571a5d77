// Search rules for utmp (PROTOCOL.md section 3, the **Ours** glibc rules).

import { FIELD_SIZE, RecordType, UTMPS_LAYOUT as L } from '../record/layout.js';
import { fieldEquals, isProcessType, recordType } from '../record/fields.js';

/**
 * What a getid or putline searches for. A getid request carries no line (PROTOCOL.md
 * section 3), so its key has none and ids are always compared, as C utmps does.
 */
export interface IdKey {
  type: number;
  id: Uint8Array;
  line: Uint8Array | null;
}

export function keyOfRecord(record: Uint8Array): IdKey {
  return {
    type: recordType(record),
    id: record.subarray(L.id, L.id + FIELD_SIZE.id),
    line: record.subarray(L.line, L.line + FIELD_SIZE.line),
  };
}

function isTimeType(type: number): boolean {
  return (
    type === RecordType.RUN_LVL ||
    type === RecordType.BOOT_TIME ||
    type === RecordType.OLD_TIME ||
    type === RecordType.NEW_TIME
  );
}

/**
 * glibc's rule: RUN_LVL and the time types match by type alone; anything else matches a
 * process-type record with the same ut_id, or the same ut_line when either id is empty
 * and the key has a line.
 */
export function matchesId(key: IdKey, rec: Uint8Array): boolean {
  const type = recordType(rec);
  if (isTimeType(key.type)) return type === key.type;
  if (!isProcessType(type)) return false;
  if (key.line === null || (key.id[0] !== 0 && rec[L.id] !== 0)) return fieldEquals(key.id, 0, rec, L.id, FIELD_SIZE.id);
  return fieldEquals(key.line, 0, rec, L.line, FIELD_SIZE.line);
}

/** getid of EMPTY or ACCOUNTING is meaningless: glibc answers EINVAL. */
export function isSearchableType(type: number): boolean {
  return isTimeType(type) || isProcessType(type);
}

export function matchesLine(line: Uint8Array, rec: Uint8Array): boolean {
  const type = recordType(rec);
  return (
    (type === RecordType.LOGIN_PROCESS || type === RecordType.USER_PROCESS) &&
    fieldEquals(line, 0, rec, L.line, FIELD_SIZE.line)
  );
}
