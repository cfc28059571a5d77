// The forward-secure seal of wtmp (docs/SEALING.md): key evolution, the sidecar entry
// layout, the chained MAC, the state file and the verification key. Pure: node:crypto
// primitives only, no file system, no clock (times are passed in).

import * as crypto from 'node:crypto';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const KEY_SIZE = 32;
export const MAC_SIZE = 32;
export const DIGEST_SIZE = 32;

/** One sidecar entry: a 64-byte body, then its 32-byte MAC (docs/SEALING.md, "The sidecar"). */
export const BODY_SIZE = 64;
export const ENTRY_SIZE = BODY_SIZE + MAC_SIZE;

/** Entry kinds, as the ASCII letter in byte 0. */
export const KIND = {
  header: 0x48, // 'H': first entry of a sidecar
  record: 0x52, // 'R': one record, sealed when it was appended
  adopted: 0x41, // 'A': one record found unsealed in wtmp (crash, foreign writer) and sealed late
  epoch: 0x45, // 'E': an epoch boundary, MAC'd under the key of the epoch it closes
  close: 0x43, // 'C': the sidecar is closed (clean stop, rotation)
} as const;
export type EntryKind = 'header' | 'record' | 'adopted' | 'epoch' | 'close';
const KIND_NAME = new Map<number, EntryKind>(Object.entries(KIND).map(([name, code]) => [code, name as EntryKind]));

// Body offsets.
const AT_KIND = 0;
const AT_EPOCH = 8; // epoch of the key that MACs this entry
const AT_INDEX = 16; // record index (R, A) or the next record index (H, E, C)
const AT_TIME = 24; // unix milliseconds when written (E: the boundary)
const AT_DATA = 32; // R, A: SHA-256 of the record; E: new epoch, count; H: previous chain's MAC; C: count

const EVOLVE_LABEL = Buffer.from('utmps-seal-evolve');
const MAC_LABEL = Buffer.from('utmps-seal-mac');

/** K(e+1) from K(e): one-way, so a key never gives the ones before it. */
export function evolveKey(key: Uint8Array, toEpoch: bigint): Buffer {
  const e = Buffer.alloc(8);
  e.writeBigUInt64BE(toEpoch);
  return createHmac('sha256', key).update(EVOLVE_LABEL).update(e).digest();
}

/** The epoch key's MAC key: kept apart from the evolution step (domain separation). */
export function macKeyOf(key: Uint8Array): Buffer {
  return createHmac('sha256', key).update(MAC_LABEL).digest();
}

/** K(to) from K(from), evolving through every epoch between. */
export function keyAt(key: Uint8Array, from: bigint, to: bigint): Buffer {
  if (to < from) throw new RangeError(`cannot go back from epoch ${from} to ${to}`);
  let k: Buffer = Buffer.from(key);
  for (let e = from + 1n; e <= to; e++) {
    const next = evolveKey(k, e);
    k.fill(0);
    k = next;
  }
  return k;
}

// crypto.hash (Node >= 20.12) is the one-shot SHA-256, a third cheaper per record.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;

export function recordDigest(record: Uint8Array): Buffer {
  return oneShot ? oneShot('sha256', record, 'buffer') : createHash('sha256').update(record).digest();
}

export interface Entry {
  kind: EntryKind;
  /** Epoch of the key that MACs this entry. */
  epoch: bigint;
  /** R, A: the record's index; H, E, C: the index the next record gets. */
  index: number;
  /** Unix ms. */
  time: number;
  /** R, A: SHA-256 of the record's bytes in the file; H: previous chain's last MAC. */
  digest: Buffer;
  /** E: the epoch that starts. */
  newEpoch: bigint;
  /** E, C: records sealed in the epoch (or part of it) this entry closes. */
  count: number;
}

export function encodeBody(entry: Partial<Entry> & Pick<Entry, 'kind' | 'epoch' | 'index' | 'time'>): Buffer {
  const body = Buffer.alloc(BODY_SIZE);
  body[AT_KIND] = KIND[entry.kind];
  body.writeBigUInt64BE(entry.epoch, AT_EPOCH);
  body.writeBigUInt64BE(BigInt(entry.index), AT_INDEX);
  body.writeBigUInt64BE(BigInt(entry.time), AT_TIME);
  if (entry.kind === 'epoch') {
    body.writeBigUInt64BE(entry.newEpoch ?? 0n, AT_DATA);
    body.writeBigUInt64BE(BigInt(entry.count ?? 0), AT_DATA + 8);
  } else if (entry.kind === 'close') {
    body.writeBigUInt64BE(BigInt(entry.count ?? 0), AT_DATA);
  } else if (entry.digest) {
    entry.digest.copy(body, AT_DATA, 0, DIGEST_SIZE);
  }
  return body;
}

