// utmps lastlog against an oracle computed here: a seeded wtmp history (logins, logouts,
// boots, getty records, logouts that name a user), users from a passwd file and users only
// wtmp knows (LDAP/SSSD-like, deleted). The oracle is each user's last login in file
// order. The text is checked against shadow's own lastlog: the oracle written as a
// lastlog file into a directory for `lastlog -R` (with the same passwd), so shadow prints
// the passwd users' lines; the users it cannot know are checked against the oracle.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { appendWtmp } from '../../src/client/index.js';
import { buildRecord, type EntryInput, GLIBC_LAYOUT } from '../../src/record/index.js';
import { type Daemons, startUcspi } from '../helpers/daemons.js';
import { BIN } from '../helpers/paths.js';
import { READER_ENV as ENV, type Run, run, utmps } from '../helpers/readers.js';
import { seeded } from '../helpers/seeded.js';


const PASSWD: Array<[string, number]> = [
  ['root', 0],
  ['daemon', 1],
  ['alice', 1000],
  ['bob', 1001],
  ['carol', 1002],
  ['dave', 1003],
  ['never', 1004],
  ['averyveryverylongname', 1005],
];
// Users wtmp names that the passwd file does not.
const OUTSIDERS = ['ldap.user', 'sssd_joe', 'deleted', 'zed'];

const NOW = Math.floor(Date.now() / 1000);
const DAY = 86_400;

function history(seed: number, n: number): EntryInput[] {
  const { random, pick } = seeded(seed);
  const users = ['root', 'alice', 'bob', 'carol', 'averyveryverylongname', ...OUTSIDERS.filter((u) => u !== 'zed')];
  const recs: EntryInput[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += pick([60, 600, 3600, 7 * 3600, DAY / 2]) + pick([0, 0, -1800]); // sometimes backwards
    const k = random();
    const line = pick(['tty1', 'tty2', 'pts/0', 'pts/1', 'pts/0123456789abcdef']);
    let r: EntryInput;
    // daemon and zed log in once, early: their latest login is weeks old.
    if (i === 5 || i === 9) r = { type: 'USER_PROCESS', line: 'tty3', user: i === 5 ? 'daemon' : 'zed', host: 'old.example' };
    else if (k < 0.45) r = { type: 'USER_PROCESS', line, user: pick(users), host: pick(['', '192.0.2.1', 'client.example.org', 'h'.repeat(50)]) };
    else if (k < 0.75) r = { type: 'DEAD_PROCESS', line, user: pick(['', '', 'dave']) }; // a logout naming dave is no login
    else if (k < 0.85) r = { type: 'LOGIN_PROCESS', line, user: 'LOGIN' };
    else if (k < 0.9) r = { type: 'LOGIN_PROCESS', line, user: 'carol' }; // getty: no login
    else if (k < 0.95) r = { type: 'BOOT_TIME', line: '~', user: 'reboot', host: '6.1' };
    else r = { type: 'RUN_LVL', line: '~', user: 'runlevel', pid: 0x33 };
    recs.push({ pid: 100 + i, id: 'x', ...r, tvSec: t });
  }
  // Ending two hours ago (weeks of history), so -t/-b 10 days split the logins.
  const shift = NOW - 7200 - t;
  for (const r of recs) r.tvSec = Number(r.tvSec) + shift;
  return recs;
}

interface Expected {
  user: string;
  line: string;
  host: string;
  time: number | null;
}

/**
 * The oracle: each user's last login in file order. A login is what util-linux last lists
 * as one: any record but a logout with a user (not "LOGIN") and a line (not "~"), so a
 * getty record naming carol counts (checked against util-linux last below).
 */
function oracle(recs: EntryInput[]): Expected[] {
  const latest = new Map<string, EntryInput>();
  for (const r of recs) {
    if (r.type !== 'DEAD_PROCESS' && r.user && r.user !== 'LOGIN' && r.line && r.line !== '~') latest.set(r.user, r);
  }
  const row = (user: string): Expected => {
    const r = latest.get(user);
    return { user, line: r?.line ?? '', host: r?.host ?? '', time: r ? Number(r.tvSec) : null };
  };
  const known = new Set(PASSWD.map(([u]) => u));
  const outsiders = [...latest.keys()].filter((u) => !known.has(u)).sort();
  return [...PASSWD.map(([u]) => row(u)), ...outsiders.map(row)];
}

const iso = (t: number): string => new Date(t * 1000).toISOString().replace('.000Z', '+00:00');

