// utmps lastb against util-linux lastb (last in its lastb mode), line by line, on seeded
// btmp histories in the glibc layout: failed logins as login programs write them
// (LOGIN_PROCESS from sshd and login, USER_PROCESS from some PAM stacks), with odd records
// mixed in. Then the same history read through a wtmpd-protocol socket (utmps-wtmpd under
// s6-ipcserver, serving a file named btmp: the btmp service speaks the same protocol),
// and --summary against counts computed here. TZ=UTC LC_ALL=C.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { appendWtmp } from '../../src/client/index.js';
import { buildRecord, type EntryInput, GLIBC_LAYOUT } from '../../src/record/index.js';
import { BIN } from '../helpers/paths.js';
import { type Daemons, startUcspi } from '../helpers/daemons.js';
import { FakeServer } from '../helpers/fake-server.js';
import { READER_ENV as ENV, type Run, run, utmps, sameAsSystem } from '../helpers/readers.js';
import { seeded } from '../helpers/seeded.js';


const same = (args: string[]): Promise<string> => sameAsSystem('lastb', 'lastb', args);

const BASE = 1700000000;

/** Seeded failed-login histories: mostly sshd/login records, some of every other kind. */
function histories(seed: number, files: number): EntryInput[][] {
  const { random, pick } = seeded(seed);
  const users = ['root', 'admin', 'oracle', 'test', 'ubuntu', 'alice', 'p@ssw0rd!', 'averyveryverylongusernamefortyby', '', 'LOGIN', 'x'];
  const hosts: Array<[string, string]> = [
    ['203.0.113.5', '203.0.113.5'],
    ['198.51.100.23', '198.51.100.23'],
    ['2001:db8::bad', '2001:db8::bad'],
    ['scanner.example.net', '192.0.2.77'],
    ['', ''],
    ['averyveryverylonghostname.attackers.example.com', '192.0.2.1'],
  ];
  const out: EntryInput[][] = [];
  for (let f = 0; f < files; f++) {
    const recs: EntryInput[] = [];
    let t = BASE + Math.floor(random() * 100000);
    const n = 5 + Math.floor(random() * 80);
    for (let i = 0; i < n; i++) {
      t += pick([0, 1, 2, 30, 61, 3600, 86400, 400000, -5, -3000]);
      const k = random();
      const [host, address] = pick(hosts);
      let r: EntryInput;
      if (k < 0.55) r = { type: 'LOGIN_PROCESS', line: 'ssh:notty', user: pick(users), host, address };
      else if (k < 0.7) r = { type: 'LOGIN_PROCESS', line: pick(['tty1', 'tty2', 'ttyS0']), user: pick(users) };
      else if (k < 0.85) r = { type: 'USER_PROCESS', line: pick(['pts/0', 'pts/7', 'ssh:notty', 'pts/0123456789abcdef']), user: pick(users), host, address };
      else r = { type: pick([0, 1, 2, 3, 4, 5, 8, 9]), line: pick(['~', '|', '{', 'tty1', '']), user: pick(['reboot', 'shutdown', 'date', 'runlevel', '', 'x']), host };
      recs.push({ pid: 2000 + i, id: pick(['', 'x', 'ssh']), ...r, tvSec: t });
    }
    out.push(recs);
  }
  return out;
}

const OPTION_SETS: string[][] = [
  [],
  ['-x'],
  ['-F'],
  ['-w'],
  ['-a'],
  ['-i'],
  ['-R'],
  ['-F', '-a', '-i'],
  ['--time-format', 'iso'],
  ['--time-format', 'notime', '-w'],
  ['-n', '7'],
  ['-3'],
  ['root', 'tty1'],
  ['-s', '2023-11-16', '-t', '2023-11-20 12:00'],
  ['-p', '2023-11-16 10:00'],
  ['-d', '-i', '-a'], // -d's lookups are covered by readers-last (/etc/hosts); here -i wins
];

let dir: string;

before(async () => {
  dir = await mkdtemp('/tmp/lb-');
});
after(() => rm(dir, { recursive: true, force: true }));