/** null when byte 0 is no known kind. The digest is a view into body, not a copy. */
export function decodeBody(body: Uint8Array): Entry | null {
  const b = Buffer.from(body.buffer, body.byteOffset, BODY_SIZE);
  const kind = KIND_NAME.get(b[AT_KIND]);
  if (!kind) return null;
  const data = b.subarray(AT_DATA, AT_DATA + 32);
  return {
    kind,
    epoch: b.readBigUInt64BE(AT_EPOCH),
    index: Number(b.readBigUInt64BE(AT_INDEX)),
    time: Number(b.readBigUInt64BE(AT_TIME)),
    digest: data,
    newEpoch: kind === 'epoch' ? data.readBigUInt64BE(0) : 0n,
    count: kind === 'epoch' ? Number(data.readBigUInt64BE(8)) : kind === 'close' ? Number(data.readBigUInt64BE(0)) : 0,
  };
}

const macInput = Buffer.alloc(MAC_SIZE + 8 + BODY_SIZE);

/** mac_j = HMAC-SHA-256(macKey(K_epoch), mac_(j-1) || u64 j || body_j). */
export function entryMac(macKey: Uint8Array, prevMac: Uint8Array, position: number, body: Uint8Array): Buffer {
  // One update of one reused buffer: verify runs this a million times.
  macInput.set(prevMac, 0);
  macInput.writeBigUInt64BE(BigInt(position), MAC_SIZE);
  macInput.set(body.subarray(0, BODY_SIZE), MAC_SIZE + 8);
  return createHmac('sha256', macKey).update(macInput).digest();
}

export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The chain value before a sidecar's first entry when nothing precedes it. */
export const ZERO_MAC: Buffer = Buffer.alloc(MAC_SIZE);

/** Which epoch wall-clock time `nowMs` falls in, on the grid from `startS` every `intervalS`. */
export function epochAt(nowMs: number, startS: number, intervalS: number): bigint {
  const sinceS = Math.floor(nowMs / 1000) - startS;
  return sinceS <= 0 ? 0n : BigInt(Math.floor(sinceS / intervalS));
}

/** When epoch `e` starts, in unix ms. */
export function epochStartMs(e: bigint, startS: number, intervalS: number): number {
  return (startS + Number(e) * intervalS) * 1000;
}

// ---- The state file: 96 bytes, rewritten in place at each epoch (docs/SEALING.md). ----

export const STATE_SIZE = 96;
const STATE_MAGIC = Buffer.from('UTMPSSL1');

export interface SealState {
  startS: number;
  intervalS: number;
  epoch: bigint;
  key: Buffer;
}

export function encodeState(s: SealState): Buffer {
  const b = Buffer.alloc(STATE_SIZE);
  STATE_MAGIC.copy(b, 0);
  b.writeBigUInt64BE(BigInt(s.startS), 8);
  b.writeBigUInt64BE(BigInt(s.intervalS), 16);
  b.writeBigUInt64BE(s.epoch, 24);
  s.key.copy(b, 32, 0, KEY_SIZE);
  createHash('sha256').update(b.subarray(0, 64)).digest().copy(b, 64);
  return b;
}

/** Throws with what is wrong: the daemon refuses to start on a corrupt state. */
export function decodeState(b: Uint8Array): SealState {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  if (buf.length !== STATE_SIZE) throw new Error(`it is ${buf.length} bytes, not ${STATE_SIZE}: not a seal key file`);
  if (!buf.subarray(0, 8).equals(STATE_MAGIC)) throw new Error('it does not start with UTMPSSL1: not a seal key file');
  if (!createHash('sha256').update(buf.subarray(0, 64)).digest().equals(buf.subarray(64, 96))) {
    throw new Error('its checksum does not match: the file is corrupt');
  }
  const intervalS = Number(buf.readBigUInt64BE(16));
  if (intervalS < 1) throw new Error('its epoch interval is 0');
  return {
    startS: Number(buf.readBigUInt64BE(8)),
    intervalS,
    epoch: buf.readBigUInt64BE(24),
    key: Buffer.from(buf.subarray(32, 64)),
  };
}

// ---- The verification key: K(0) and the epoch grid, journald's "seed/start-interval" form. ----

export interface VerificationKey {
  key0: Buffer;
  startS: number;
  intervalS: number;
}

export function formatVerificationKey(v: VerificationKey): string {
  return `${v.key0.toString('hex')}/${v.startS.toString(16)}-${v.intervalS.toString(16)}`;
}

export function parseVerificationKey(text: string): VerificationKey {
  const m = /^([0-9a-f]{64})\/([0-9a-f]{1,12})-([0-9a-f]{1,12})$/i.exec(text.trim());
  if (!m) throw new Error('a verification key is 64 hex digits, a slash, the start time and the interval in hex (KEY/START-INTERVAL)');
  const intervalS = parseInt(m[3], 16);
  if (intervalS < 1) throw new Error('the verification key has an epoch interval of 0');
  return { key0: Buffer.from(m[1], 'hex'), startS: parseInt(m[2], 16), intervalS };
}

/** "15m", "1h", "30s", "1d", or plain seconds. */
export function parseInterval(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text);
  if (!m) throw new Error(`an interval is a number with s, m, h or d, got '${text}'`);
  const n = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`the interval must be at least 1s, got '${text}'`);
  return n;
}
