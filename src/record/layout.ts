// Record layouts as named offsets (PROTOCOL.md section 1). Both are host byte order;
// every platform we target (x86_64, aarch64) is little-endian.

export type LayoutName = 'utmps' | 'glibc';

export interface RecordLayout {
  readonly name: LayoutName;
  readonly size: number;
  readonly type: number;
  readonly pid: number;
  readonly line: number;
  readonly id: number;
  readonly user: number;
  readonly host: number;
  readonly termination: number;
  readonly exit: number;
  readonly session: number;
  readonly tvSec: number;
  readonly tvUsec: number;
  /** Width in bytes of tv_sec and tv_usec: 8 (utmps) or 4 (glibc x86_64 files, Y2038). */
  readonly timeBytes: 4 | 8;
  readonly addr: number;
  readonly reserved: number;
  /** Padding ranges [start, end) that the C struct has and no field covers. */
  readonly padding: ReadonlyArray<readonly [number, number]>;
}

export const FIELD_SIZE = {
  line: 32,
  id: 4,
  user: 32,
  host: 256,
  addr: 16,
  reserved: 20,
} as const;

/** utmps 0.1.x struct utmpx: the wire format and the utmps file format. */
export const UTMPS_LAYOUT: RecordLayout = Object.freeze({
  name: 'utmps',
  size: 400,
  type: 0,
  pid: 4,
  line: 8,
  id: 40,
  user: 44,
  host: 76,
  termination: 332,
  exit: 334,
  session: 336,
  tvSec: 344,
  tvUsec: 352,
  timeBytes: 8,
  addr: 360,
  reserved: 376,
  padding: Object.freeze([[2, 4], [340, 344], [396, 400]] as const),
});

/** glibc x86_64 struct utmp, as in /var/run/utmp and /var/log/wtmp. */
export const GLIBC_LAYOUT: RecordLayout = Object.freeze({
  name: 'glibc',
  size: 384,
  type: 0,
  pid: 4,
  line: 8,
  id: 40,
  user: 44,
  host: 76,
  termination: 332,
  exit: 334,
  session: 336,
  tvSec: 340,
  tvUsec: 344,
  timeBytes: 4,
  addr: 348,
  reserved: 364,
  padding: Object.freeze([[2, 4]] as const),
});

export const RECORD_SIZE = UTMPS_LAYOUT.size;

export function layoutByName(name: string): RecordLayout {
  if (name === 'utmps') return UTMPS_LAYOUT;
  if (name === 'glibc') return GLIBC_LAYOUT;
  throw new RangeError(`unknown record format '${name}' (expected utmps or glibc)`);
}

/** ut_type values. */
export const RecordType = {
  EMPTY: 0,
  RUN_LVL: 1,
  BOOT_TIME: 2,
  NEW_TIME: 3,
  OLD_TIME: 4,
  INIT_PROCESS: 5,
  LOGIN_PROCESS: 6,
  USER_PROCESS: 7,
  DEAD_PROCESS: 8,
  ACCOUNTING: 9,
} as const;

export type RecordTypeName = keyof typeof RecordType;

const TYPE_NAMES: readonly RecordTypeName[] = Object.keys(RecordType) as RecordTypeName[];

/** The symbolic name of a ut_type, or undefined for values outside the table. */
export function typeName(type: number): RecordTypeName | undefined {
  return TYPE_NAMES[type];
}

/** Parses a type name case-insensitively ("user_process"), or a decimal number. */
export function parseTypeName(text: string): number | undefined {
  const upper = text.toUpperCase();
  if (upper in RecordType) return RecordType[upper as RecordTypeName];
  return undefined;
}
