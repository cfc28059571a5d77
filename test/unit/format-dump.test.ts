// utmpdump's text format: lines against output of util-linux utmpdump 2.38.1, and the
// text -> record direction: every record of test/vectors comes back, a short ut_id with
// the spaces utmpdump -r keeps.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { cleanse, DumpParseError, dumpLine, parseDumpLine, recordFromDump } from '../../src/format/dump.js';
import { cat, le, toHex } from '../helpers/bytes.js';
import { VECTORS } from '../helpers/paths.js';

interface Rec {
  type: number;
  pid?: number;
  line?: Buffer | string;
  id?: Buffer | string;
  user?: Buffer | string;
  host?: Buffer | string;
  sec: number | bigint;
  usec?: number;
  addr?: number[];
}

function field(v: Buffer | string | undefined, size: number): Buffer {
  const b = Buffer.alloc(size);
  (typeof v === 'string' ? Buffer.from(v, 'latin1') : (v ?? Buffer.alloc(0))).copy(b);
  return b;
}

function rec(r: Rec): Buffer {
  const addr = Buffer.alloc(16);
  Buffer.from(r.addr ?? []).copy(addr);
  return cat(
    le(r.type, 2), le(0, 2), le(r.pid ?? 0, 4),
    field(r.line, 32), field(r.id, 4), field(r.user, 32), field(r.host, 256),
    le(0, 2), le(0, 2), le(0, 4), le(0, 4),
    le(r.sec, 8), le(r.usec ?? 0, 8), addr, Buffer.alloc(20), Buffer.alloc(4),
  );
}

