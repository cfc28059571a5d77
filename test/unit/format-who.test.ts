// who's columns against output of coreutils who 9.1 (TZ=UTC LC_ALL=C) on the same records;
// terminals are answered by a fake probe instead of stat(2).

process.env.TZ = 'UTC';

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { resetZoneCache } from '../../src/format/time.js';
import { countedUser, idleText, type TtyProbe, whoCount, whoHeading, whoJson, whoKind, type WhoOptions, whoText } from '../../src/format/who.js';
import { cat, le, padded } from '../helpers/bytes.js';

resetZoneCache();

interface Rec {
  type: number;
  pid?: number;
  line?: string;
  id?: string;
  user?: string;
  host?: string;
  term?: number;
  exit?: number;
  sec: number;
  addr?: number[];
}

function rec(r: Rec): Buffer {
  const addr = Buffer.alloc(16);
  Buffer.from(r.addr ?? []).copy(addr);
  return cat(
    le(r.type, 2), le(0, 2), le(r.pid ?? 0, 4),
    padded(r.line ?? '', 32), padded(r.id ?? '', 4), padded(r.user ?? '', 32), padded(r.host ?? '', 256),
    le(r.term ?? 0, 2), le(r.exit ?? 0, 2), le(0, 4), le(0, 4),
    le(r.sec, 8), le(0, 8), addr, Buffer.alloc(20), Buffer.alloc(4),
  );
}

const NOW = 1700100000;

// /dev/tty1: not group-writable, used 40 minutes ago; /dev/null: writable, 40 minutes.
const probe: TtyProbe = (line) => {
  if (line === 'tty1') return { mode: 0o20600, atime: NOW - 2400 };
  if (line === 'null') return { mode: 0o20666, atime: NOW - 2400 };
  return null;
};

