// Record layouts and codecs against the golden vectors of the C utmps 0.1.2.3 daemons
// (test/vectors, README there) and the layout table of PROTOCOL.md section 1 (test/vectors/record-layouts.md).

import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { formatAddress, parseAddress } from '../../src/record/address.js';
import { decodeRecord, encodeRecord, type RawRecord } from '../../src/record/codec.js';
import { convertRecord } from '../../src/record/convert.js';
import { buildRecord, decodeEntry, type EntryInput, RecordError } from '../../src/record/entry.js';
import { FIELD_SIZE, GLIBC_LAYOUT, type RecordLayout, type RecordTypeName, UTMPS_LAYOUT } from '../../src/record/layout.js';
import { cat, hex, le, padded, toHex } from '../helpers/bytes.js';
import { VECTORS } from '../helpers/paths.js';

// ---------------------------------------------------------------------------------------
// Vector files

interface VectorRecord {
  index: number;
  file_offset: number;
  ut_type: number;
  ut_type_name: string;
  ut_pid: number;
  ut_line: string;
  ut_id: string;
  ut_id_hex: string;
  ut_user: string;
  ut_host: string;
  ut_line_len: number;
  ut_user_len: number;
  ut_host_len: number;
  e_termination: number;
  e_exit: number;
  ut_session: number;
  tv_sec: number;
  tv_usec: number;
  ut_addr_v6: number[];
  ut_addr_v6_hex: string;
  ut_addr_text: string;
  pad_after_ut_type_hex: string;
  pad_before_ut_tv_hex: string;
  dummy_hex: string;
  tail_pad_hex: string;
}

interface VectorFile {
  file: string;
  record_size: number;
  offsets: Record<string, number>;
  record_count: number;
  trailing_bytes: number;
  records: VectorRecord[];
}

interface Vector {
  name: string;
  bin: Buffer;
  json: VectorFile;
}

function loadVectors(): Vector[] {
  return readdirSync(VECTORS)
    .filter((f) => f.endsWith('.bin') && existsSync(join(VECTORS, f.replace(/\.bin$/, '.json'))))
    .sort()
    .map((f) => ({
      name: f,
      bin: readFileSync(join(VECTORS, f)),
      json: JSON.parse(readFileSync(join(VECTORS, f.replace(/\.bin$/, '.json')), 'utf8')) as VectorFile,
    }));
}

const VECTOR_FILES = loadVectors();
const VARIED = VECTOR_FILES.find((v) => v.name === 'varied-wtmp.bin');

function recordsOf(v: Vector): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + 400 <= v.bin.length; at += 400) out.push(v.bin.subarray(at, at + 400));
  return out;
}

function variedRecord(index: number): { bin: Buffer; json: VectorRecord } {
  assert.ok(VARIED, 'varied-wtmp.bin is missing');
  return { bin: recordsOf(VARIED)[index], json: VARIED.json.records[index] };
}

function inputFromJson(r: VectorRecord): EntryInput {
  return {
    type: r.ut_type_name as RecordTypeName,
    pid: r.ut_pid,
    line: r.ut_line,
    id: r.ut_id,
    user: r.ut_user,
    host: r.ut_host,
    exit: { termination: r.e_termination, status: r.e_exit },
    session: r.ut_session,
    tvSec: r.tv_sec,
    tvUsec: r.tv_usec,
    address: r.ut_addr_text,
  };
}

function fieldsOf(raw: RawRecord): Omit<RawRecord, 'padding'> {
  const { padding: _padding, ...rest } = raw;
  return rest;
}

// ---------------------------------------------------------------------------------------
// Layouts

type OffsetKey = Exclude<keyof RecordLayout, 'name' | 'size' | 'timeBytes' | 'padding'>;

// The C member names the vectors' JSON uses, and our layout's name for each.
const JSON_OFFSET_NAMES: Record<string, OffsetKey> = {
  ut_type: 'type',
  ut_pid: 'pid',
  ut_line: 'line',
  ut_id: 'id',
  ut_user: 'user',
  ut_host: 'host',
  e_termination: 'termination',
  e_exit: 'exit',
  ut_session: 'session',
  tv_sec: 'tvSec',
  tv_usec: 'tvUsec',
  ut_addr_v6: 'addr',
  _dummy: 'reserved',
};