/** shadow's "%a %b %e %H:%M:%S %z %Y", in UTC. */
function shadowTime(t: number): string {
  const d = new Date(t * 1000);
  const [wd, mon, day, year, hms] = [d.toUTCString().slice(0, 3), d.toUTCString().slice(8, 11), d.getUTCDate(), d.getUTCFullYear(), d.toISOString().slice(11, 19)];
  return `${wd} ${mon} ${String(day).padStart(2)} ${hms} +0000 ${year}`;
}

function textLine(e: Expected): string {
  return `${e.user.padEnd(16)} ${e.line.slice(0, 8).padEnd(8)} ${e.host.padEnd(42)}${e.time === null ? '**Never logged in**' : shadowTime(e.time)}`;
}

let dir: string;
let wtmp: string;
let passwd: string;
let root: string;
let recs: EntryInput[];
let expected: Expected[];

before(async () => {
  dir = await mkdtemp('/tmp/ll-');
  recs = history(4242, 400);
  expected = oracle(recs);
  wtmp = join(dir, 'wtmp');
  await writeFile(wtmp, Buffer.concat(recs.map((r) => buildRecord(r, GLIBC_LAYOUT))));
  // passwd in its order, with an NIS line and a duplicate that getent would not list.
  const lines = PASSWD.map(([u, uid]) => `${u}:x:${uid}:${uid}::/home/${u}:/bin/sh`);
  lines.splice(3, 0, '+@nis::::::', 'alice:x:2000:2000::/x:/bin/sh');
  passwd = join(dir, 'passwd');
  await writeFile(passwd, `${lines.join('\n')}\n`);
  // shadow lastlog's view of the oracle: a lastlog file (292-byte records by uid).
  root = join(dir, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'var', 'log'), { recursive: true });
  // shadow lists what getpwent gives: the entries as they are, without NIS or duplicates.
  await writeFile(join(root, 'etc', 'passwd'), PASSWD.map(([u, uid]) => `${u}:x:${uid}:${uid}::/home/${u}:/bin/sh\n`).join(''));
  const ll = Buffer.alloc(292 * 1006);
  for (const [user, uid] of PASSWD) {
    const e = expected.find((x) => x.user === user)!;
    if (e.time === null) continue;
    ll.writeInt32LE(e.time, uid * 292);
    ll.write(e.line, uid * 292 + 4, 32, 'latin1');
    ll.write(e.host, uid * 292 + 36, 256, 'latin1');
  }
  await writeFile(join(root, 'var', 'log', 'lastlog'), ll);
});
after(() => rm(dir, { recursive: true, force: true }));