describe('records to text (golden output of utmpdump)', () => {
  const cases: Array<[Rec, string]> = [
    [
      { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', sec: 1700000000 },
      '[2] [00000] [~~  ] [reboot  ] [~           ] [6.1.0-test          ] [0.0.0.0        ] [2023-11-14T22:13:20,000000+00:00]',
    ],
    [
      { type: 7, pid: 1002, line: 'pts/1', id: 'ts/1', user: 'carol', host: 'client.example.net', sec: 1700000300, addr: [0x20, 1, 0x0d, 0xb8, ...Array(11).fill(0), 1] },
      '[7] [01002] [ts/1] [carol   ] [pts/1       ] [client.example.net  ] [2001:db8::1    ] [2023-11-14T22:18:20,000000+00:00]',
    ],
    [
      // Brackets and non-ASCII bytes print as '?'; spaces stay. Controls, which utmpdump
      // also prints as '?', are \xHH (docs/READERS.md: never raw, and read back).
      { type: 7, pid: 1, id: Buffer.from([1, 2, 0x5d, 0x78]), user: Buffer.from('a\nb\tc d]e[f\x01\x7f\xff\xc3\xa9', 'latin1'), line: 'l]x', host: 'h h', sec: 1700000000, usec: 123456 },
      '[7] [00001] [\\x01\\x02?x] [a\\x0ab\\x09c d?e?f\\x01\\x7f???] [l?x         ] [h h                 ] [0.0.0.0        ] [2023-11-14T22:13:20,123456+00:00]',
    ],
    [
      { type: 7, pid: 1, sec: -1, addr: [...Array(10).fill(0), 0xff, 0xff, 198, 51, 100, 7] },
      '[7] [00001] [    ] [        ] [            ] [                    ] [::ffff:198.51.100.7] [1969-12-31T23:59:59,000000+00:00]',
    ],
    [
      { type: 7, pid: 1, sec: 2147483647, usec: -5, addr: [10, 0, 0, 1, ...Array(11).fill(0), 1] },
      '[7] [00001] [    ] [        ] [            ] [                    ] [a00:1::1       ] [2038-01-19T03:14:07,-00005+00:00]',
    ],
    [
      { type: -2, pid: -3, sec: 5, addr: [0xfe, 0x80, ...Array(13).fill(0), 1] },
      '[-2] [-0003] [    ] [        ] [            ] [                    ] [fe80::1        ] [1970-01-01T00:00:05,000000+00:00]',
    ],
    [
      { type: 7, pid: 123456789, sec: 0, addr: [1, 2, 3, 4] },
      '[7] [123456789] [    ] [        ] [            ] [                    ] [1.2.3.4        ] [1970-01-01T00:00:00,000000+00:00]',
    ],
    [
      { type: 7, pid: 1, sec: 1700000000, addr: [...Array(12).fill(0), 1, 2, 3, 4] },
      '[7] [00001] [    ] [        ] [            ] [                    ] [::1.2.3.4      ] [2023-11-14T22:13:20,000000+00:00]',
    ],
  ];
  for (const [r, line] of cases) test(line.slice(0, 40), () => assert.equal(dumpLine(rec(r)), line));

  test('full-length fields print whole', () => {
    const line = dumpLine(rec({ type: 7, pid: 1, user: 'x'.repeat(32), line: 'y'.repeat(32), id: 'zzzz', host: 'q'.repeat(256), sec: 0 }));
    assert.equal(line, `[7] [00001] [zzzz] [${'x'.repeat(32)}] [${'y'.repeat(32)}] [${'q'.repeat(256)}] [0.0.0.0        ] [1970-01-01T00:00:00,000000+00:00]`);
  });

  test('cleanse', () => {
    assert.equal(cleanse('plain text'), 'plain text');
    assert.equal(cleanse('\x00\x1f[]\x7f\x80\xff~'), '\\x00\\x1f??\\x7f??~');
    // A backslash is escaped only where it would read as an escape.
    assert.equal(cleanse('a\\b\\x41\\x1b'), 'a\\b\\x41\\x5cx1b');
  });

  test('controls read back: the round trip keeps them (utmpdump makes them ?)', () => {
    const r = rec({ type: 7, pid: 9, id: Buffer.from([0x1b, 0x5c, 0x78, 0x31]), user: Buffer.from('\rroot\x9b', 'latin1'), line: 'pts/\n', host: Buffer.from('a\x1b]0;x\x07 \\x0d\t', 'latin1'), sec: 1700000000 });
    const line = dumpLine(r);
    assert.ok(!/[\x00-\x1f\x7f]/.test(line), line);
    assert.equal(line, '[7] [00009] [\\x1b\\x1] [\\x0droot?] [pts/\\x0a    ] [a\\x1b?0;x\\x07 \\x5cx0d\\x09] [0.0.0.0        ] [2023-11-14T22:13:20,000000+00:00]');
    const back = recordFromDump(parseDumpLine(line));
    // All but the bytes shown as '?' (0x9b, ']') come back.
    const want = rec({ type: 7, pid: 9, id: Buffer.from([0x1b, 0x5c, 0x78, 0x31]), user: Buffer.from('\rroot?', 'latin1'), line: 'pts/\n', host: Buffer.from('a\x1b?0;x\x07 \\x0d\t', 'latin1'), sec: 1700000000 });
    assert.equal(back.toString('hex'), want.toString('hex'));
  });
});

describe('text to records', () => {
  test('every vector record comes back byte for byte, a short ut_id space-padded as utmpdump -r does', () => {
    const files = readdirSync(VECTORS).filter((f) => f.endsWith('.bin'));
    assert.ok(files.length >= 5, 'the vectors are missing');
    let shortIds = 0;
    for (const f of files) {
      const bin = readFileSync(join(VECTORS, f));
      for (let at = 0; at < bin.length; at += 400) {
        const original = bin.subarray(at, at + 400);
        const back = recordFromDump(parseDumpLine(dumpLine(original)));
        // The text pads the id to 4 columns; those columns come back as spaces.
        const want = Buffer.from(original);
        const id = want.subarray(40, 44);
        const n = id.indexOf(0) < 0 ? 4 : id.indexOf(0);
        const shown = cleanse(id.toString('latin1', 0, n)).length;
        if (shown < 4) {
          id.fill(0x20, n, n + 4 - shown);
          shortIds++;
        }
        assert.equal(toHex(back), toHex(want), `${f} record ${at / 400}`);
      }
    }
    assert.ok(shortIds > 0, 'the vectors hold short ids');
  });

  test('fields', () => {
    const f = parseDumpLine('[7] [01001] [ts/0] [bob     ] [pts/0       ] [192.0.2.10          ] [192.0.2.10     ] [2023-11-14T22:16:40,000000+00:00]');
    assert.equal(f.type, 7);
    assert.equal(f.pid, 1001);
    assert.equal(f.id, 'ts/0');
    assert.equal(f.user, 'bob');
    assert.equal(f.line, 'pts/0');
    assert.equal(f.host, '192.0.2.10');
    assert.equal(toHex(f.address), 'c000020a000000000000000000000000');
    assert.equal(f.tvSec, 1700000200n);
    assert.equal(f.tvUsec, 0n);
  });

  test('inner spaces stay, trailing ones are padding', () => {
    const f = parseDumpLine('[7] [1] [x   ] [u       ] [l           ] [h h                 ] [1.2.3.4] [2023-11-14T22:13:20,5+00:00]');
    assert.equal(f.host, 'h h');
    assert.equal(f.tvUsec, 5n);
  });

  test('an offset in the time is honoured; none means UTC', () => {
    const at = (t: string): bigint => parseDumpLine(`[7] [1] [x   ] [u] [l] [h] [0.0.0.0] [${t}]`).tvSec;
    assert.equal(at('2023-11-14T22:13:20,000000-03:00'), 1700000000n + 3n * 3600n);
    assert.equal(at('2023-11-14T22:13:20'), 1700000000n);
    assert.equal(at('2023-11-14T22:13:20Z'), 1700000000n);
    assert.equal(at('2262-01-01T00:00:00,000000+00:00'), 9214646400n);
  });

  test('every time utmpdump 2.38 reads (values from utmpdump -r on this text)', () => {
    const at = (t: string): [bigint, bigint] => {
      const f = parseDumpLine(`[7] [1] [x   ] [u] [l] [h] [0.0.0.0] [${t}]`);
      return [f.tvSec, f.tvUsec];
    };
    // Blank, or starting with a space: 0.
    assert.deepEqual(at(''), [0n, 0n]);
    assert.deepEqual(at(' '), [0n, 0n]);
    assert.deepEqual(at('   2023-11-14T22:13:20,000005+00:00'), [0n, 0n]);
    // The older ctime form, in UTC whatever the zone says; the weekday is not checked.
    assert.deepEqual(at('Wed Aug 28 03:00:00 2013 GMT'), [1377658800n, 0n]);
    assert.deepEqual(at('Wed Aug 28 03:00:00 2013 CEST'), [1377658800n, 0n]);
    assert.deepEqual(at('Thu Aug 28 03:00:00 2013 UTC'), [1377658800n, 0n]);
    assert.deepEqual(at('Wed Aug 28 03:00:00 2013'), [1377658800n, 0n]);
    assert.deepEqual(at('Wed Aug  8 03:00:00 2013 GMT'), [1375930800n, 0n]);
    assert.deepEqual(at('Wed Aug 08 03:00:00 2013 GMT'), [1375930800n, 0n]);
    assert.deepEqual(at('Wed Aug 28 03:00:00 2013 GMT,5'), [1377658800n, 0n]);
    assert.deepEqual(at('Wed Aug 28 03:00:00 1969 GMT'), [-10875600n, 0n]);
    // Single-digit fields; a short fraction is a count of microseconds, as in utmpdump.
    assert.deepEqual(at('2023-1-4T2:3:4,5'), [1672797784n, 5n]);
    assert.deepEqual(at('2023-02-30T22:13:20,000000+00:00'), [1677795200n, 0n]);
    // Longer fractions: utmpdump keeps 28 characters and stores 1234567 / 12345678; we
    // take the first 6 digits, with its tv_sec (the offset falls outside the 28). Where
    // its count is in range, it is ours too.
    assert.deepEqual(at('2030-10-05T18:31:32,0622006+00:00'), [1917455492n, 622006n]);
    assert.deepEqual(at('2023-11-14T22:13:20,1234567+00:00'), [1700000000n, 123456n]);
    assert.deepEqual(at('2023-11-14T22:13:20,12345678901+00:00'), [1700000000n, 123456n]);
    assert.deepEqual(at('2023-11-14T22:13:20,1234567-05:00'), [1700000000n, 123456n]);
  });

  test('ut_id: trailing spaces are kept, as utmpdump -r keeps them; other fields drop them', () => {
    const line = '[2] [00000] [~~  ] [reboot  ] [~           ] [6.1.0               ] [0.0.0.0        ] [2023-11-14T22:00:00,000000+00:00]';
    assert.equal(parseDumpLine(line).id, '~~  ');
    assert.equal(parseDumpLine(line).user, 'reboot');
    assert.equal(parseDumpLine(line.replace('[~~  ]', '[ab\\x09 ]')).id, 'ab\t ');
    assert.equal(toHex(recordFromDump(parseDumpLine(line)).subarray(40, 44)), '7e7e2020');
  });

  test('an IPv4-mapped address reads back (utmpdump -r makes it 0.0.0.0)', () => {
    const f = parseDumpLine('[7] [1] [x   ] [u] [l] [h] [::ffff:198.51.100.7] [2023-11-14T22:13:20,000000+00:00]');
    assert.equal(toHex(f.address), '00000000000000000000ffffc6336407');
  });

  test('bad lines say what is wrong', () => {
    const bad: Array<[string, RegExp]> = [
      ['garbage', /8 bracketed fields/],
      ['', /8 bracketed fields/],
      ['[x] [1] [x   ] [u] [l] [h] [0.0.0.0] [2023-11-14T22:13:20,0+00:00]', /bad type/],
      ['[7] [99999999999] [x   ] [u] [l] [h] [0.0.0.0] [2023-11-14T22:13:20,0+00:00]', /bad pid/],
      ['[7] [1] [xxxxx] [u] [l] [h] [0.0.0.0] [2023-11-14T22:13:20,0+00:00]', /id 'xxxxx' is 5 bytes/],
      [`[7] [1] [x] [${'u'.repeat(33)}] [l] [h] [0.0.0.0] [2023-11-14T22:13:20,0+00:00]`, /user .* is 33 bytes/],
      ['[7] [1] [x] [u] [l] [h] [1.2.3] [2023-11-14T22:13:20,0+00:00]', /bad address/],
      ['[7] [1] [x] [u] [l] [h] [0.0.0.0] [Tue Nov 14 25:13:20 2023]', /bad time/],
      ['[7] [1] [x] [u] [l] [h] [0.0.0.0] [Tue Nox 14 22:13:20 2023]', /bad time/],
      ['[7] [1] [x] [u] [l] [h] [0.0.0.0] [2023-13-14T22:13:20,0+00:00]', /bad time/],
      // utmpdump stores -5 there; we never store a tv_usec out of range.
      ['[7] [1] [x] [u] [l] [h] [0.0.0.0] [2023-11-14T22:13:20,-00005+00:00]', /bad time/],
    ];
    for (const [line, why] of bad) assert.throws(() => parseDumpLine(line), (e: unknown) => e instanceof DumpParseError && why.test((e as Error).message), line);
  });

  test('records from text are zero-filled (a blank ut_id is four spaces, as from utmpdump -r)', () => {
    const r = recordFromDump(parseDumpLine('[8] [00005] [    ] [        ] [pts/7       ] [                    ] [0.0.0.0        ] [2023-11-14T22:15:00,000000+00:00]'));
    const expected = rec({ type: 8, pid: 5, line: 'pts/7', id: '    ', sec: 1700000100 });
    assert.equal(toHex(r), toHex(expected));
  });
});
