// utmps last against util-linux last, line by line, on glibc-layout wtmp files: one
// written by our daemon (utmps-wtmpd -F glibc under s6-ipcserver) through the client and
// utmps-write, and seeded random histories written with our WtmpFile store (the code the
// daemon runs). Both tools run with TZ=UTC LC_ALL=C. Differences: docs/READERS.md.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { appendWtmp } from '../../src/client/index.js';
import { buildRecord, type EntryInput, GLIBC_LAYOUT } from '../../src/record/index.js';
import { WtmpFile } from '../../src/store/wtmp-file.js';
import { type Daemons, startUcspi } from '../helpers/daemons.js';
import { BIN } from '../helpers/paths.js';
import { READER_ENV as ENV, type Run, run, utmps, sameAsSystem } from '../helpers/readers.js';
import { seeded } from '../helpers/seeded.js';


const same = (args: string[]): Promise<string> => sameAsSystem('last', 'last', args);

function tai(seconds: number): string {
  return `@${(0x4000000000000000n + BigInt(seconds)).toString(16).padStart(16, '0')}00000000`;
}

// Boots, a run level, logins and logouts over several ttys, a shutdown, a crash, and
// sessions open at the end.
const HISTORY: EntryInput[] = [
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', tvSec: 1700000000 },
  { type: 'RUN_LVL', pid: 0x33 + 256 * 0x4e, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-test', tvSec: 1700000005 },
  { type: 'LOGIN_PROCESS', pid: 700, line: 'tty1', id: '1', user: 'LOGIN', tvSec: 1700000010 },
  { type: 'USER_PROCESS', pid: 700, line: 'tty1', id: '1', user: 'alice', tvSec: 1700000100 },
  { type: 'USER_PROCESS', pid: 1001, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', address: '192.0.2.10', tvSec: 1700000200 },
  { type: 'USER_PROCESS', pid: 1002, line: 'pts/1', id: 'ts/1', user: 'carol', host: 'client.example.net', address: '2001:db8::1', tvSec: 1700000300 },
  { type: 'DEAD_PROCESS', pid: 1001, line: 'pts/0', id: 'ts/0', tvSec: 1700003900 },
  { type: 'USER_PROCESS', pid: 1003, line: 'pts/0', id: 'ts/0', user: 'bob', host: '192.0.2.10', address: '192.0.2.10', tvSec: 1700090000 },
  { type: 'USER_PROCESS', pid: 1004, line: 'pts/2', id: 'ts/2', user: 'abcdefghijklmnopqrstuvwxyz012345', host: 'h'.repeat(40), address: '::ffff:198.51.100.7', tvSec: 1700091000 },
  { type: 'DEAD_PROCESS', pid: 1004, line: 'pts/2', id: 'ts/2', tvSec: 1700095000 },
  { type: 'OLD_TIME', pid: 0, line: '|', user: 'date', tvSec: 1700095100 },
  { type: 'NEW_TIME', pid: 0, line: '{', user: 'date', tvSec: 1700095200 },
  { type: 'RUN_LVL', pid: 0, line: '~', id: '~~', user: 'shutdown', host: '6.1.0-test', tvSec: 1700100000 },
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', tvSec: 1700100100 },
  { type: 'USER_PROCESS', pid: 1, line: 'pts/2', id: 'ts/2', user: 'dave', host: 'h.example', tvSec: 1700100200 },
  { type: 'USER_PROCESS', pid: 99999, line: 'pts/3', id: 'ts/3', user: 'erin', tvSec: 1700100300 },
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', tvSec: 1700200000 },
  { type: 'RUN_LVL', pid: 0x35 + 256 * 0x33, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-test', tvSec: 1700200005 },
  { type: 'USER_PROCESS', pid: 1, line: 'pts/4', id: 'ts/4', user: 'frank', tvSec: 1700200300 },
];

let d: Daemons;
let wtmp: string;

before(async () => {
  d = await startUcspi({ format: 'glibc' });
  wtmp = d.wtmpFile;
  // All but the last two through the client; those two through utmps-write -w.
  for (const r of HISTORY.slice(0, -2)) await appendWtmp(buildRecord(r), { path: d.wtmpSocket });
  const w1 = await run(process.execPath, [join(BIN, 'utmps-write'), '-w', '-W', d.wtmpSocket, '-T', tai(1700200005), '-p', String(0x35 + 256 * 0x33), '-l', 'runlevel', '-h', '6.1.0-test', '~~', 'RUN_LVL', '~']);
  assert.equal(w1.code, 0, w1.stderr);
  const w2 = await run(process.execPath, [join(BIN, 'utmps-write'), '-w', '-W', d.wtmpSocket, '-T', tai(1700200300), '-p', '1', '-l', 'frank', 'ts/4', 'USER_PROCESS', 'pts/4']);
  assert.equal(w2.code, 0, w2.stderr);
});

after(() => d?.stop());

describe('utmps last matches util-linux last on a wtmp our daemon wrote', () => {
  const cases: string[][] = [
    [],
    ['-n', '3'],
    ['-5'],
    ['bob'],
    ['pts/0'],
    ['1'], // "tty1", as last tries "tty" + the name
    ['alice', 'pts/2', 'reboot'],
    ['-x'],
    ['-F'],
    ['-x', '-F'],
    ['-i'],
    ['-x', '-i'],
    ['-w'],
    ['-x', '-w', '-a'],
    ['-R'],
    ['--time-format', 'iso'],
    ['--time-format', 'notime'],
    ['--time-format', 'full'],
    ['-x', '--time-format', 'notime'],
    ['-x', '--time-format', 'iso', '-a'],
    ['-s', '2023-11-15'],
    ['-t', '2023-11-16 00:00'],
    ['-s', '2023-11-15 12:00:00', '-t', '20231116020100'],
    ['-p', '2023-11-15'],
    ['-x', '-p', '2023-11-16T02:01:00'],
    ['-p', 'now'],
    ['-x', '-n', '4', 'reboot', 'shutdown', 'runlevel'],
    ['-d'],
    ['-x', '-d', '-a'],
    ['-d', '-w', '-F'],
    ['-d', '-i'],
    ['-d', '-R'],
  ];
  for (const args of cases) {
    test(`last ${args.join(' ') || '(default)'}`, async () => {
      await same([...args, '-f', wtmp]);
    });
  }

  test('util-linux last reads the daemon file and shows our records', async () => {
    const out = (await run('last', ['-x', '-f', wtmp])).stdout;
    for (const text of ['frank    pts/4', 'reboot   system boot  6.1.0-test', 'runlevel (to lvl 5)', 'shutdown system down', 'bob      pts/0        192.0.2.10       Tue Nov 14 22:16 - 23:18  (01:01)', 'date     new time', 'wtmp begins Tue Nov 14 22:13:20 2023']) {
      assert.ok(out.includes(text), `${text} missing from:\n${out}`);
    }
  });

  test('several -f files, with -n counting across them', async () => {
    await same(['-f', wtmp, '-f', wtmp]);
    await same(['-n', '2', '-f', wtmp, '-f', wtmp]);
  });
});

// ---- seeded random histories, many record kinds and edge cases ----

function histories(seed: number, files: number): EntryInput[][] {
  const { random, pick } = seeded(seed);
  const out: EntryInput[][] = [];
  for (let f = 0; f < files; f++) {
    const recs: EntryInput[] = [];
    let t = 1700000000;
    const n = 5 + Math.floor(random() * 60);
    for (let i = 0; i < n; i++) {
      t += pick([0, 1, 59, 60, 3600, 86400, 100000, -30, -4000]);
      const k = random();
      let r: EntryInput;
      if (k < 0.1) r = { type: 2, line: '~', user: pick(['reboot', '', 'rebootx', 'x']), host: '6.1' };
      else if (k < 0.2) r = { type: 1, line: pick(['~', '~~', 'pts/1']), user: pick(['runlevel', 'shutdown', 'x', '']), pid: pick([0, 0x30, 0x36, 0x33, 0x35 + 256 * 0x4e, 0x4e, 0x3336]) };
      else if (k < 0.25) r = { type: pick([3, 4]), line: pick(['|', '{', '~', 'tty1']), user: pick(['date', 'dat', 'x']) };
      else if (k < 0.6) {
        r = {
          type: 7,
          line: pick(['pts/0', 'pts/1', 'tty1', 'tty2', '', 'pts/0123456789abcdef']),
          user: pick(['alice', 'bob', 'LOGIN', '', 'averyveryverylongusername', 'root']),
          host: pick(['', 'h.example', '10.0.0.1', 'averyveryverylonghostname.example.com']),
          address: pick(['', '10.0.0.1', '2001:db8::1', '::ffff:1.2.3.4']),
        };
      } else if (k < 0.85) r = { type: 8, line: pick(['pts/0', 'pts/1', 'tty1', 'tty2', '']), user: pick(['', '', 'alice']) };
      else r = { type: pick([0, 5, 6, 9]), line: pick(['pts/0', 'tty1', '~', '']), user: pick(['LOGIN', 'alice', '', 'x']) };
      recs.push({ pid: 1000 + i, id: 'x', ...r, tvSec: t });
    }
    out.push(recs);
  }
  return out;
}

describe('utmps last matches util-linux last on random histories (WtmpFile, glibc layout)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp('/tmp/ul-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const OPTION_SETS: string[][] = [
    [],
    ['-x'],
    ['-x', '-F', '-a', '-i'],
    ['-x', '--time-format', 'notime', '-w'],
    ['-x', '-p', '2023-11-15 10:00'],
    ['alice', 'tty1', '-x', '-n', '5'],
    ['-x', '-s', '2023-11-15', '-t', '2023-11-20'],
  ];
  histories(20231114, 12).forEach((recs, i) => {
    test(`history ${i} (${recs.length} records)`, async () => {
      const path = join(dir, `wtmp-${i}`);
      const file = await WtmpFile.open(path, { layout: GLIBC_LAYOUT });
      try {
        for (const r of recs) await file.append(buildRecord(r));
      } finally {
        await file.close();
      }
      for (const opts of OPTION_SETS) await same([...opts, '-f', path]);
    });
  });
});

describe('utmps last reads every kind of record as util-linux does', () => {
  test('350 cases: each type x line x user between a login and a later one, one file each', async () => {
    const dir = await mkdtemp('/tmp/ul-');
    try {
      const files: string[] = [];
      for (const type of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) {
        for (const line of ['~', 'pts/1', '', '|', '{']) {
          for (const user of ['', 'x', 'LOGIN', 'reboot', 'shutdown', 'runlevel', 'date']) {
            // The probe login before shows whether the record ends it (a logout, a login,
            // a boot); the login after, whether it counts as a later boot or shutdown.
            const recs: EntryInput[] = [
              { type: 'USER_PROCESS', pid: 1, line: line === '' ? 'pts/1' : line, user: 'probe', tvSec: 1700000000 },
              { type, pid: 0x33, line, user, tvSec: 1700003600 },
              { type: 'USER_PROCESS', pid: 1, line: 'pts/9', user: 'after', tvSec: 1700007200 },
            ];
            const path = join(dir, String(files.length));
            await writeFile(path, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
            files.push(path);
          }
        }
      }
      await same(['-x', ...files.flatMap((f) => ['-f', f])]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('utmps last details', () => {
  test('-d: names from getnameinfo (here /etc/hosts), else the address, as util-linux prints them', async () => {
    const dir = await mkdtemp('/tmp/ul-');
    try {
      const file = join(dir, 'wtmp');
      // 127.0.0.1 is "localhost" in /etc/hosts (mapped or not); TEST-NET and documentation
      // addresses have no name here, nor has 0.0.0.0 or ::1 (not in this /etc/hosts).
      const addresses = ['127.0.0.1', '::ffff:127.0.0.1', '192.0.2.10', '2001:db8::1', '::1', '0.0.0.0', '198.51.100.7', '127.0.0.1'];
      const recs: EntryInput[] = [
        { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', tvSec: 1700000000 },
        ...addresses.map((address, i): EntryInput => ({ type: 'USER_PROCESS', pid: 100 + i, line: `pts/${i}`, id: `t${i}`, user: 'bob', host: `h${i}.example`, address, tvSec: 1700000100 + i })),
        { type: 'DEAD_PROCESS', pid: 101, line: 'pts/1', id: 't1', tvSec: 1700003000 },
      ];
      await writeFile(file, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
      const out = await same(['-d', '-f', file]);
      assert.match(out, /^bob {6}pts\/0 {8}localhost /m);
      assert.match(out, /^bob {6}pts\/1 {8}localhost /m);
      assert.match(out, /^bob {6}pts\/2 {8}192\.0\.2\.10 /m);
      for (const opts of [['-a'], ['-w'], ['-x', '-F'], ['-n', '3'], ['-i'], ['-R'], ['--time-format', 'iso', '-a']]) await same(['-d', ...opts, '-f', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('-V names the program and its version; every option of util-linux last 2.38 is known', async () => {
    const v = await utmps('last', '-V');
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^utmps last from utmps-ts \d+\.\d+\.\d+\n$/);
    assert.equal((await utmps('last', '--version')).stdout, v.stdout);
    // Their --help lists their options; ours must accept each one.
    const theirs = (await run('last', ['--help'])).stdout;
    const options = [...theirs.matchAll(/^ +(?:(-\w), )?(--[\w-]+)/gm)].map((m) => [m[1], m[2]]);
    assert.ok(options.length >= 15, theirs);
    const ours = (await utmps('last', '--help')).stdout;
    for (const [short, long] of options) {
      assert.ok(ours.includes(long), `${long} missing from utmps last --help`);
      if (short) assert.ok(ours.includes(`${short}, ${long}`), `${short}, ${long} missing from utmps last --help`);
    }
  });

  test('a utmps-layout file lists the same (detected, or with --format)', async () => {
    const dir = await mkdtemp('/tmp/ul-');
    try {
      const file = join(dir, 'wtmp');
      await writeFile(file, Buffer.concat(HISTORY.map((r) => buildRecord(r))));
      const theirs = await run('last', ['-x', '-f', wtmp]);
      const rename = (s: string): string => s.replace(/^wtmp begins/m, 'X begins');
      for (const extra of [[], ['--format', 'utmps']]) {
        const ours = await utmps('last', '-x', ...extra, '-f', file);
        assert.equal(rename(ours.stdout), rename(theirs.stdout));
      }
      // The default file comes from UTMPS_WTMP_FILE.
      const env = await run(process.execPath, [join(BIN, 'utmps'), 'last', '-x'], { ...ENV, UTMPS_WTMP_FILE: file });
      assert.equal(rename(env.stdout), rename(theirs.stdout));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('logins of this boot: still logged in, or gone (user, login uid, tty owner)', async () => {
    const dir = await mkdtemp('/tmp/ul-');
    try {
      const file = join(dir, 'wtmp');
      const now = Math.floor(Date.now() / 1000);
      const gone = 2 ** 22 + 4321; // no such process: the owner of /dev/LINE decides
      const recs: EntryInput[] = [
        { type: 'USER_PROCESS', pid: process.pid, line: 'tty5', user: 'root', tvSec: now - 5 },
        { type: 'USER_PROCESS', pid: gone, line: 'pts/99', user: 'root', tvSec: now - 4 },
        { type: 'USER_PROCESS', pid: gone, line: 'tty3', user: 'nosuchuser', tvSec: now - 3 },
        { type: 'USER_PROCESS', pid: gone, line: 'null', user: 'root', tvSec: now - 2 },
      ];
      await writeFile(file, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
      const out = await same(['-f', file]);
      assert.match(out, /still logged in/);
      assert.match(out, /gone - no logout/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an empty file begins at its change time', async () => {
    const dir = await mkdtemp('/tmp/ul-');
    try {
      const file = join(dir, 'empty');
      await writeFile(file, '');
      await same(['-f', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--json: one document, sessions newest first', async () => {
    const r = await utmps('last', '--json', '-x', '-f', wtmp);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      files: Array<{ file: string; format: string; begins: { tvSec: number }; sessions: Array<{ user: string; status: string; login: { tvSec: number; time: string }; logout: { tvSec: number } | null; duration: number | null }> }>;
    };
    assert.equal(doc.files.length, 1);
    const f = doc.files[0];
    assert.equal(f.format, 'glibc');
    assert.equal(f.begins.tvSec, 1700000000);
    assert.equal(f.sessions.length, (await run('last', ['-x', '-f', wtmp])).stdout.trim().split('\n').length - 2);
    const bob = f.sessions.find((s) => s.user === 'bob' && s.status === 'logged out')!;
    assert.deepEqual([bob.login.tvSec, bob.login.time, bob.logout?.tvSec, bob.duration], [1700000200, '2023-11-14T22:16:40+00:00', 1700003900, 3700]);
  });

  test('errors: usage 100, system failure 111', async () => {
    const time = await utmps('last', '-s', 'xyz', '-f', wtmp);
    assert.equal(time.code, 100);
    assert.equal(time.stderr, 'utmps: fatal: invalid time value "xyz"\n');
    const missing = await utmps('last', '-f', '/nonexistent/wtmp');
    assert.equal(missing.code, 111);
    assert.equal(missing.stderr, 'utmps: fatal: unable to open /nonexistent/wtmp: No such file or directory\n');
    assert.equal((await utmps('last', '--time-format', 'long', '-f', wtmp)).code, 100);
    assert.equal((await utmps('last', '-n', 'x', '-f', wtmp)).code, 100);
    const help = await utmps('last', '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^usage: utmps last/);
  });
});
