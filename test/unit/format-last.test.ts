// `last` pairing and lines against output of util-linux last 2.38.1 (TZ=UTC LC_ALL=C) on
// the same records, written out below as golden text. Records are built byte by byte here
// (test/helpers/bytes.ts), not with the codec.

process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  beginsLine,
  durationText,
  escapeField,
  LastPairing,
  lastLine,
  lastType,
  LineEnds,
  type LineOptions,
  MAX_FAST_LINE,
  type PairingOptions,
  sessionJson,
  type TimeFormat,
  writeLastLine,
} from '../../src/format/last.js';
import { resetZoneCache } from '../../src/format/time.js';
import { cat, le } from '../helpers/bytes.js';

resetZoneCache();

interface Rec {
  type: number;
  pid?: number;
  line?: string;
  id?: string;
  user?: string;
  host?: string;
  sec: number;
  addr?: number[];
}

/** A NUL-padded field from a byte string (latin1: one char per byte). */
function field(text: string, size: number): Buffer {
  const b = Buffer.alloc(size);
  b.write(text, 'latin1');
  return b;
}

/** A utmps-layout record (PROTOCOL.md section 1), field by field. */
function rec(r: Rec): Buffer {
  const addr = Buffer.alloc(16);
  Buffer.from(r.addr ?? []).copy(addr);
  return cat(
    le(r.type, 2), le(0, 2), le(r.pid ?? 0, 4),
    field(r.line ?? '', 32), field(r.id ?? '', 4), field(r.user ?? '', 32), field(r.host ?? '', 256),
    le(0, 2), le(0, 2), le(0, 4), le(0, 4),
    le(r.sec, 8), le(0, 8), addr, Buffer.alloc(20), Buffer.alloc(4),
  );
}