function widths(layout: RecordLayout): Record<OffsetKey, number> {
  return {
    type: 2,
    pid: 4,
    line: 32,
    id: 4,
    user: 32,
    host: 256,
    termination: 2,
    exit: 2,
    session: 4,
    tvSec: layout.timeBytes,
    tvUsec: layout.timeBytes,
    addr: 16,
    reserved: 20,
  };
}

/** Reads PROTOCOL.md section 1's layout table: per column, offsets, padding, size, time width. */
function specTable(): Array<{ size: number; timeBytes: number; offsets: Partial<Record<OffsetKey, number>>; padding: Array<[number, number]> }> {
  const text = readFileSync(join(VECTORS, 'record-layouts.md'), 'utf8');
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('| field |'));
  assert.ok(head >= 0, 'PROTOCOL.md has no layout table');
  const cells = (l: string): string[] => l.split('|').slice(1, -1).map((c) => c.trim());
  const columns = cells(lines[head])
    .slice(1)
    .map((c) => ({
      size: Number(/(\d+) bytes/.exec(c)?.[1]),
      timeBytes: 0,
      offsets: {} as Partial<Record<OffsetKey, number>>,
      padding: [] as Array<[number, number]>,
    }));
  const names: Array<[string, OffsetKey]> = [
    ['ut_type', 'type'],
    ['ut_pid', 'pid'],
    ['ut_line', 'line'],
    ['ut_id', 'id'],
    ['ut_user', 'user'],
    ['ut_host', 'host'],
    ['ut_exit.e_termination', 'termination'],
    ['ut_exit.e_exit', 'exit'],
    ['ut_session', 'session'],
    ['ut_tv.tv_sec', 'tvSec'],
    ['ut_tv.tv_usec', 'tvUsec'],
    ['ut_addr_v6', 'addr'],
    ['reserved', 'reserved'],
  ];
  for (let i = head + 2; i < lines.length && lines[i].startsWith('|'); i++) {
    const [name, ...values] = cells(lines[i]);
    values.forEach((value, col) => {
      const m = /^(\d+)(?:\.\.(\d+))?/.exec(value);
      if (!m) return; // '-': the layout has no such bytes
      if (name.endsWith('padding')) {
        columns[col].padding.push([Number(m[1]), Number(m[2] ?? m[1]) + 1]);
        return;
      }
      const key = names.find(([prefix]) => name === prefix || name.startsWith(`${prefix} `))?.[1];
      assert.ok(key, `unexpected row '${name}' in PROTOCOL.md's layout table`);
      columns[col].offsets[key] = Number(m[1]);
      if (key === 'tvSec') columns[col].timeBytes = value.includes('int64') ? 8 : 4;
    });
  }
  return columns;
}