describe('utmps lastb matches util-linux lastb on generated btmp histories', () => {
  test('10 btmp histories x 16 option sets (each set one run over all files, as -f repeats)', async () => {
    const files: string[] = [];
    for (const [i, recs] of histories(20231114, 10).entries()) {
      const path = join(dir, `btmp-${i}`);
      await writeFile(path, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
      files.push(path);
    }
    const all = files.flatMap((f) => ['-f', f]);
    for (const opts of OPTION_SETS) await same([...opts, ...all]);
  });

  test('every failed login prints as lastb prints it: "- HH:MM  (00:00)", "~" lines kept, "btmp begins"', async () => {
    const path = join(dir, 'btmp');
    const recs: EntryInput[] = [
      { type: 'LOGIN_PROCESS', pid: 5, line: 'ssh:notty', user: 'root', host: '203.0.113.5', address: '203.0.113.5', tvSec: BASE },
      { type: 'BOOT_TIME', pid: 0, line: '~', user: 'reboot', tvSec: BASE + 60 },
      { type: 'USER_PROCESS', pid: 6, line: 'pts/1', user: 'bob', tvSec: BASE + 120 },
    ];
    await writeFile(path, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
    const out = await same(['-f', path]);
    assert.equal(
      out,
      [
        'bob      pts/1                         Tue Nov 14 22:15 - 22:15  (00:00)',
        'reboot   ~                             Tue Nov 14 22:14 - 22:14  (00:00)',
        'root     ssh:notty    203.0.113.5      Tue Nov 14 22:13 - 22:13  (00:00)',
        '',
        'btmp begins Tue Nov 14 22:13:20 2023',
        '',
      ].join('\n'),
    );
    // Several files, and -n across them, as last counts.
    await same(['-f', path, '-f', join(dir, 'btmp-0')]);
    await same(['-n', '4', '-f', path, '-f', join(dir, 'btmp-0')]);
  });
});

describe('utmps lastb through a socket, and --summary', () => {
  let d: Daemons;
  let recs: EntryInput[];
  let socket: string;
  let file: string;

  before(async () => {
    d = await startUcspi({ format: 'glibc' });
    // The wtmpd speaks the btmp service's protocol; its file here is the btmp history.
    recs = histories(7, 1)[0];
    // Most of the history as a file the daemon then serves; the last two appended through it.
    await writeFile(d.wtmpFile, Buffer.concat(recs.slice(0, -2).map((r) => buildRecord(r, GLIBC_LAYOUT))));
    for (const r of recs.slice(-2)) await appendWtmp(buildRecord(r), { path: d.wtmpSocket });
    socket = d.wtmpSocket;
    file = d.wtmpFile;
  });
  after(() => d?.stop());

  test('the socket gives the lines util-linux lastb gives for the file (-W and $UTMPS_BTMPD_SOCKET)', async () => {
    const theirs = await run('lastb', ['-f', file]);
    // Named "btmp" by the socket, "wtmp" by util-linux (the file's name): the rest is equal.
    const ours = await utmps('lastb', '-W', socket);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout.replace(/^btmp begins/m, 'wtmp begins'), theirs.stdout);
    const env = await run(process.execPath, [join(BIN, 'utmps'), 'lastb', '-F', '-n', '5'], { ...ENV, UTMPS_BTMPD_SOCKET: socket });
    assert.equal(env.stdout.replace(/^btmp begins/m, 'wtmp begins'), (await run('lastb', ['-F', '-n', '5', '-f', file])).stdout);
  });

  test('--summary --json: counts per user and per host computed here, within -s/-t', async () => {
    const since = BASE + 86400 * 2;
    const until = BASE + 86400 * 6;
    const inWindow = recs.filter((r) => Number(r.tvSec) >= since && Number(r.tvSec) <= until);
    assert.ok(inWindow.length >= 5 && inWindow.length < recs.length, `window holds ${inWindow.length} of ${recs.length}`);
    const users = new Map<string, number>();
    const hosts = new Map<string, number>();
    for (const r of inWindow) {
      users.set(r.user ?? '', (users.get(r.user ?? '') ?? 0) + 1);
      const host = r.host || r.address || '';
      hosts.set(host, (hosts.get(host) ?? 0) + 1);
    }
    const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', '+00:00');
    for (const args of [['-W', socket], ['-f', file]]) {
      const r = await utmps('lastb', '--summary', '--json', '-s', iso(since).slice(0, 19), '-t', iso(until).slice(0, 19), ...args);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { total: number; since: string; until: string; users: Array<{ user: string; count: number }>; hosts: Array<{ host: string; count: number }> };
      assert.equal(doc.total, inWindow.length);
      assert.equal(doc.since, iso(since));
      assert.equal(doc.until, iso(until));
      assert.deepEqual(new Map(doc.users.map((u) => [u.user, u.count])), users);
      assert.deepEqual(new Map(doc.hosts.map((h) => [h.host, h.count])), hosts);
      // Most attempts first.
      for (let i = 1; i < doc.users.length; i++) assert.ok(doc.users[i - 1].count >= doc.users[i].count);
      // The total is what lastb lists for the same window.
      const listed = await utmps('lastb', '-s', iso(since).slice(0, 19), '-t', iso(until).slice(0, 19), ...args);
      assert.equal(listed.stdout.trim().split('\n').length - 2, inWindow.length);
    }
  });

  test('--summary text: heading, a users table, a hosts table; names escaped', async () => {
    const path = join(dir, 'btmp-summary');
    const rs: EntryInput[] = [
      { type: 'LOGIN_PROCESS', pid: 1, line: 'ssh:notty', user: 'root', host: '203.0.113.5', tvSec: BASE },
      { type: 'LOGIN_PROCESS', pid: 2, line: 'ssh:notty', user: 'root', host: '203.0.113.5', tvSec: BASE + 10 },
      { type: 'LOGIN_PROCESS', pid: 3, line: 'ssh:notty', user: 'evil\x1b[2J', host: '198.51.100.9', tvSec: BASE + 20 },
      { type: 'LOGIN_PROCESS', pid: 4, line: 'tty1', user: 'admin', tvSec: BASE + 30 },
    ];
    await writeFile(path, Buffer.concat(rs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
    const r = await utmps('lastb', '--summary', '-f', path);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        '4 failed logins from 2023-11-14T22:13:20+00:00 to 2023-11-14T22:13:50+00:00',
        '',
        '  COUNT LAST                      USER',
        '      2 2023-11-14T22:13:30+00:00 root',
        '      1 2023-11-14T22:13:50+00:00 admin',
        '      1 2023-11-14T22:13:40+00:00 evil\\x1b[2J',
        '',
        '  COUNT USERS LAST                      HOST',
        '      2     1 2023-11-14T22:13:30+00:00 203.0.113.5',
        '      1     1 2023-11-14T22:13:50+00:00 (none)',
        '      1     1 2023-11-14T22:13:40+00:00 198.51.100.9',
        '',
      ].join('\n'),
    );
  });

  test('errors: no socket is a system failure (111); --follow is last\'s only', async () => {
    const r = await utmps('lastb', '-W', join(dir, 'no-such-socket'));
    assert.equal(r.code, 111);
    assert.match(r.stderr, /^utmps: fatal: unable to read .*no-such-socket: /);
    assert.equal((await utmps('lastb', '--follow')).code, 100);
    const help = await utmps('lastb', '--help');
    assert.equal(help.code, 0);
    // Every option util-linux lastb documents is ours too.
    const theirs = (await run('lastb', ['--help'])).stdout;
    for (const m of theirs.matchAll(/^ +(?:(-\w), )?(--[\w-]+)/gm)) {
      if (m[2] === '--time-format' || m[2] === '--help' || m[2] === '--version') continue;
      assert.ok(help.stdout.includes(m[2]), `${m[2]} missing from utmps lastb --help`);
    }
  });

  test('a refused read (EPERM, the btmp service\'s answer to anyone but root): nothing printed, 111; timeline goes on without btmp', async () => {
    // The service answers the read request with the status byte alone and closes.
    const fake = await FakeServer.start((r) => (r.command === 'R' ? { bytes: Buffer.of(1), close: true } : 'close'));
    try {
      for (const extra of [[], ['--summary'], ['--json']]) {
        const r = await utmps('lastb', '-W', fake.path, ...extra);
        assert.equal(r.code, 111, r.stderr);
        // --json has begun its document when the read fails: no record in it.
        if (extra[0] === '--json') assert.doesNotMatch(r.stdout, /"user"/);
        else assert.equal(r.stdout, '');
        assert.equal(r.stderr, `utmps: fatal: unable to read ${fake.path}: Operation not permitted\n`);
      }
      const svg = await utmps('timeline', '--svg', '-', '-f', file, '--btmp-socket', fake.path);
      assert.equal(svg.code, 0, svg.stderr);
      assert.equal(svg.stderr, `utmps: warning: no failed logins in the picture: unable to read ${fake.path}: Operation not permitted\n`);
      assert.doesNotMatch(svg.stdout, /class="failed"|failed logins</);
    } finally {
      await fake.close();
    }
  });
});