describe('utmps lastlog against the oracle and shadow lastlog', () => {
  test('the history is a fair test: logins, never-logged-in users and outsiders', () => {
    assert.ok(expected.some((e) => e.time === null && e.user === 'never'));
    assert.ok(expected.filter((e) => OUTSIDERS.includes(e.user)).length >= 3);
    assert.ok(expected.filter((e) => e.time !== null && e.time > NOW - 10 * DAY).length >= 2);
    assert.ok(expected.filter((e) => e.time !== null && e.time < NOW - 10 * DAY).length >= 1);
  });

  test('the oracle agrees with util-linux last: each user\'s first line there is the latest login', async () => {
    const theirs = await run('last', ['-w', '--time-format', 'iso', '-f', wtmp]);
    const first = new Map<string, string>();
    for (const l of theirs.stdout.split('\n')) {
      const m = /^(\S+) .*?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)/.exec(l);
      if (m && m[1] !== 'reboot' && m[1] !== 'wtmp' && !first.has(m[1])) first.set(m[1], m[2]);
    }
    const logged = expected.filter((e) => e.time !== null);
    assert.deepEqual(new Map(logged.map((e) => [e.user, iso(e.time!)])), first);
  });

  test('--json is the oracle: passwd users in order, then the outsiders by name', async () => {
    const r = await utmps('lastlog', '--json', '--passwd', passwd, '-f', wtmp);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout),
      expected.map((e) => ({ user: e.user, line: e.line, host: e.host, time: e.time === null ? null : iso(e.time) })),
    );
  });

  test('the text: shadow lastlog\'s lines for passwd users, then the outsiders in the same columns', async () => {
    const r = await utmps('lastlog', '--passwd', passwd, '-f', wtmp);
    assert.equal(r.code, 0, r.stderr);
    const theirs = await run('lastlog', ['-R', root]);
    assert.equal(theirs.code, 0, theirs.stderr);
    const ours = r.stdout.split('\n');
    const shadow = theirs.stdout.split('\n').slice(0, -1);
    assert.deepEqual(ours.slice(0, shadow.length), shadow);
    const outsiders = expected.slice(PASSWD.length);
    assert.deepEqual(ours.slice(shadow.length), [...outsiders.map(textLine), '']);
  });

  test('-t and -b (days), -u by name, uid and range: as shadow lastlog prints them', async () => {
    for (const args of [['-t', '10'], ['-b', '10'], ['-u', 'alice'], ['-u', '1001'], ['-u', '1000-1003'], ['-u', '1002-'], ['-u', 'never']]) {
      const theirs = await run('lastlog', ['-R', root, ...args]);
      const ours = await utmps('lastlog', '--passwd', passwd, '-f', wtmp, ...args);
      assert.equal(ours.code, 0, ours.stderr);
      const outsiders = ours.stdout.split('\n').slice(theirs.stdout.split('\n').length - 1);
      assert.equal(ours.stdout.slice(0, theirs.stdout.length), theirs.stdout, `lastlog ${args.join(' ')}`);
      // After shadow's lines, only outsiders (never under -u), within the same -t/-b.
      for (const l of outsiders.filter((x) => x !== '')) {
        assert.ok(args[0] !== '-u', `${l} under ${args.join(' ')}`);
        const e = expected.find((x) => l.startsWith(x.user.padEnd(16)))!;
        assert.ok(OUTSIDERS.includes(e.user) && e.time !== null);
        assert.ok(args[0] === '-t' ? e.time > NOW - 10 * DAY : e.time < NOW - 10 * DAY, l);
      }
    }
  });

  test('-u names an outsider wtmp knows; a name nobody knows is refused (1)', async () => {
    const e = expected.find((x) => x.user === 'sssd_joe')!;
    const r = await utmps('lastlog', '--passwd', passwd, '-f', wtmp, '-u', 'sssd_joe');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Username         Port     From                                       Latest\n${textLine(e)}\n`);
    const nobody = await utmps('lastlog', '--passwd', passwd, '-f', wtmp, '-u', 'no-such-user-anywhere');
    assert.equal(nobody.code, 1);
    assert.equal(nobody.stderr, 'utmps: fatal: unknown user or range: no-such-user-anywhere\n');
    // NSS knows "nobody" (not in our passwd file): listed, never logged in.
    const nss = await utmps('lastlog', '--passwd', passwd, '-f', wtmp, '-u', 'nobody', '--json');
    assert.deepEqual(JSON.parse(nss.stdout), [{ user: 'nobody', line: '', host: '', time: null }]);
  });
});

describe('utmps lastlog through the wtmpd socket', () => {
  let d: Daemons;
  before(async () => {
    d = await startUcspi({ format: 'glibc' });
    await writeFile(d.wtmpFile, Buffer.concat(recs.slice(0, -3).map((r) => buildRecord(r, GLIBC_LAYOUT))));
    for (const r of recs.slice(-3)) await appendWtmp(buildRecord(r), { path: d.wtmpSocket });
  });
  after(() => d?.stop());

  test('-W and $UTMPS_WTMPD_SOCKET give the oracle', async () => {
    const want = expected.map((e) => ({ user: e.user, line: e.line, host: e.host, time: e.time === null ? null : iso(e.time) }));
    const r = await utmps('lastlog', '--json', '--passwd', passwd, '-W', d.wtmpSocket);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), want);
    const env = await run(process.execPath, [join(BIN, 'utmps'), 'lastlog', '--passwd', passwd], { ...ENV, UTMPS_WTMPD_SOCKET: d.wtmpSocket });
    assert.equal(env.stdout, (await utmps('lastlog', '--passwd', passwd, '-f', wtmp)).stdout);
  });

  test('utmps timeline draws the same picture from the socket as from the file', async () => {
    const window = ['--since', isoArg(NOW - 20 * DAY), '--until', isoArg(NOW - DAY), '--no-btmp'];
    const fromSocket = await utmps('timeline', '--svg', '-', '-W', d.wtmpSocket, ...window);
    assert.equal(fromSocket.code, 0, fromSocket.stderr);
    const fromFile = await utmps('timeline', '--svg', '-', '-f', wtmp, ...window);
    assert.equal(fromSocket.stdout, fromFile.stdout);
    assert.ok((fromFile.stdout.match(/<rect class="session"/g) ?? []).length >= 20);
  });
});

function isoArg(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 19);
}