describe('record layouts', () => {
  test('the vectors are present', () => {
    const names = VECTOR_FILES.map((v) => v.name);
    for (const expected of ['scenario-utmp.bin', 'scenario-wtmp.bin', 'varied-wtmp.bin', 'transcripts-final-utmp.bin']) {
      assert.ok(names.includes(expected), `${expected} not found in ${VECTORS}`);
    }
  });

  test('utmps offsets equal the offsets of every vector JSON', () => {
    for (const v of VECTOR_FILES) {
      assert.equal(v.json.record_size, UTMPS_LAYOUT.size, v.name);
      assert.deepEqual(Object.keys(v.json.offsets).sort(), Object.keys(JSON_OFFSET_NAMES).sort(), v.name);
      for (const [cName, key] of Object.entries(JSON_OFFSET_NAMES)) {
        assert.equal(UTMPS_LAYOUT[key], v.json.offsets[cName], `${v.name}: ${cName}`);
      }
    }
  });

  test('utmps layout, written out', () => {
    assert.equal(UTMPS_LAYOUT.name, 'utmps');
    assert.equal(UTMPS_LAYOUT.size, 400);
    assert.equal(UTMPS_LAYOUT.timeBytes, 8);
    const { type, pid, line, id, user, host, termination, exit, session, tvSec, tvUsec, addr, reserved } = UTMPS_LAYOUT;
    assert.deepEqual(
      { type, pid, line, id, user, host, termination, exit, session, tvSec, tvUsec, addr, reserved },
      { type: 0, pid: 4, line: 8, id: 40, user: 44, host: 76, termination: 332, exit: 334, session: 336, tvSec: 344, tvUsec: 352, addr: 360, reserved: 376 },
    );
    assert.deepEqual(UTMPS_LAYOUT.padding.map((r) => [...r]), [[2, 4], [340, 344], [396, 400]]);
  });

  test('glibc layout, as in PROTOCOL.md section 1', () => {
    assert.equal(GLIBC_LAYOUT.name, 'glibc');
    assert.equal(GLIBC_LAYOUT.size, 384);
    assert.equal(GLIBC_LAYOUT.timeBytes, 4);
    const { type, pid, line, id, user, host, termination, exit, session, tvSec, tvUsec, addr, reserved } = GLIBC_LAYOUT;
    assert.deepEqual(
      { type, pid, line, id, user, host, termination, exit, session, tvSec, tvUsec, addr, reserved },
      { type: 0, pid: 4, line: 8, id: 40, user: 44, host: 76, termination: 332, exit: 334, session: 336, tvSec: 340, tvUsec: 344, addr: 348, reserved: 364 },
    );
    assert.deepEqual(GLIBC_LAYOUT.padding.map((r) => [...r]), [[2, 4]]);
  });

  test('both layouts match the table text of PROTOCOL.md', () => {
    const [utmps, glibc] = specTable();
    for (const [layout, column] of [
      [UTMPS_LAYOUT, utmps],
      [GLIBC_LAYOUT, glibc],
    ] as const) {
      assert.equal(layout.size, column.size, `${layout.name} size`);
      assert.equal(layout.timeBytes, column.timeBytes, `${layout.name} time width`);
      for (const key of Object.keys(widths(layout)) as OffsetKey[]) {
        assert.equal(layout[key], column.offsets[key], `${layout.name}.${key}`);
      }
      assert.deepEqual(layout.padding.map((r) => [...r]), column.padding, `${layout.name} padding`);
    }
  });

  test('field sizes', () => {
    assert.deepEqual({ ...FIELD_SIZE }, { line: 32, id: 4, user: 32, host: 256, addr: 16, reserved: 20 });
  });

  test('fields and padding cover every byte of each layout exactly once', () => {
    for (const layout of [UTMPS_LAYOUT, GLIBC_LAYOUT]) {
      const owner: string[] = new Array<string>(layout.size).fill('');
      const claim = (what: string, start: number, length: number): void => {
        for (let i = start; i < start + length; i++) {
          assert.ok(i < layout.size, `${layout.name}: ${what} runs past the end`);
          assert.equal(owner[i], '', `${layout.name}: byte ${i} is both ${owner[i]} and ${what}`);
          owner[i] = what;
        }
      };
      for (const [key, width] of Object.entries(widths(layout)) as Array<[OffsetKey, number]>) claim(key, layout[key], width);
      for (const [s, e] of layout.padding) claim('padding', s, e - s);
      assert.equal(owner.indexOf(''), -1, `${layout.name}: byte ${owner.indexOf('')} belongs to nothing`);
    }
  });

  test('decodeRecord reads a hand-built utmps record', () => {
    const addr = hex('20010db8 00000000 00000000 0000002a');
    const reserved = hex('c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3');
    const bytes = cat(
      le(7, 2), hex('a1a2'), le(0x01020304, 4), padded('pts/7', 32), padded('ts/7', 4), padded('alice', 32),
      padded('example.org', 256), le(-3, 2), le(9, 2), le(-77, 4), hex('b1b2b3b4'), le(2n ** 40n + 5n, 8),
      le(123456, 8), addr, reserved, hex('e1e2e3e4'),
    );
    assert.equal(bytes.length, 400);
    const raw = decodeRecord(bytes, UTMPS_LAYOUT);
    assert.equal(raw.type, 7);
    assert.equal(raw.pid, 0x01020304);
    assert.deepEqual(raw.line, padded('pts/7', 32));
    assert.deepEqual(raw.id, padded('ts/7', 4));
    assert.deepEqual(raw.user, padded('alice', 32));
    assert.deepEqual(raw.host, padded('example.org', 256));
    assert.equal(raw.termination, -3);
    assert.equal(raw.exit, 9);
    assert.equal(raw.session, -77);
    assert.equal(raw.tvSec, 2n ** 40n + 5n);
    assert.equal(raw.tvUsec, 123456n);
    assert.deepEqual(raw.addr, addr);
    assert.deepEqual(raw.reserved, reserved);
    assert.equal(toHex(raw.padding), 'a1a2b1b2b3b4e1e2e3e4');
    assert.deepEqual(encodeRecord(raw, UTMPS_LAYOUT), bytes);
    const entry = decodeEntry(bytes);
    assert.equal(entry.typeName, 'USER_PROCESS');
    assert.equal(entry.address, '2001:db8::2a');
  });

  test('decodeRecord reads a hand-built glibc record', () => {
    const addr = hex('c000020a 00000000 00000000 00000000');
    const reserved = hex('0102030405060708090a0b0c0d0e0f1011121314');
    const bytes = cat(
      le(8, 2), hex('f0f1'), le(-1, 4), padded('tty3', 32), padded('3', 4), padded('bob', 32),
      padded('', 256), le(1, 2), le(2, 2), le(3, 4), le(-86400, 4), le(999999, 4), addr, reserved,
    );
    assert.equal(bytes.length, 384);
    const raw = decodeRecord(bytes, GLIBC_LAYOUT);
    assert.equal(raw.type, 8);
    assert.equal(raw.pid, -1);
    assert.deepEqual(raw.user, padded('bob', 32));
    assert.deepEqual([raw.termination, raw.exit, raw.session], [1, 2, 3]);
    assert.equal(raw.tvSec, -86400n);
    assert.equal(raw.tvUsec, 999999n);
    assert.deepEqual(raw.addr, addr);
    assert.deepEqual(raw.reserved, reserved);
    assert.equal(toHex(raw.padding), 'f0f1');
    assert.deepEqual(encodeRecord(raw, GLIBC_LAYOUT), bytes);
    assert.equal(decodeEntry(bytes, GLIBC_LAYOUT).address, '192.0.2.10');
  });

  test('a buffer of the wrong size is refused', () => {
    assert.throws(() => decodeRecord(Buffer.alloc(384), UTMPS_LAYOUT), RangeError);
    assert.throws(() => decodeRecord(Buffer.alloc(400), GLIBC_LAYOUT), RangeError);
    assert.throws(() => decodeRecord(Buffer.alloc(401)), RangeError);
  });
});

