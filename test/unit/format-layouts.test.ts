// Layout detection (src/store/detect.ts) and the block side of the layout converter
// (src/record/convert.ts), both pure. Expanded records are checked against the record
// codec's field-by-field decoding.

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { Errno } from '../../src/errno.js';
import { decodeRecord } from '../../src/record/codec.js';
import { convertRecord, expandGlibcInPlace, recordBuffer, toUtmpsRecords, utmpsToGlibc } from '../../src/record/convert.js';
import { GLIBC_LAYOUT, UTMPS_LAYOUT } from '../../src/record/layout.js';
import { detectLayout, type Sample } from '../../src/store/detect.js';
import { le, toHex } from '../helpers/bytes.js';
import { VECTORS } from '../helpers/paths.js';

const vectors = readdirSync(VECTORS)
  .filter((f) => f.endsWith('.bin'))
  .sort()
  .map((f) => ({ name: f, bin: readFileSync(join(VECTORS, f)) }));

function records(bin: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + size <= bin.length; at += size) out.push(bin.subarray(at, at + size));
  return out;
}

function toGlibc(bin: Buffer): Buffer {
  return Buffer.concat(records(bin, 400).map((r) => convertRecord(r, UTMPS_LAYOUT, GLIBC_LAYOUT)));
}

function whole(bytes: Buffer): Sample[] {
  return [{ offset: 0, bytes }];
}

const VARIED = vectors.find((v) => v.name === 'varied-wtmp.bin')!.bin;

/** n records cycling through the varied vector, with times moving on. */
function utmpsFile(n: number): Buffer {
  const recs = records(VARIED, 400);
  return Buffer.concat(
    Array.from({ length: n }, (_, i) => {
      const r = Buffer.from(recs[i % recs.length]);
      le(1700000000 + i * 60, 8).copy(r, 344);
      return r;
    }),
  );
}

describe('layout detection', () => {
  test('every vector is utmps, and its glibc conversion glibc', () => {
    for (const { name, bin } of vectors) {
      assert.equal(detectLayout(bin.length, whole(bin)).layout, UTMPS_LAYOUT, name);
      const g = toGlibc(bin);
      assert.equal(detectLayout(g.length, whole(g)).layout, GLIBC_LAYOUT, `${name} as glibc`);
    }
  });

  test('sizes both record sizes divide (multiples of 9600) go by content', () => {
    const u = utmpsFile(24);
    const g = toGlibc(utmpsFile(25));
    assert.equal(u.length, 9600);
    assert.equal(g.length, 9600);
    assert.equal(detectLayout(u.length, whole(u)).layout, UTMPS_LAYOUT);
    assert.equal(detectLayout(g.length, whole(g)).layout, GLIBC_LAYOUT);
    const big = utmpsFile(24 * 50);
    assert.equal(detectLayout(big.length, [{ offset: 0, bytes: big.subarray(0, 19200) }, { offset: big.length - 19200, bytes: big.subarray(-19200) }]).layout, UTMPS_LAYOUT);
  });

  test('a torn tail does not mislead', () => {
    const g = Buffer.concat([toGlibc(utmpsFile(2)), Buffer.alloc(32, 0x41)]); // 800 bytes: a multiple of 400 only
    assert.equal(g.length % 400, 0);
    assert.equal(detectLayout(g.length, whole(g)).layout, GLIBC_LAYOUT);
    const u = Buffer.concat([utmpsFile(3), randomBytes(7)]);
    assert.equal(detectLayout(u.length, whole(u)).layout, UTMPS_LAYOUT);
  });

  test('nothing to go by: utmps, and the reason says why', () => {
    const empty = detectLayout(0, []);
    assert.equal(empty.layout, UTMPS_LAYOUT);
    assert.equal(empty.reason, 'empty file');
    const zeros = Buffer.alloc(9600);
    const d = detectLayout(zeros.length, whole(zeros));
    assert.equal(d.layout, UTMPS_LAYOUT);
    assert.match(d.reason, /size 9600 fits utmps and glibc/);
  });

  test('a single record with odd bytes in its names', () => {
    const u = Buffer.from(records(VARIED, 400)[4]);
    u.write('\n\r\x0b\x1b', 44, 'latin1');
    const g = convertRecord(u, UTMPS_LAYOUT, GLIBC_LAYOUT);
    assert.equal(detectLayout(384, whole(g)).layout, GLIBC_LAYOUT);
    assert.equal(detectLayout(400, whole(u)).layout, UTMPS_LAYOUT);
  });

  test('one record each', () => {
    const u = records(VARIED, 400)[4];
    assert.equal(detectLayout(400, whole(u)).layout, UTMPS_LAYOUT);
    const g = convertRecord(u, UTMPS_LAYOUT, GLIBC_LAYOUT);
    assert.equal(detectLayout(384, whole(g)).layout, GLIBC_LAYOUT);
  });
});

/** A random but valid-looking glibc record (any bytes, sane time fields). */
function randomGlibc(): Buffer {
  const r = randomBytes(384);
  r.writeInt32LE(randomInt(-0x80000000, 0x7fffffff), 340);
  r.writeInt32LE(randomInt(-0x80000000, 0x7fffffff), 344);
  return r;
}

describe('layout converter on blocks', () => {
  test('n glibc records expand in place to the records the codec decodes, for any count', () => {
    for (const n of [0, 1, 2, 3, 7, 25, 64]) {
      const gs = Array.from({ length: n }, randomGlibc);
      const buf = recordBuffer(n);
      Buffer.concat(gs).copy(buf);
      expandGlibcInPlace(buf, n);
      for (let i = 0; i < n; i++) {
        const u = decodeRecord(buf.subarray(i * 400, (i + 1) * 400), UTMPS_LAYOUT);
        const g = decodeRecord(gs[i], GLIBC_LAYOUT);
        // The padding after ut_type crosses; the utmps-only padding is zero.
        assert.deepEqual(u, { ...g, padding: Buffer.concat([g.padding, Buffer.alloc(8)]) }, `n=${n} record ${i}`);
      }
    }
  });

  test('toUtmpsRecords keeps whole records only, and copies', () => {
    const g = Buffer.concat([randomGlibc(), randomGlibc(), Buffer.alloc(100, 0x41)]);
    const u = toUtmpsRecords(g, GLIBC_LAYOUT);
    assert.equal(u.length, 800);
    assert.deepEqual(u.subarray(400), convertRecord(g.subarray(384, 768), GLIBC_LAYOUT, UTMPS_LAYOUT));
    const same = toUtmpsRecords(VARIED, UTMPS_LAYOUT);
    assert.deepEqual(same, VARIED);
    assert.notEqual(same.buffer, VARIED.buffer);
  });

  test('utmpsToGlibc writes at an offset and refuses a time outside 32 bits', () => {
    const u = Buffer.from(records(VARIED, 400)[4]);
    const out = Buffer.alloc(384 * 3, 0xee);
    utmpsToGlibc(u, 0, out, 384);
    assert.equal(toHex(out.subarray(0, 384)), 'ee'.repeat(384));
    assert.deepEqual(out.subarray(384, 768), convertRecord(u, UTMPS_LAYOUT, GLIBC_LAYOUT));
    assert.equal(toHex(out.subarray(768)), 'ee'.repeat(384));
    u.writeBigInt64LE(1n << 33n, 352);
    assert.throws(() => utmpsToGlibc(u, 0, out, 0), { code: 'EOVERFLOW', errno: Errno.EOVERFLOW });
  });
});
