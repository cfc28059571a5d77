// The seal's pure parts: key evolution, the entry MAC as docs/SEALING.md writes it (pinned
// with HMACs computed here, not by the module), the state file, the verification key, and
// the verifier's classification of each kind of tampering on sidecars built step by step.

import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  decodeBody,
  decodeState,
  encodeBody,
  encodeState,
  ENTRY_SIZE,
  entryMac,
  epochAt,
  evolveKey,
  formatVerificationKey,
  keyAt,
  macKeyOf,
  parseInterval,
  parseVerificationKey,
  recordDigest,
  ZERO_MAC,
} from '../../src/seal/chain.js';
import { verifySealed } from '../../src/seal/verify.js';

const u64 = (n: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

describe('seal chain primitives', () => {
  test('key evolution is HMAC-SHA-256(K, "utmps-seal-evolve" || u64 epoch), step by step', () => {
    const k0 = randomBytes(32);
    const k1 = createHmac('sha256', k0).update('utmps-seal-evolve').update(u64(1)).digest();
    const k2 = createHmac('sha256', k1).update('utmps-seal-evolve').update(u64(2)).digest();
    assert.deepEqual(evolveKey(k0, 1n), k1);
    assert.deepEqual(keyAt(k0, 0n, 2n), k2);
    assert.deepEqual(keyAt(k1, 1n, 2n), k2);
    assert.deepEqual(keyAt(k0, 0n, 0n), k0);
    assert.throws(() => keyAt(k2, 2n, 1n), RangeError);
    assert.deepEqual(macKeyOf(k0), createHmac('sha256', k0).update('utmps-seal-mac').digest());
    assert.notDeepEqual(macKeyOf(k0), k0);
  });

  test('entry MAC is HMAC(macKey, prev MAC || u64 position || 64-byte body)', () => {
    const k = randomBytes(32);
    const prev = randomBytes(32);
    const rec = randomBytes(400);
    const body = encodeBody({ kind: 'record', epoch: 3n, index: 17, time: 1_700_000_000_123, digest: recordDigest(rec) });
    assert.equal(body.length, 64);
    assert.equal(body[0], 0x52);
    assert.deepEqual(body.subarray(1, 8), Buffer.alloc(7));
    assert.equal(body.readBigUInt64BE(8), 3n);
    assert.equal(body.readBigUInt64BE(16), 17n);
    assert.equal(body.readBigUInt64BE(24), 1_700_000_000_123n);
    assert.deepEqual(body.subarray(32), createHash('sha256').update(rec).digest());
    const expected = createHmac('sha256', createHmac('sha256', k).update('utmps-seal-mac').digest()).update(prev).update(u64(5)).update(body).digest();
    assert.deepEqual(entryMac(macKeyOf(k), prev, 5, body), expected);
    const mark = decodeBody(encodeBody({ kind: 'epoch', epoch: 3n, index: 18, time: 9, newEpoch: 7n, count: 4 }))!;
    assert.equal(mark.kind, 'epoch');
    assert.equal(mark.newEpoch, 7n);
    assert.equal(mark.count, 4);
    assert.equal(decodeBody(Buffer.alloc(64)), null);
  });

  test('state file: 96 bytes, round trip, corruption refused with a reason', () => {
    const key = randomBytes(32);
    const s = encodeState({ startS: 1_700_000_000, intervalS: 900, epoch: 5n, key });
    assert.equal(s.length, 96);
    assert.deepEqual(decodeState(s), { startS: 1_700_000_000, intervalS: 900, epoch: 5n, key });
    const flipped = Buffer.from(s);
    flipped[40] ^= 1;
    assert.throws(() => decodeState(flipped), /checksum/);
    assert.throws(() => decodeState(s.subarray(0, 95)), /95 bytes/);
    assert.throws(() => decodeState(Buffer.alloc(96)), /UTMPSSL1/);
  });

  test('verification key: KEY/START-INTERVAL in hex, round trip; intervals', () => {
    const v = { key0: randomBytes(32), startS: 1_764_664_000, intervalS: 900 };
    const text = formatVerificationKey(v);
    assert.match(text, /^[0-9a-f]{64}\/[0-9a-f]+-384$/);
    assert.deepEqual(parseVerificationKey(text), v);
    assert.throws(() => parseVerificationKey('abc'), /64 hex digits/);
    assert.equal(parseInterval('15m'), 900);
    assert.equal(parseInterval('1s'), 1);
    assert.equal(parseInterval('2h'), 7200);
    assert.equal(parseInterval('30'), 30);
    assert.throws(() => parseInterval('0s'));
    assert.throws(() => parseInterval('1w'));
    assert.equal(epochAt(1000 * (100 + 2 * 10 + 9), 100, 10), 2n);
    assert.equal(epochAt(1000 * 50, 100, 10), 0n);
  });
});

/** A sealer written from docs/SEALING.md, for building sidecars to tamper with. */
class Builder {
  entries: Buffer[] = [];
  records: Buffer[] = [];
  private k: Buffer;
  private prev: Buffer = ZERO_MAC;
  private sinceMark = 0;
  constructor(
    key0: Buffer,
    public epoch = 0n,
  ) {
    this.k = keyAt(key0, 0n, epoch);
    this.add({ kind: 'header', index: 0, digest: ZERO_MAC });
  }
  private add(f: Parameters<typeof encodeBody>[0] extends infer T ? Omit<T & object, 'epoch' | 'time'> & { time?: number } : never): void {
    const body = encodeBody({ epoch: this.epoch, time: 1000 * this.entries.length, ...f });
    const mac = entryMac(macKeyOf(this.k), this.prev, this.entries.length, body);
    this.entries.push(Buffer.concat([body, mac]));
    this.prev = mac;
  }
  record(text: string): void {
    const rec = Buffer.alloc(400);
    rec.write(text, 44);
    this.add({ kind: 'record', index: this.records.length, digest: recordDigest(rec) });
    this.records.push(rec);
    this.sinceMark++;
  }
  mark(to: bigint): void {
    this.add({ kind: 'epoch', index: this.records.length, newEpoch: to, count: this.sinceMark });
    this.k = keyAt(this.k, this.epoch, to);
    this.epoch = to;
    this.sinceMark = 0;
  }
  close(): void {
    this.add({ kind: 'close', index: this.records.length, count: this.sinceMark });
  }
  get sidecar(): Buffer {
    return Buffer.concat(this.entries);
  }
}

const digestsOf = (records: Buffer[]): Buffer => Buffer.concat(records.map((r) => recordDigest(r)));

describe('verifySealed classifies the first bad record', () => {
  const key0 = randomBytes(32);
  const vkey = { key0, startS: 0, intervalS: 10 };
  const now = 1000 * (2 * 10 + 5); // epoch 2
  const history = (): Builder => {
    const b = new Builder(key0);
    for (let i = 0; i < 4; i++) b.record(`u${i}`);
    b.mark(1n);
    for (let i = 4; i < 8; i++) b.record(`u${i}`);
    b.mark(2n);
    for (let i = 8; i < 10; i++) b.record(`u${i}`);
    return b;
  };
  const check = (records: Buffer[], sidecar: Buffer, key = vkey) => verifySealed({ key, sidecar, digests: digestsOf(records), nowMs: now });

  test('intact history', () => {
    const b = history();
    const r = check(b.records, b.sidecar);
    assert.equal(r.status, 'intact');
    assert.equal(r.sealed, 10);
    assert.equal(r.lastEpoch, 2n);
  });

  test('a flipped byte: altered at that index', () => {
    const b = history();
    const recs = b.records.map((r) => Buffer.from(r));
    recs[6][100] ^= 0x01;
    const r = check(recs, b.sidecar);
    assert.equal(r.status, 'tampered');
    assert.deepEqual([r.finding!.problem, r.finding!.index], ['altered', 6]);
  });

  test('a removed record, an inserted one, a swapped pair', () => {
    const b = history();
    const removed = check([...b.records.slice(0, 3), ...b.records.slice(4)], b.sidecar);
    assert.deepEqual([removed.finding!.problem, removed.finding!.index], ['removed', 3]);
    const forged = Buffer.alloc(400, 7);
    const inserted = check([...b.records.slice(0, 5), forged, ...b.records.slice(5)], b.sidecar);
    assert.deepEqual([inserted.finding!.problem, inserted.finding!.index], ['inserted', 5]);
    const swapped = [...b.records];
    [swapped[2], swapped[3]] = [swapped[3], swapped[2]];
    const reordered = check(swapped, b.sidecar);
    assert.deepEqual([reordered.finding!.problem, reordered.finding!.index], ['reordered', 2]);
  });

  test('the wrong key: sealed under another key', () => {
    const b = history();
    const r = check(b.records, b.sidecar, { ...vkey, key0: randomBytes(32) });
    assert.deepEqual([r.finding!.problem, r.finding!.index], ['another-key', 0]);
  });

  test('a sidecar entry rewritten in the middle: sealed under another key from there', () => {
    const b = history();
    const side = Buffer.from(b.sidecar);
    side[ENTRY_SIZE * 3 + 40] ^= 1; // the digest of record 2, in the sidecar
    const r = check(b.records, side);
    assert.deepEqual([r.finding!.problem, r.finding!.index], ['another-key', 2]);
  });

  test('wtmp cut before the last epoch mark; cut after it is removed', () => {
    const b = history();
    const cut = check(b.records.slice(0, 6), b.sidecar);
    assert.deepEqual([cut.finding!.problem, cut.finding!.index], ['cut', 6]);
    const tail = check(b.records.slice(0, 9), b.sidecar);
    assert.deepEqual([tail.finding!.problem, tail.finding!.index], ['removed', 9]);
  });

  test('sidecar cut back into an old epoch and sealing resumed under the current key: cut', () => {
    // What an attacker who is root in epoch 2 gets by cutting both files to record 5
    // (epoch 1) and letting the daemon go on: the next entry is MAC'd under K2.
    const b = history();
    const keep = 1 + 4 + 1 + 2; // header, 4 records, mark, records 4 and 5
    const k2 = keyAt(key0, 0n, 2n);
    const body = encodeBody({ kind: 'record', epoch: 2n, index: 6, time: 1, digest: recordDigest(Buffer.alloc(400, 9)) });
    const prev = b.entries[keep - 1].subarray(64);
    const forged = Buffer.concat([body, entryMac(macKeyOf(k2), prev, keep, body)]);
    const r = check([...b.records.slice(0, 6), Buffer.alloc(400, 9)], Buffer.concat([...b.entries.slice(0, keep), forged]));
    assert.deepEqual([r.finding!.problem, r.finding!.index], ['cut', 6]);
  });

  test('a seal that stops epochs ago without a close mark: cut; with one: intact', () => {
    const b = history();
    const later = verifySealed({ key: vkey, sidecar: b.sidecar, digests: digestsOf(b.records), nowMs: 1000 * 60 });
    assert.equal(later.finding?.problem, 'cut');
    b.close();
    const closed = verifySealed({ key: vkey, sidecar: b.sidecar, digests: digestsOf(b.records), nowMs: 1000 * 60 });
    assert.equal(closed.status, 'intact');
  });

  test('records after the last seal: an unsealed tail, not tampering', () => {
    const b = history();
    const r = check([...b.records, Buffer.alloc(400, 1), Buffer.alloc(400, 2)], b.sidecar);
    assert.equal(r.status, 'unsealed');
    assert.equal(r.unsealedTail, 2);
    assert.equal(r.finding, undefined);
  });

  test('a partial last sidecar entry (kill -9 mid-write) is ignored', () => {
    const b = history();
    const r = check(b.records, Buffer.concat([b.sidecar, Buffer.alloc(40, 0x52)]));
    assert.equal(r.status, 'intact');
    assert.equal(r.partialSidecarBytes, 40);
  });
});