// ---------------------------------------------------------------------------------------
// Golden vectors

describe('golden vector records', () => {
  for (const v of VECTOR_FILES) {
    describe(v.name, () => {
      test('file size and record count', () => {
        assert.equal(v.json.trailing_bytes, 0);
        assert.equal(v.bin.length, v.json.record_count * 400);
        assert.equal(v.json.records.length, v.json.record_count);
        assert.ok(v.json.record_count > 0);
      });

      test('decodeEntry and decodeRecord give the JSON fields', () => {
        recordsOf(v).forEach((bytes, i) => {
          const r = v.json.records[i];
          const where = `${v.name} record ${i}`;
          assert.equal(r.index, i, where);
          assert.equal(r.file_offset, i * 400, where);
          const e = decodeEntry(bytes);
          assert.equal(e.type, r.ut_type, where);
          assert.equal(e.typeName, r.ut_type_name, where);
          assert.equal(e.pid, r.ut_pid, where);
          assert.equal(e.line, r.ut_line, where);
          assert.equal(e.id, r.ut_id, where);
          assert.equal(e.user, r.ut_user, where);
          assert.equal(e.host, r.ut_host, where);
          assert.equal(Buffer.byteLength(e.line), r.ut_line_len, where);
          assert.equal(Buffer.byteLength(e.user), r.ut_user_len, where);
          assert.equal(Buffer.byteLength(e.host), r.ut_host_len, where);
          assert.equal(e.exit.termination, r.e_termination, where);
          assert.equal(e.exit.status, r.e_exit, where);
          assert.equal(e.session, r.ut_session, where);
          assert.equal(e.tvSec, BigInt(r.tv_sec), where);
          assert.equal(e.tvUsec, r.tv_usec, where);
          assert.equal(e.address, r.ut_addr_text, where);

          const raw = decodeRecord(bytes);
          assert.equal(toHex(raw.id), r.ut_id_hex, where);
          assert.equal(toHex(raw.addr), r.ut_addr_v6_hex, where);
          const words = [0, 4, 8, 12].map((at) => raw.addr.readUInt32LE(at));
          assert.deepEqual(words, r.ut_addr_v6, where);
          assert.equal(toHex(raw.padding), r.pad_after_ut_type_hex + r.pad_before_ut_tv_hex + r.tail_pad_hex, where);
          assert.equal(toHex(raw.reserved), r.dummy_hex, where);
        });
      });

      test('encodeRecord(decodeRecord(b)) is b', () => {
        for (const bytes of recordsOf(v)) assert.deepEqual(encodeRecord(decodeRecord(bytes)), bytes);
      });

      test('buildRecord from the JSON values gives the vector bytes', () => {
        recordsOf(v).forEach((bytes, i) => {
          const built = buildRecord(inputFromJson(v.json.records[i]));
          assert.equal(toHex(built), toHex(bytes), `${v.name} record ${i}`);
        });
      });
    });
  }

  test('varied-wtmp record 8 fills line, user and host without a NUL', () => {
    const { bin, json } = variedRecord(8);
    assert.equal(json.ut_user_len, 32);
    assert.equal(json.ut_line_len, 32);
    assert.equal(json.ut_host_len, 256);
    const e = decodeEntry(bin);
    assert.equal(e.user, 'abcdefghijklmnopqrstuvwxyz012345');
    assert.equal(e.host, 'h'.repeat(256));
    // The user field ends where the host starts: no byte of the host leaks into it.
    assert.equal(bin[76], 'h'.charCodeAt(0));
  });
});