// The scenario: boots, a run level, logins over several ttys, a logout, a shutdown, a
// crash (a boot with sessions open) and sessions open at the end.
const SCENARIO: Rec[] = [
  { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', sec: 1700000000 },
  { type: 1, pid: 51, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-test', sec: 1700000005 },
  { type: 6, pid: 700, line: 'tty1', id: '1', user: 'LOGIN', sec: 1700000010 },
  { type: 7, pid: 700, line: 'tty1', id: '1', user: 'alice', sec: 1700000100 },
  { type: 7, pid: 1001, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', addr: [192, 0, 2, 10], sec: 1700000200 },
  { type: 7, pid: 1002, line: 'pts/1', id: 'ts/1', user: 'carol', host: 'client.example.net', addr: [0x20, 1, 0x0d, 0xb8, ...Array(11).fill(0), 1], sec: 1700000300 },
  { type: 8, pid: 1001, line: 'pts/0', id: 'ts/0', sec: 1700003900 },
  { type: 7, pid: 1003, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', addr: [192, 0, 2, 10], sec: 1700090000 },
  { type: 1, line: '~', id: '~~', user: 'shutdown', host: '6.1.0-test', sec: 1700100000 },
  { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', sec: 1700100100 },
  { type: 7, pid: 1, line: 'pts/2', id: 'ts/2', user: 'dave', host: 'h.example', sec: 1700100200 },
  { type: 7, pid: 99999, line: 'pts/3', id: 'ts/3', user: 'erin', sec: 1700100300 },
  { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', sec: 1700200000 },
  { type: 7, pid: 1, line: 'pts/4', id: 'ts/4', user: 'frank', sec: 1700200300 },
];

/** Runs the pairing newest first and formats every line, then the "begins" line. */
function last(records: Rec[], pairing: PairingOptions, line: Partial<LineOptions> = {}, limit = 0): string {
  const lines: string[] = [];
  const format: LineOptions = { timeFormat: 'short', ...line };
  const p = new LastPairing({ isGone: () => true, ...pairing }, (s) => {
    lines.push(lastLine(s, format));
    return !(limit > 0 && lines.length >= limit);
  });
  const bufs = records.map(rec);
  for (let i = bufs.length - 1; i >= 0; i--) if (!p.push(bufs[i], 0)) break;
  const begins = beginsLine('a.bin', records[0].sec, format.timeFormat);
  return lines.join('\n') + (begins === null ? '' : `\n\n${begins}`);
}

const DEFAULT = `\
frank    pts/4                         Fri Nov 17 05:51    gone - no logout
reboot   system boot  6.1.0-test       Fri Nov 17 05:46   still running
erin     pts/3                         Thu Nov 16 02:05 - crash (1+03:41)
dave     pts/2        h.example        Thu Nov 16 02:03 - crash (1+03:43)
reboot   system boot  6.1.0-test       Thu Nov 16 02:01   still running
bob      pts/0        192.0.2.10       Wed Nov 15 23:13 - down   (02:46)
carol    pts/1        client.example.n Tue Nov 14 22:18 - down  (1+03:41)
bob      pts/0        192.0.2.10       Tue Nov 14 22:16 - 23:18  (01:01)
alice    tty1                          Tue Nov 14 22:15 - down  (1+03:45)
reboot   system boot  6.1.0-test       Tue Nov 14 22:13 - 02:00 (1+03:46)

a.bin begins Tue Nov 14 22:13:20 2023`;

const SYSTEM_FULL = `\
frank    pts/4                         Fri Nov 17 05:51:40 2023   gone - no logout
reboot   system boot  6.1.0-test       Fri Nov 17 05:46:40 2023   still running
erin     pts/3                         Thu Nov 16 02:05:00 2023 - crash                    (1+03:41)
dave     pts/2        h.example        Thu Nov 16 02:03:20 2023 - crash                    (1+03:43)
reboot   system boot  6.1.0-test       Thu Nov 16 02:01:40 2023   still running
shutdown system down  6.1.0-test       Thu Nov 16 02:00:00 2023 - Thu Nov 16 02:01:40 2023  (00:01)
bob      pts/0        192.0.2.10       Wed Nov 15 23:13:20 2023 - down                      (02:46)
carol    pts/1        client.example.n Tue Nov 14 22:18:20 2023 - down                     (1+03:41)
bob      pts/0        192.0.2.10       Tue Nov 14 22:16:40 2023 - Tue Nov 14 23:18:20 2023  (01:01)
alice    tty1                          Tue Nov 14 22:15:00 2023 - down                     (1+03:45)
runlevel (to lvl 3)   6.1.0-test       Tue Nov 14 22:13:25 2023 - Thu Nov 16 02:00:00 2023 (1+03:46)
reboot   system boot  6.1.0-test       Tue Nov 14 22:13:20 2023 - Thu Nov 16 02:00:00 2023 (1+03:46)

a.bin begins Tue Nov 14 22:13:20 2023`;

const SYSTEM_ISO = `\
frank    pts/4                         2023-11-17T05:51:40+00:00   gone - no logout
reboot   system boot  6.1.0-test       2023-11-17T05:46:40+00:00   still running
erin     pts/3                         2023-11-16T02:05:00+00:00 - crash                     (1+03:41)
dave     pts/2        h.example        2023-11-16T02:03:20+00:00 - crash                     (1+03:43)
reboot   system boot  6.1.0-test       2023-11-16T02:01:40+00:00   still running
shutdown system down  6.1.0-test       2023-11-16T02:00:00+00:00 - 2023-11-16T02:01:40+00:00  (00:01)
bob      pts/0        192.0.2.10       2023-11-15T23:13:20+00:00 - down                       (02:46)
carol    pts/1        client.example.n 2023-11-14T22:18:20+00:00 - down                      (1+03:41)
bob      pts/0        192.0.2.10       2023-11-14T22:16:40+00:00 - 2023-11-14T23:18:20+00:00  (01:01)
alice    tty1                          2023-11-14T22:15:00+00:00 - down                      (1+03:45)
runlevel (to lvl 3)   6.1.0-test       2023-11-14T22:13:25+00:00 - 2023-11-16T02:00:00+00:00 (1+03:46)
reboot   system boot  6.1.0-test       2023-11-14T22:13:20+00:00 - 2023-11-16T02:00:00+00:00 (1+03:46)

a.bin begins 2023-11-14T22:13:20+00:00`;

const SYSTEM_NOTIME = `\
frank    pts/4                           no logout
reboot   system boot  6.1.0-test         running
erin     pts/3                           (1+03:41)
dave     pts/2        h.example          (1+03:43)
reboot   system boot  6.1.0-test         running
shutdown system down  6.1.0-test          (00:01)
bob      pts/0        192.0.2.10          (02:46)
carol    pts/1        client.example.n   (1+03:41)
bob      pts/0        192.0.2.10          (01:01)
alice    tty1                            (1+03:45)
runlevel (to lvl 3)   6.1.0-test         (1+03:46)
reboot   system boot  6.1.0-test         (1+03:46)`;

const SYSTEM_HOSTLAST = `\
frank    pts/4        Fri Nov 17 05:51    gone - no logout
reboot   system boot  Fri Nov 17 05:46   still running      6.1.0-test
erin     pts/3        Thu Nov 16 02:05 - crash (1+03:41)
dave     pts/2        Thu Nov 16 02:03 - crash (1+03:43)    h.example
reboot   system boot  Thu Nov 16 02:01   still running      6.1.0-test
shutdown system down  Thu Nov 16 02:00 - 02:01  (00:01)     6.1.0-test
bob      pts/0        Wed Nov 15 23:13 - down   (02:46)     192.0.2.10
carol    pts/1        Tue Nov 14 22:18 - down  (1+03:41)    client.example.net
bob      pts/0        Tue Nov 14 22:16 - 23:18  (01:01)     192.0.2.10
alice    tty1         Tue Nov 14 22:15 - down  (1+03:45)
runlevel (to lvl 3)   Tue Nov 14 22:13 - 02:00 (1+03:46)    6.1.0-test
reboot   system boot  Tue Nov 14 22:13 - 02:00 (1+03:46)    6.1.0-test

a.bin begins Tue Nov 14 22:13:20 2023`;

const SYSTEM_IP = `\
frank    pts/4        0.0.0.0          Fri Nov 17 05:51    gone - no logout
reboot   system boot  0.0.0.0          Fri Nov 17 05:46   still running
erin     pts/3        0.0.0.0          Thu Nov 16 02:05 - crash (1+03:41)
dave     pts/2        0.0.0.0          Thu Nov 16 02:03 - crash (1+03:43)
reboot   system boot  0.0.0.0          Thu Nov 16 02:01   still running
shutdown system down  0.0.0.0          Thu Nov 16 02:00 - 02:01  (00:01)
bob      pts/0        192.0.2.10       Wed Nov 15 23:13 - down   (02:46)
carol    pts/1        2001:db8::1      Tue Nov 14 22:18 - down  (1+03:41)
bob      pts/0        192.0.2.10       Tue Nov 14 22:16 - 23:18  (01:01)
alice    tty1         0.0.0.0          Tue Nov 14 22:15 - down  (1+03:45)
runlevel (to lvl 3)   0.0.0.0          Tue Nov 14 22:13 - 02:00 (1+03:46)
reboot   system boot  0.0.0.0          Tue Nov 14 22:13 - 02:00 (1+03:46)

a.bin begins Tue Nov 14 22:13:20 2023`;

describe('last listing (golden output of util-linux last)', () => {
  const cases: Array<[string, PairingOptions, Partial<LineOptions>, string]> = [
    ['default', {}, {}, DEFAULT],
    ['-x -F', { system: true }, { timeFormat: 'full' }, SYSTEM_FULL],
    ['-x --time-format iso', { system: true }, { timeFormat: 'iso' }, SYSTEM_ISO],
    ['-x --time-format notime', { system: true }, { timeFormat: 'notime' }, SYSTEM_NOTIME],
    ['-x -a', { system: true }, { hostLast: true }, SYSTEM_HOSTLAST],
    ['-x -i', { system: true }, { ip: true }, SYSTEM_IP],
  ];
  for (const [name, pairing, line, expected] of cases) {
    test(name, () => assert.equal(last(SCENARIO, pairing, line), expected));
  }

  test('-n 3 stops after three lines', () => {
    assert.equal(last(SCENARIO, {}, {}, 3), DEFAULT.split('\n').slice(0, 3).join('\n') + '\n\na.bin begins Tue Nov 14 22:13:20 2023');
  });

  test('user and tty filters keep pairing every record', () => {
    const bob = DEFAULT.split('\n').filter((l) => l.startsWith('bob '));
    assert.equal(last(SCENARIO, { filters: ['bob'] }), `${bob.join('\n')}\n\na.bin begins Tue Nov 14 22:13:20 2023`);
    // "1" names tty1 too (last tries "tty" + the name), and "system boot" is a line.
    const lines = last(SCENARIO, { filters: ['1', 'system boot'] }).split('\n');
    assert.deepEqual(lines.slice(0, -2).map((l) => l.slice(0, 21)), [
      'reboot   system boot ', 'reboot   system boot ', 'alice    tty1        ', 'reboot   system boot ',
    ]);
  });

  test('-s and -t skip records as if they were not there', () => {
    // Until midnight Nov 16: the shutdown and the boots are gone, so sessions look open.
    const until = last(SCENARIO, { until: 1700092800 }).split('\n');
    assert.equal(until[0], 'bob      pts/0        192.0.2.10       Wed Nov 15 23:13    gone - no logout');
    assert.equal(until[4], 'reboot   system boot  6.1.0-test       Tue Nov 14 22:13   still running');
    const since = last(SCENARIO, { since: 1700006400 }).split('\n');
    assert.equal(since.at(-3), 'bob      pts/0        192.0.2.10       Wed Nov 15 23:13 - down   (02:46)');
  });

  test('-p keeps the sessions that include the time', () => {
    const at = last(SCENARIO, { present: 1700003900 }).split('\n');
    assert.deepEqual(at.slice(0, -2).map((l) => l.slice(0, 8).trim()), ['carol', 'bob', 'alice', 'reboot']);
    const after = last(SCENARIO, { present: 1700003901 }).split('\n');
    assert.deepEqual(after.slice(0, -2).map((l) => l.slice(0, 8).trim()), ['carol', 'alice', 'reboot']);
  });

  test('a login is still there when the probe says so', () => {
    const lines = last(SCENARIO, { isGone: () => false }).split('\n');
    assert.equal(lines[0], 'frank    pts/4                         Fri Nov 17 05:51   still logged in');
  });
});

describe('records as last sees them', () => {
  const DEAD = 8;
  const USER = 7;
  const cases: Array<[Rec, number, string]> = [
    [{ type: 1, line: '~', user: 'shutdown', sec: 1 }, -1000, 'a named ~ record: shutdown'],
    [{ type: 7, line: '~', user: 'rebootx', sec: 1 }, 2, 'names are prefixes (strncmp)'],
    [{ type: 2, line: '~', user: 'runlevel', sec: 1 }, 1, 'runlevel'],
    [{ type: 5, line: '~', user: 'x', sec: 1 }, 5, 'other ~ records keep their type'],
    [{ type: 7, line: '~', user: '', sec: 1 }, USER, 'even without a user'],
    [{ type: 8, line: '|', user: 'datex', sec: 1 }, 4, 'date | is an old time, whatever the type'],
    [{ type: 1, line: '{', user: 'date', sec: 1 }, 3, 'date { is a new time'],
    [{ type: 2, line: 'pts/1', user: '', sec: 1 }, DEAD, 'no user: a logout'],
    [{ type: 1, line: 'a', user: 'date', sec: 1 }, USER, 'a user and a line: a login'],
    [{ type: 9, line: 'acct', user: 'acct', sec: 1 }, USER, 'accounting records too'],
    [{ type: 6, line: 'tty2', user: 'LOGIN', sec: 1 }, 6, 'but not LOGIN'],
    [{ type: 8, line: 'a', user: 'x', sec: 1 }, DEAD, 'and not DEAD_PROCESS'],
    [{ type: 5, line: '', user: 'x', sec: 1 }, 5, 'nor without a line'],
  ];
  for (const [r, expected, name] of cases) test(name, () => assert.equal(lastType(rec(r), 0), expected));
});

describe('lines', () => {
  test('durations as C integer arithmetic prints them', () => {
    const table: Array<[number, string]> = [
      [59, ' (00:00)'], [60, ' (00:01)'], [3599, ' (00:59)'], [3600, ' (01:00)'], [86399, ' (23:59)'],
      [86400, '(1+00:00)'], [8640000 + 18000 + 420, '(100+05:07)'],
      [-10, ' (-00:00)'], [-60, ' (-00:01)'], [-1800, ' (-00:30)'], [-3600, ' (-1:00)'], [-3660, ' (-1:01)'],
      [-54000, ' (-15:00)'], [-86400, '(-1+00:00)'], [-90000, '(-1+01:00)'], [-864000, '(-10+00:00)'],
    ];
    for (const [secs, text] of table) assert.equal(durationText(secs), text, String(secs));
  });

  test('a shutdown with nothing after it ends at the epoch, as in last', () => {
    const out = last([{ type: 1, line: '~', user: 'shutdown', host: 'h', sec: 1702000005 }], { system: true });
    assert.equal(out.split('\n')[0], 'shutdown system down  h                Fri Dec  8 01:46 - 00:00 (-19699+01:46)');
  });

  test('-a cuts the end part to its column; -w keeps long names', () => {
    const r: Rec = { type: 7, line: 'pts/8', user: 'abcdefghijklmnopqrstuvwxyz012345', host: 'h'.repeat(54), sec: 1700001200 };
    const logout: Rec = { type: 8, line: 'pts/8', sec: 1701001200 };
    assert.equal(last([r, logout], {}).split('\n')[0], 'abcdefgh pts/8        hhhhhhhhhhhhhhhh Tue Nov 14 22:33 - 12:20 (11+13:46)');
    assert.equal(
      last([r, logout], {}, { fullNames: true }).split('\n')[0],
      `abcdefghijklmnopqrstuvwxyz012345 pts/8        ${'h'.repeat(54)} Tue Nov 14 22:33 - 12:20 (11+13:46)`,
    );
    assert.equal(
      last([r, logout], {}, { hostLast: true }).split('\n')[0],
      `abcdefgh pts/8        Tue Nov 14 22:33 - 12:20 (11+13:46)   ${'h'.repeat(54)}`,
    );
  });

  test('clock changes and run levels with -x', () => {
    const recs: Rec[] = [
      { type: 4, line: '|', user: 'date', sec: 1700000800 },
      { type: 3, line: '{', user: 'date', sec: 1700000900 },
      { type: 1, pid: 0, line: '~', user: 'runlevel', host: 'k', sec: 1701001300 },
      { type: 1, pid: 0x3436, line: '~', user: 'runlevel', host: 'k', sec: 1701001400 },
    ];
    const formats: TimeFormat[] = ['short', 'notime'];
    const [short, notime] = formats.map((f) => last(recs, { system: true }, { timeFormat: f }).split('\n'));
    assert.deepEqual(short.slice(0, 4), [
      'runlevel (to lvl 6)   k                Sun Nov 26 12:23   still running',
      'runlevel (to lvl      k                Sun Nov 26 12:21 - 12:23  (00:01)',
      'date     new time                      Tue Nov 14 22:28',
      'date     old time                      Tue Nov 14 22:26',
    ]);
    assert.deepEqual(notime.slice(2, 4), ['date     new time', 'date     old time']);
  });

  test('names last cannot print: escapes in the C locale, UTF-8 kept in a UTF-8 one', () => {
    // Controls are \xHH, \t \n \r included (util-linux: *X, and those three raw).
    assert.equal(escapeField('a\tb\x7fc\xffd', 'c'), 'a\\x09b\\x7fc\\377d');
    assert.equal(escapeField('\n\r\x0b\x0c\x1b\x1f', 'c'), '\\x0a\\x0d\\x0b\\x0c\\x1b\\x1f');
    assert.equal(escapeField('\n\x1b', undefined), '\\x0a\\x1b');
    assert.equal(escapeField('j\xc3\xb6rg', 'c'), 'j\\303\\266rg');
    assert.equal(escapeField('j\xc3\xb6rg', 'utf8'), 'j\xc3\xb6rg');
    assert.equal(escapeField('a\x80\x9f\xa0\xc2\x85', 'utf8'), 'a\\200\\237\\240\\302\\205');
    assert.equal(escapeField('\xc3( \xe2\x82', 'utf8'), '\\303( \\342\\202');
    // Cut and padded by bytes first, as util-linux last does (LC_ALL=C); its golden line
    // differs only in the controls: 'a\tb*?c\\377d  pts/*A ...'.
    const r: Rec = { type: 7, pid: 1, line: 'pts/\x01', user: 'a\tb\x7fc\xffd', host: 'h\\x\xc3\xa9', sec: 1700000000 };
    assert.equal(
      last([r], {}, { escape: 'c' }).split('\n')[0],
      'a\\x09b\\x7fc\\377d  pts/\\x01        h\\x\\303\\251            Tue Nov 14 22:13    gone - no logout',
    );
  });

  test('-d: the name the lookup gives, else the address; -i wins; a name is escaped too', () => {
    const recs: Rec[] = [
      { type: 7, pid: 1, line: 'pts/0', user: 'bob', host: 'h0', sec: 1700000000, addr: [192, 0, 2, 10] },
      { type: 7, pid: 1, line: 'pts/1', user: 'bob', host: 'h1', sec: 1700000001, addr: [...Array(10).fill(0), 0xff, 0xff, 198, 51, 100, 7] },
      { type: 7, pid: 1, line: 'pts/2', user: 'bob', host: 'h2', sec: 1700000002 },
    ];
    const names = new Map([['198.51.100.7', 'a.example'], ['0.0.0.0', 'zero\rroot']]);
    const dns = (a: string): string | undefined => names.get(a);
    const hosts = (o: Partial<LineOptions>): string[] => last(recs, {}, o).split('\n').slice(0, 3).map((l) => l.slice(22, 38).trimEnd());
    assert.deepEqual(hosts({ dns }), ['zero\\x0droot', 'a.example', '192.0.2.10']);
    assert.deepEqual(hosts({ dns, ip: true }), ['0.0.0.0', '198.51.100.7', '192.0.2.10']);
    assert.deepEqual(hosts({}), ['h2', 'h1', 'h0']);
  });

  test('JSON sessions', () => {
    const out: unknown[] = [];
    const p = new LastPairing({ isGone: () => true }, (s) => {
      out.push(sessionJson(s));
      return true;
    });
    const recs = SCENARIO.slice(0, 7).map(rec);
    for (let i = recs.length - 1; i >= 0; i--) p.push(recs[i], 0);
    assert.deepEqual(out[1], {
      kind: 'login',
      user: 'bob',
      line: 'pts/0',
      host: '192.0.2.10',
      address: '192.0.2.10',
      pid: 1001,
      login: { tvSec: 1700000200, time: '2023-11-14T22:16:40+00:00' },
      logout: { tvSec: 1700003900, time: '2023-11-14T23:18:20+00:00' },
      status: 'logged out',
      duration: 3700,
    });
  });
});

describe('the byte-level line and the tty table', () => {
  test('writeLastLine writes what lastLine writes, or declines', () => {
    // Seeded records: plain names, names with controls, bytes from 0x80 and backslashes,
    // long fields, every kind of session.
    let x = 7;
    const next = (n: number): number => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return Math.floor((x / 2147483648) * n);
    };
    const chars = 'abcdefghijklmnopqrstuvwxyz0123456789./:-_ ';
    const word = (max: number, odd: boolean): string =>
      Array.from({ length: next(max) }, () => (odd && next(8) === 0 ? String.fromCharCode(pick([1, 9, 0x1b, 0x5c, 0x7f, 0x9b, 0xc3, 0xe9])) : chars[next(chars.length)])).join('');
    const pick = <T>(a: readonly T[]): T => a[next(a.length)];
    const records: Rec[] = [];
    let sec = 1_700_000_000;
    for (let i = 0; i < 3000; i++) {
      sec += next(100_000);
      const odd = next(5) === 0;
      const r = pick<Rec>([
        { type: 7, pid: next(99999), line: `pts/${next(30)}`, user: word(40, odd), host: word(70, odd), sec },
        { type: 8, line: `pts/${next(30)}`, sec },
        { type: 7, pid: 1, line: word(40, odd) || 'x', user: 'u', sec },
        { type: 2, line: '~', user: 'reboot', host: word(30, odd), sec },
        { type: 1, line: '~', user: 'shutdown', host: 'k', sec },
        { type: 1, pid: pick([0x33, 0x35, 0x36, 0]), line: '~', user: 'runlevel', host: 'k', sec },
        { type: 3, line: '{', user: 'date', sec },
      ]);
      records.push(r);
    }
    const bufs = records.map(rec);
    const out = Buffer.alloc(MAX_FAST_LINE + 10);
    for (const timeFormat of ['short', 'full', 'iso', 'notime'] as TimeFormat[]) {
      for (const extra of [{}, { ip: true }, { fullNames: true }, { hostLast: true }, { noHost: true }] as Partial<LineOptions>[]) {
        const o: LineOptions = { timeFormat, escape: 'c', ...extra };
        let fast = 0;
        let slow = 0;
        const p = new LastPairing({ system: true, isGone: () => false }, (sess) => {
          const end = writeLastLine(sess, o, out, 3);
          const want = `${lastLine(sess, o)}\n`;
          if (end < 0) slow++;
          else {
            fast++;
            assert.equal(out.toString('latin1', 3, end), want, JSON.stringify({ timeFormat, extra }));
          }
          return true;
        });
        for (let i = bufs.length - 1; i >= 0; i--) p.push(bufs[i], 0);
        if (Object.keys(extra).length === 0) assert.ok(fast > 1000 && slow > 100, `${fast} fast, ${slow} declined`);
        else assert.equal(fast, 0);
      }
    }
  });

  test('LineEnds: lines by their bytes, through growth and clearing', () => {
    const t = new LineEnds(4);
    const key = (s: string): Buffer => Buffer.from(`..${s}`, 'latin1');
    const get = (s: string): number => t.get(key(s), 2, s.length);
    for (let i = 0; i < 5000; i++) t.set(key(`pts/${i}`), 2, `pts/${i}`.length, i);
    assert.equal(t.size, 5000);
    for (let i = 0; i < 5000; i += 7) assert.equal(get(`pts/${i}`), i);
    assert.equal(get('pts/5000'), Number.NEGATIVE_INFINITY);
    assert.equal(get('pts/1'.slice(0, 4)), Number.NEGATIVE_INFINITY, 'a prefix is another line');
    t.set(key('pts/3'), 2, 5, -1);
    assert.equal(get('pts/3'), -1);
    assert.equal(t.size, 5000);
    t.clear();
    assert.equal(t.size, 0);
    assert.equal(get('pts/3'), Number.NEGATIVE_INFINITY);
    const full = 'x'.repeat(32);
    t.set(key(full), 2, 32, 9);
    assert.equal(get(full), 9);
  });
});