const UTMP: Rec[] = [
  { type: 2, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', sec: 1700000000 },
  { type: 1, pid: 13107, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-test', sec: 1700000005 },
  { type: 5, pid: 600, line: 'tty3', id: '3', sec: 1700000006 },
  { type: 6, pid: 700, line: 'tty2', id: '2', user: 'LOGIN', sec: 1700000010 },
  { type: 7, pid: 1, line: 'tty1', id: '1', user: 'alice', sec: 1700000100 },
  { type: 7, pid: 99999, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', addr: [192, 0, 2, 10], sec: 1700000200 },
  { type: 7, pid: 8707, line: 'pts/1', id: 'ts/1', user: 'carol', host: 'client.example.net:0.0', sec: 1700000300 },
  { type: 8, pid: 1003, line: 'pts/2', id: 'ts/2', exit: 3, sec: 1700003900 },
  { type: 7, pid: 8707, line: 'null', id: 'nu', user: 'abcdefghijklmnopqrstuvwxyz012345', host: 'h'.repeat(54), sec: 1700000400 },
  { type: 3, line: '{', user: 'date', sec: 1700000900 },
  { type: 9, pid: 77, line: 'acct', id: 'acct', user: 'acct', sec: 1700001000 },
  { type: 7, pid: 5, line: 'pts/9', user: '', host: 'x', sec: 1700000100 },
];

function who(o: WhoOptions & { heading?: boolean }): string {
  return whoText(UTMP.map((r) => ({ buf: rec(r), at: 0 })), o, probe, NOW);
}

const ALL: WhoOptions = {
  users: true, boot: true, dead: true, login: true, init: true, runlevel: true, clock: true,
  mesg: true, idle: true, pid: true, exit: true,
};

describe('who listings (golden output of coreutils who)', () => {
  test('default: user sessions with a user name', () => {
    assert.equal(
      who({ users: true }),
      'alice    tty1         Nov 14 22:15\n' +
        'bob      pts/0        Nov 14 22:16 (192.0.2.10)\n' +
        'carol    pts/1        Nov 14 22:18 (client.example.net:0.0)\n' +
        `abcdefghijklmnopqrstuvwxyz012345 null         Nov 14 22:20 (${'h'.repeat(54)})\n`,
    );
  });

  test('-a', () => {
    assert.equal(
      who({ ...ALL, heading: true }),
      'NAME       LINE         TIME         IDLE          PID COMMENT  EXIT\n' +
        '           system boot  Nov 14 22:13\n' +
        '           run-level 3  Nov 14 22:13                   last=3\n' +
        '           tty3         Nov 14 22:13               600 id=3\n' +
        'LOGIN      tty2         Nov 14 22:13               700 id=2\n' +
        'alice    - tty1         Nov 14 22:15 00:40           1\n' +
        'bob      ? pts/0        Nov 14 22:16   ?         99999 (192.0.2.10)\n' +
        'carol    ? pts/1        Nov 14 22:18   ?          8707 (client.example.net:0.0)\n' +
        '           pts/2        Nov 14 23:18              1003 id=ts/2  term=0 exit=3\n' +
        `abcdefghijklmnopqrstuvwxyz012345 + null         Nov 14 22:20 00:40        8707 (${'h'.repeat(54)})\n` +
        '           clock change Nov 14 22:28\n',
    );
  });

  test('-b, -r, -d, -p, -l, -t alone (with the PID column, and IDLE where who has it)', () => {
    assert.equal(who({ boot: true, pid: true }), '         system boot  Nov 14 22:13\n');
    assert.equal(who({ runlevel: true, pid: true, idle: true }), '         run-level 3  Nov 14 22:13                   last=3\n');
    assert.equal(who({ dead: true, pid: true, idle: true, exit: true }), '         pts/2        Nov 14 23:18              1003 id=ts/2  term=0 exit=3\n');
    assert.equal(who({ init: true, pid: true }), '         tty3         Nov 14 22:13        600 id=3\n');
    assert.equal(who({ login: true, pid: true, idle: true }), 'LOGIN    tty2         Nov 14 22:13               700 id=2\n');
    assert.equal(who({ clock: true, pid: true }), '         clock change Nov 14 22:28\n');
  });

  test('fields from the record never print controls raw (coreutils prints them as they are)', () => {
    const spoof: Rec[] = [
      { type: 7, pid: 1, line: 'pts/7', id: '\x1b', user: 'nobody', host: '\rroot     pts/0 ', sec: 1700000100 },
      { type: 7, pid: 1, line: 'pts/8\nroot', user: '\x1b]0;x\x07\x1b[2J', host: 'a\tb', sec: 1700000100 },
      { type: 8, pid: 2, line: 'pts/9', id: '\n', sec: 1700000100 },
      { type: 1, pid: 10 + 256 * 0x4e, line: '~', sec: 1700000100 },
    ];
    const text = whoText(spoof.map((r) => ({ buf: rec(r), at: 0 })), { ...ALL }, probe, NOW);
    assert.equal(
      text,
      'nobody   ? pts/7        Nov 14 22:15   ?             1 (\\x0droot     pts/0 )\n' +
        '\\x1b]0;x\\x07\\x1b[2J ? pts/8\\x0aroot Nov 14 22:15   ?             1 (a\\x09b)\n' +
        '           pts/9        Nov 14 22:15                 2 id=\\x0a  term=0 exit=0\n' +
        '           run-level \\x0a Nov 14 22:15                   last=S\n',
    );
    assert.equal(whoCount(['\rroot', 'bob']), '\\x0droot bob\n# users=2\n');
  });

  test('headings follow the columns', () => {
    assert.equal(whoHeading({}), 'NAME     LINE         TIME         COMMENT');
    assert.equal(whoHeading({ pid: true }), 'NAME     LINE         TIME                PID COMMENT');
    assert.equal(whoHeading({ pid: true, idle: true }), 'NAME     LINE         TIME         IDLE          PID COMMENT');
    assert.equal(whoHeading({ mesg: true }), 'NAME       LINE         TIME         COMMENT');
    assert.equal(whoHeading({ isoTime: true }), 'NAME     LINE         TIME             COMMENT');
  });

  test('-q', () => {
    const names = UTMP.map((r) => countedUser(rec(r), 0)).filter((n) => n !== null);
    assert.equal(whoCount(names), 'alice bob carol abcdefghijklmnopqrstuvwxyz012345\n# users=4\n');
    assert.equal(whoCount([]), '\n# users=0\n');
  });

  test('ISO times outside the C locale', () => {
    assert.equal(who({ users: true, isoTime: true }).split('\n')[0], 'alice    tty1         2023-11-14 22:15');
  });
});

describe('who details', () => {
  test('run levels: "N" reads as "S", unprintable previous levels are left out', () => {
    const line = (pid: number): string => who2({ type: 1, pid, line: '~', sec: 1700000005 });
    assert.equal(line(0x35 + 256 * 0x4e), '         run-level 5  Nov 14 22:13                   last=S');
    assert.equal(line(0x33), '         run-level 3  Nov 14 22:13');
    assert.equal(line(0x33 + 256 * 32), '         run-level 3  Nov 14 22:13                   last=');
    assert.equal(line(0x33 + 256 * (126 + 256)), '         run-level 3  Nov 14 22:13                   last=~');
    assert.equal(line(0), '         run-level    Nov 14 22:13');
    assert.equal(line(-1), '         run-level \xff  Nov 14 22:13');
  });

  test('idle time', () => {
    assert.equal(idleText(0), '  .  ');
    assert.equal(idleText(59), '  .  ');
    assert.equal(idleText(3700), '01:01');
    assert.equal(idleText(86399), '23:59');
    assert.equal(idleText(86400), ' old ');
    assert.equal(idleText(-1), ' old ');
  });

  test('which records each option lists', () => {
    const kinds = UTMP.map((r) => whoKind(rec(r), 0, ALL));
    assert.deepEqual(kinds, ['boot', 'runlevel', 'init', 'login', 'user', 'user', 'user', 'dead', 'user', 'clock', null, null]);
  });

  test('JSON entries', () => {
    const j = whoJson('user', rec(UTMP[5]), 0);
    assert.deepEqual(j, {
      kind: 'user', type: 7, user: 'bob', line: 'pts/0', id: 'ts/0', host: '192.0.2.10', address: '192.0.2.10',
      pid: 99999, session: 0, exit: { termination: 0, status: 0 }, tvSec: 1700000200, tvUsec: 0, time: '2023-11-14T22:16:40+00:00',
    });
  });
});

function who2(r: Rec): string {
  return whoText([{ buf: rec(r), at: 0 }], { runlevel: true, pid: true, idle: true }, probe, NOW).slice(0, -1);
}