// ---------------------------------------------------------------------------------------
// Random buffers

describe('lossless codec on random bytes', () => {
  for (const layout of [UTMPS_LAYOUT, GLIBC_LAYOUT]) {
    test(`2000 random ${layout.size}-byte ${layout.name} records round-trip`, () => {
      for (let n = 0; n < 2000; n++) {
        const bytes = randomBytes(layout.size);
        const again = encodeRecord(decodeRecord(bytes, layout), layout);
        if (!again.equals(bytes)) assert.fail(`${layout.name} record differs after decode+encode:\n${toHex(bytes)}\n${toHex(again)}`);
      }
    });
  }

  test('nonzero padding and reserved bytes survive', () => {
    const bytes = Buffer.from(variedRecord(6).bin);
    for (const [s, e] of UTMPS_LAYOUT.padding) bytes.fill(0xa5, s, e);
    bytes.fill(0x5a, 376, 396);
    const raw = decodeRecord(bytes);
    assert.equal(toHex(raw.padding), 'a5'.repeat(10));
    assert.deepEqual(encodeRecord(raw), bytes);
  });

  test('encodeRecord zero-fills the padding when none is given', () => {
    const raw = decodeRecord(randomBytes(400));
    raw.padding = Buffer.alloc(0);
    const out = encodeRecord(raw);
    for (const [s, e] of UTMPS_LAYOUT.padding) assert.equal(toHex(out.subarray(s, e)), '00'.repeat(e - s));
  });
});

// ---------------------------------------------------------------------------------------
// Layout conversion

