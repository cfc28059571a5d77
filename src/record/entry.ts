// A typed view of a record for people and programs, and the checked way to build one.

import { UtmpsError } from '../errors.js';
import { formatAddress, parseAddress } from './address.js';
import { decodeRecord, encodeRecord, type RawRecord } from './codec.js';
import { fieldText } from './fields.js';
import { FIELD_SIZE, type RecordLayout, RecordType, type RecordTypeName, typeName, UTMPS_LAYOUT } from './layout.js';

export interface UtmpEntry {
  type: number;
  /** Symbolic type, or `UNKNOWN(n)` for a value outside the table. */
  typeName: string;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  exit: { termination: number; status: number };
  session: number;
  /** Seconds since the epoch, 64-bit in the utmps layout. */
  tvSec: bigint;
  tvUsec: number;
  /** ut_addr_v6 as text: '' (unset), IPv4 or IPv6. */
  address: string;
  /**
   * JSON.stringify(entry) calls this (tvSec is a BigInt, which JSON cannot hold): the
   * fields, with the time as ISO text and tvSec as a number. Optional in the type so plain
   * objects still count as entries; every decoded entry has it.
   */
  toJSON?(): UtmpEntryJSON;
}

/** An entry as JSON: `time` is UTC ISO 8601 with microseconds, null outside Date's range. */
export type UtmpEntryJSON = Omit<UtmpEntry, 'tvSec' | 'toJSON'> & { time: string | null; tvSec: number };

/** "2023-11-14T22:13:20.250000Z", or null when Date cannot represent the time. */
export function entryTimeISO(entry: Pick<UtmpEntry, 'tvSec' | 'tvUsec'>): string | null {
  const date = new Date(Number(entry.tvSec) * 1000);
  if (Number.isNaN(date.getTime()) || entry.tvUsec < 0 || entry.tvUsec > 999_999) return null;
  return date.toISOString().replace(/\.\d{3}Z$/, `.${String(entry.tvUsec).padStart(6, '0')}Z`);
}

export function entryToJSON(entry: UtmpEntry): UtmpEntryJSON {
  return {
    type: entry.type,
    typeName: entry.typeName,
    pid: entry.pid,
    line: entry.line,
    id: entry.id,
    user: entry.user,
    host: entry.host,
    exit: { termination: entry.exit.termination, status: entry.exit.status },
    session: entry.session,
    time: entryTimeISO(entry),
    tvSec: Number(entry.tvSec),
    tvUsec: entry.tvUsec,
    address: entry.address,
  };
}

// Not enumerable: spreads, deepEqual and Object.keys see the fields only.
function withToJSON(entry: UtmpEntry): UtmpEntry {
  return Object.defineProperty(entry, 'toJSON', {
    value(this: UtmpEntry): UtmpEntryJSON {
      return entryToJSON(this);
    },
    enumerable: false,
    writable: true,
    configurable: true,
  });
}

export function entryFromRaw(raw: RawRecord): UtmpEntry {
  return withToJSON({
    type: raw.type,
    typeName: typeName(raw.type) ?? `UNKNOWN(${raw.type})`,
    pid: raw.pid,
    line: fieldText(raw.line),
    id: fieldText(raw.id),
    user: fieldText(raw.user),
    host: fieldText(raw.host),
    exit: { termination: raw.termination, status: raw.exit },
    session: raw.session,
    tvSec: raw.tvSec,
    tvUsec: Number(raw.tvUsec),
    address: formatAddress(raw.addr),
  });
}

export function decodeEntry(bytes: Uint8Array, layout: RecordLayout = UTMPS_LAYOUT): UtmpEntry {
  return entryFromRaw(decodeRecord(bytes, layout));
}

/** What a caller may set when building a record; unset fields are zero. */
export interface EntryInput {
  type: number | RecordTypeName | Lowercase<RecordTypeName>;
  pid?: number;
  line?: string;
  id?: string;
  user?: string;
  host?: string;
  exit?: { termination?: number; status?: number };
  session?: number;
  tvSec?: bigint | number;
  tvUsec?: number;
  address?: string;
}

/** A record value that does not fit its field: refused before anything is sent (op 'build'). */
export class RecordError extends UtmpsError {
  declare readonly code: 'EINVAL';
  /** The field at fault: 'user', 'line', 'id', 'tvSec', 'exit.termination'... */
  readonly field: string;
  constructor(field: string, message: string) {
    super('EINVAL', 'build', undefined, { reason: `${field}: ${message}`, message: `${field}: ${message}` });
    this.name = 'RecordError';
    this.field = field;
  }
}

function text(field: string, value: string | undefined, size: number): Buffer {
  const bytes = Buffer.from(value ?? '', 'utf8');
  if (bytes.includes(0)) throw new RecordError(field, 'contains a NUL byte');
  if (bytes.length > size) throw new RecordError(field, `'${value}' is ${bytes.length} bytes, at most ${size} fit`);
  return bytes;
}

function integer(field: string, value: number | undefined, min: number, max: number): number {
  const v = value ?? 0;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RecordError(field, `${v} is not an integer from ${min} to ${max}`);
  }
  return v;
}

const INT16: [number, number] = [-0x8000, 0x7fff];
const INT32: [number, number] = [-0x80000000, 0x7fffffff];

function resolveType(type: EntryInput['type']): number {
  if (typeof type === 'string') {
    const upper = type.toUpperCase();
    if (!(upper in RecordType)) throw new RecordError('type', `unknown record type '${type}'`);
    return RecordType[upper as RecordTypeName];
  }
  return integer('type', type, ...INT16);
}

function resolveSeconds(value: bigint | number | undefined): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'number' && !Number.isInteger(value)) throw new RecordError('tvSec', `${value} is not an integer`);
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 63n) throw new RecordError('tvSec', `${v} does not fit 64 bits`);
  return v;
}

/** Builds a zero-padded record; throws RecordError for any value that does not fit. */
export function buildRecord(input: EntryInput, layout: RecordLayout = UTMPS_LAYOUT): Buffer {
  let addr: Buffer;
  try {
    addr = parseAddress(input.address ?? '');
  } catch (e) {
    throw new RecordError('address', (e as Error).message);
  }
  const raw: RawRecord = {
    type: resolveType(input.type),
    pid: integer('pid', input.pid, ...INT32),
    line: text('line', input.line, FIELD_SIZE.line),
    id: text('id', input.id, FIELD_SIZE.id),
    user: text('user', input.user, FIELD_SIZE.user),
    host: text('host', input.host, FIELD_SIZE.host),
    termination: integer('exit.termination', input.exit?.termination, ...INT16),
    exit: integer('exit.status', input.exit?.status, ...INT16),
    session: integer('session', input.session, ...INT32),
    tvSec: resolveSeconds(input.tvSec),
    tvUsec: BigInt(integer('tvUsec', input.tvUsec, 0, 999_999)),
    addr,
    reserved: Buffer.alloc(0),
    padding: Buffer.alloc(0),
  };
  try {
    return encodeRecord(raw, layout);
  } catch (e) {
    throw new RecordError('tvSec', (e as Error).message);
  }
}