describe('convertRecord', () => {
  test('utmps -> glibc -> utmps keeps every field of the vectors', () => {
    for (const v of VECTOR_FILES) {
      for (const bytes of recordsOf(v)) {
        const g = convertRecord(bytes, UTMPS_LAYOUT, GLIBC_LAYOUT);
        assert.equal(g.length, 384);
        const raw = decodeRecord(bytes);
        // Read the glibc bytes at the table's offsets, not through the codec.
        assert.equal(g.readInt16LE(0), raw.type);
        assert.equal(g.readInt32LE(4), raw.pid);
        assert.deepEqual(g.subarray(44, 76), raw.user);
        assert.equal(g.readInt32LE(336), raw.session);
        assert.equal(BigInt(g.readInt32LE(340)), raw.tvSec);
        assert.equal(BigInt(g.readInt32LE(344)), raw.tvUsec);
        assert.deepEqual(g.subarray(348, 364), raw.addr);
        assert.deepEqual(g.subarray(364, 384), raw.reserved);
        assert.deepEqual(fieldsOf(decodeRecord(g, GLIBC_LAYOUT)), fieldsOf(raw));
        const back = convertRecord(g, GLIBC_LAYOUT, UTMPS_LAYOUT);
        assert.deepEqual(back, bytes, `${v.name}: record changed across the round trip`);
      }
    }
  });

  test('reserved bytes and the padding after ut_type cross layouts; utmps-only padding does not', () => {
    const bytes = Buffer.from(variedRecord(5).bin);
    bytes.fill(0x11, 2, 4);
    bytes.fill(0x22, 340, 344);
    bytes.fill(0x33, 376, 396);
    bytes.fill(0x44, 396, 400);
    const g = convertRecord(bytes, UTMPS_LAYOUT, GLIBC_LAYOUT);
    assert.equal(toHex(g.subarray(2, 4)), '1111');
    assert.equal(toHex(g.subarray(364, 384)), '33'.repeat(20));
    const back = convertRecord(g, GLIBC_LAYOUT, UTMPS_LAYOUT);
    const expected = Buffer.from(bytes);
    expected.fill(0, 340, 344);
    expected.fill(0, 396, 400);
    assert.deepEqual(back, expected);
  });

  test('a tv_sec of 2^31 refuses with EOVERFLOW; the 32-bit limits pass', () => {
    const at = (tvSec: bigint): Buffer => buildRecord({ type: 'USER_PROCESS', user: 'u', tvSec });
    assert.throws(() => convertRecord(at(2n ** 31n), UTMPS_LAYOUT, GLIBC_LAYOUT), { code: 'EOVERFLOW' });
    assert.throws(() => convertRecord(at(-(2n ** 31n) - 1n), UTMPS_LAYOUT, GLIBC_LAYOUT), { code: 'EOVERFLOW' });
    assert.throws(() => convertRecord(at(2n ** 62n), UTMPS_LAYOUT, GLIBC_LAYOUT), { code: 'EOVERFLOW' });
    for (const ok of [2n ** 31n - 1n, -(2n ** 31n)]) {
      const g = convertRecord(at(ok), UTMPS_LAYOUT, GLIBC_LAYOUT);
      assert.equal(BigInt(g.readInt32LE(340)), ok);
      assert.equal(decodeRecord(convertRecord(g, GLIBC_LAYOUT, UTMPS_LAYOUT)).tvSec, ok);
    }
  });

  test('a negative small time converts both ways', () => {
    const bytes = buildRecord({ type: 'BOOT_TIME', tvSec: -86400, tvUsec: 5 });
    assert.equal(toHex(bytes.subarray(344, 352)), toHex(le(-86400, 8)));
    const g = convertRecord(bytes, UTMPS_LAYOUT, GLIBC_LAYOUT);
    assert.equal(toHex(g.subarray(340, 344)), toHex(le(-86400, 4)));
    assert.equal(toHex(g.subarray(344, 348)), toHex(le(5, 4)));
    const back = convertRecord(g, GLIBC_LAYOUT, UTMPS_LAYOUT);
    assert.deepEqual(back, bytes);
    assert.equal(decodeEntry(back).tvSec, -86400n);
  });

  test('the same layout copies, and a wrong size is refused', () => {
    const bytes = variedRecord(0).bin;
    const copy = convertRecord(bytes, UTMPS_LAYOUT, UTMPS_LAYOUT);
    assert.deepEqual(copy, bytes);
    assert.notEqual(copy.buffer, bytes.buffer);
    assert.throws(() => convertRecord(Buffer.alloc(384), UTMPS_LAYOUT, GLIBC_LAYOUT), RangeError);
  });
});

// ---------------------------------------------------------------------------------------
// buildRecord validation

function assertRecordError(input: EntryInput, field: string, message: RegExp): void {
  assert.throws(
    () => buildRecord(input),
    (e: unknown) => {
      assert.ok(e instanceof RecordError, `expected a RecordError, got ${String(e)}`);
      assert.equal(e.field, field);
      assert.equal(e.code, 'EINVAL');
      assert.ok(e.message.startsWith(`${field}:`), `message '${e.message}' does not name ${field}`);
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('buildRecord', () => {
  const base: EntryInput = { type: 'USER_PROCESS' };

  test('string fields are limited by bytes, not characters', () => {
    assertRecordError({ ...base, user: 'u'.repeat(33) }, 'user', /33 bytes.*32/);
    assert.equal(buildRecord({ ...base, user: 'u'.repeat(32) }).subarray(44, 76).toString('latin1'), 'u'.repeat(32));
    // 'é' is two bytes in UTF-8.
    const eleven = buildRecord({ ...base, user: 'é'.repeat(11) });
    assert.equal(toHex(eleven.subarray(44, 76)), 'c3a9'.repeat(11) + '00'.repeat(10));
    assert.equal(decodeEntry(eleven).user, 'é'.repeat(11));
    const sixteen = buildRecord({ ...base, user: 'é'.repeat(16) });
    assert.equal(toHex(sixteen.subarray(44, 76)), 'c3a9'.repeat(16));
    assert.equal(decodeEntry(sixteen).user, 'é'.repeat(16));
    assertRecordError({ ...base, user: 'é'.repeat(17) }, 'user', /34 bytes.*32/);
    assertRecordError({ ...base, line: 'l'.repeat(33) }, 'line', /33 bytes.*32/);
    assertRecordError({ ...base, id: 'abcde' }, 'id', /5 bytes.*4/);
    assertRecordError({ ...base, host: 'h'.repeat(257) }, 'host', /257 bytes.*256/);
  });

  test('NUL inside a string is refused', () => {
    assertRecordError({ ...base, user: 'ro\0ot' }, 'user', /NUL/);
    assertRecordError({ ...base, line: '\0' }, 'line', /NUL/);
  });

  test('numbers out of range are refused', () => {
    assertRecordError({ ...base, pid: 2 ** 31 }, 'pid', /2147483648/);
    assertRecordError({ ...base, pid: 1.5 }, 'pid', /1\.5/);
    assertRecordError({ ...base, tvUsec: 1_000_000 }, 'tvUsec', /1000000/);
    assertRecordError({ ...base, tvUsec: -1 }, 'tvUsec', /-1/);
    assertRecordError({ ...base, session: 2 ** 31 }, 'session', /2147483648/);
    assertRecordError({ ...base, exit: { termination: 0x8000 } }, 'exit.termination', /32768/);
    assertRecordError({ ...base, tvSec: 2n ** 63n }, 'tvSec', /64 bits/);
    const max = buildRecord({ ...base, pid: 2 ** 31 - 1, tvUsec: 999_999 });
    assert.equal(toHex(max.subarray(4, 8)), 'ffffff7f');
    assert.equal(toHex(max.subarray(352, 360)), toHex(le(999_999, 8)));
  });

  test('type names', () => {
    assertRecordError({ type: 'LOGGED_IN' as RecordTypeName }, 'type', /LOGGED_IN/);
    assertRecordError({ type: 'toString' as RecordTypeName }, 'type', /toString/);
    assert.equal(buildRecord({ type: 'dead_process' }).readInt16LE(0), 8);
    assert.equal(buildRecord({ type: 'ACCOUNTING' }).readInt16LE(0), 9);
    assert.equal(buildRecord({ type: 6 }).readInt16LE(0), 6);
  });

  test('malformed addresses are refused', () => {
    for (const address of ['1.2.3', '::g', '1.2.3.4.5', 'fe80::1%eth0', '256.1.1.1', '1:2:3:4:5:6:7:8:9', 'localhost', ' 1.2.3.4']) {
      assertRecordError({ ...base, address }, 'address', new RegExp(address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.throws(() => parseAddress(address), RangeError, address);
    }
  });

  test("'::ffff:198.51.100.7' gives the bytes of varied-wtmp's '::ffff:c633:6407' record", () => {
    const { bin, json } = variedRecord(7);
    assert.equal(json.ut_addr_v6_hex, '00000000000000000000ffffc6336407');
    for (const address of ['::ffff:198.51.100.7', '::ffff:c633:6407', '0:0:0:0:0:ffff:198.51.100.7', '::FFFF:C633:6407']) {
      assert.equal(toHex(buildRecord({ ...inputFromJson(json), address })), toHex(bin), address);
    }
  });

  test('the glibc layout is built with 32-bit time and refuses a later time', () => {
    const g = buildRecord({ type: 'USER_PROCESS', user: 'bob', tvSec: 1_700_000_000, tvUsec: 7 }, GLIBC_LAYOUT);
    assert.equal(g.length, 384);
    assert.equal(g.readInt32LE(340), 1_700_000_000);
    assert.equal(g.readInt32LE(344), 7);
    assert.throws(() => buildRecord({ type: 'USER_PROCESS', tvSec: 2 ** 31 }, GLIBC_LAYOUT), RecordError);
  });
});

// ---------------------------------------------------------------------------------------
// Addresses

/** 16 address bytes as eight hex groups, fully written out: an input form we did not format. */
function expanded(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}

/** The WHATWG URL parser's serialisation of an IPv6 address (RFC 5952 compression). */
function whatwg(bytes: Uint8Array): string {
  return new URL(`http://[${expanded(bytes)}]/`).hostname.slice(1, -1);
}

function isMapped(bytes: Uint8Array): boolean {
  return bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

function checkAddress(bytes: Buffer): void {
  const text = formatAddress(bytes);
  const dottedTail = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  if (isMapped(bytes)) {
    assert.equal(text, `::ffff:${dottedTail}`);
  } else if (bytes.subarray(0, 12).every((b) => b === 0) && (bytes[12] | bytes[13]) !== 0) {
    // glibc's inet_ntop writes six leading zero groups as an IPv4-compatible address.
    assert.equal(text, `::${dottedTail}`);
  } else {
    assert.equal(text, whatwg(bytes), toHex(bytes));
  }
  assert.equal(toHex(parseAddress(text)), toHex(bytes), text);
  assert.equal(toHex(parseAddress(expanded(bytes))), toHex(bytes), expanded(bytes));
}

describe('addresses', () => {
  test('the five address kinds of varied-wtmp.json', () => {
    assert.ok(VARIED);
    const seen = new Set<string>();
    for (const r of VARIED.json.records) {
      const bytes = hex(r.ut_addr_v6_hex);
      assert.equal(formatAddress(bytes), r.ut_addr_text, `record ${r.index}`);
      assert.equal(toHex(parseAddress(r.ut_addr_text)), r.ut_addr_v6_hex, `record ${r.index}`);
      if (r.ut_addr_text) seen.add(r.ut_addr_text);
    }
    assert.deepEqual([...seen].sort(), ['192.0.2.10', '2001:db8::1', '203.0.113.5', '::ffff:198.51.100.7', 'fe80::1:2:3:4']);
  });

  test('hand-picked forms', () => {
    assert.equal(formatAddress(Buffer.alloc(16)), '');
    assert.equal(toHex(parseAddress('')), '00'.repeat(16));
    assert.equal(formatAddress(hex('00000001' + '00'.repeat(12))), '0.0.0.1');
    assert.equal(formatAddress(hex('00'.repeat(15) + '01')), '::1');
    assert.equal(formatAddress(hex('20010db8000000010000000000000001')), '2001:db8:0:1::1');
    // RFC 5952: the longest run is compressed, the first one on a tie, and never a single group.
    assert.equal(formatAddress(hex('20010db8000000000001000000000001')), '2001:db8::1:0:0:1');
    assert.equal(formatAddress(hex('20010db8000000010000000000000000')), '2001:db8:0:1::');
    assert.equal(formatAddress(hex('20010db8000100010001000100010001')), '2001:db8:1:1:1:1:1:1');
    assert.equal(formatAddress(hex('20010000000100010001000100010001')), '2001:0:1:1:1:1:1:1');
    assert.equal(formatAddress(hex('00000000000000000000ffff00000000')), '::ffff:0.0.0.0');
    assert.throws(() => formatAddress(Buffer.alloc(4)), RangeError);
  });

  test('parse(format(x)) for 500 random addresses', () => {
    for (let n = 0; n < 500; n++) {
      let bytes: Buffer;
      do bytes = randomBytes(16);
      while (bytes.subarray(4).every((b) => b === 0));
      checkAddress(bytes);
    }
  });

  test('parse(format(x)) for 500 random addresses with runs of zero groups', () => {
    for (let n = 0; n < 500; n++) {
      const bytes = randomBytes(16);
      for (let g = 0; g < 8; g++) if (randomInt(2) === 0) bytes.fill(0, 2 * g, 2 * g + 2);
      if (bytes.subarray(4).every((b) => b === 0)) continue;
      checkAddress(bytes);
    }
  });

  test('parse(format(x)) for 200 random IPv4-mapped addresses', () => {
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.concat([hex('00000000000000000000ffff'), randomBytes(4)]);
      checkAddress(bytes);
      const dotted = `::ffff:${Array.from(bytes.subarray(12)).join('.')}`;
      assert.equal(toHex(parseAddress(dotted)), toHex(bytes));
    }
  });

  test('IPv4 text round-trips through the first four bytes', () => {
    for (let n = 0; n < 200; n++) {
      const bytes = Buffer.concat([randomBytes(4), Buffer.alloc(12)]);
      if (bytes.every((b) => b === 0)) continue;
      const text = formatAddress(bytes);
      assert.equal(text, Array.from(bytes.subarray(0, 4)).join('.'));
      assert.equal(toHex(parseAddress(text)), toHex(bytes));
    }
  });
});
