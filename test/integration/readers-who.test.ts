// utmps who against coreutils who, line by line, on a glibc-layout utmp written by our
// daemons (utmps-utmpd -F glibc under s6-ipcserver) through the client and utmps-write.
// Both run with TZ=UTC LC_ALL=C. Terminals are lines with no /dev entry, so the idle and
// message columns cannot change between the two runs; sessions use live PIDs, so who on
// the system's utmp (utmps who -U) keeps the same ones.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { UtmpSession } from '../../src/client/index.js';
import { buildRecord, type EntryInput } from '../../src/record/index.js';
import { type Daemons, startUcspi } from '../helpers/daemons.js';
import { BIN } from '../helpers/paths.js';
import { READER_ENV as ENV, type Run, run, utmps } from '../helpers/readers.js';


/** TAI64N label for utmps-write -T: tv_sec == seconds. */
function tai(seconds: number): string {
  return `@${(0x4000000000000000n + BigInt(seconds)).toString(16).padStart(16, '0')}00000000`;
}

const live = process.pid;

const RECORDS: EntryInput[] = [
  { type: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test', tvSec: 1700000000 },
  { type: 'RUN_LVL', pid: 0x33 + 256 * 0x4e, line: '~', id: '~~', user: 'runlevel', host: '6.1.0-test', tvSec: 1700000005 },
  { type: 'INIT_PROCESS', pid: 600, line: 'pts/93', id: 'i93', tvSec: 1700000006 },
  { type: 'LOGIN_PROCESS', pid: 700, line: 'pts/92', id: 'l92', user: 'LOGIN', tvSec: 1700000010 },
  { type: 'USER_PROCESS', pid: 1, line: 'pts/91', id: 'u91', user: 'alice', tvSec: 1700000100 },
  { type: 'USER_PROCESS', pid: live, line: 'pts/94', id: 'u94', user: 'bob', host: '192.0.2.10', address: '192.0.2.10', tvSec: 1700000200 },
  { type: 'USER_PROCESS', pid: live, line: 'pts/95', id: 'u95', user: 'abcdefghijklmnopqrstuvwxyz012345', host: 'h'.repeat(60), tvSec: 1700000400 },
  { type: 'DEAD_PROCESS', pid: 1003, line: 'pts/96', id: 'd96', exit: { termination: 0, status: 3 }, tvSec: 1700003900 },
  { type: 'NEW_TIME', pid: 0, line: '{', user: 'date', tvSec: 1700000900 },
  { type: 'ACCOUNTING', pid: 77, line: 'acct', id: 'acct', user: 'acct', tvSec: 1700001000 },
];

let d: Daemons;

before(async () => {
  d = await startUcspi({ format: 'glibc' });
  const session = await UtmpSession.connect({ path: d.utmpSocket });
  try {
    for (const r of RECORDS) await session.put(buildRecord(r));
  } finally {
    session.close();
  }
  // And one through utmps-write, the way an init or a getty would.
  const w = await run(process.execPath, [
    join(BIN, 'utmps-write'), '-u', '-U', d.utmpSocket, '-T', tai(1700000500), '-l', 'carol', '-h', 'client.example.net:0.0', '-p', String(live), 'u97', 'USER_PROCESS', 'pts/97',
  ]);
  assert.equal(w.code, 0, w.stderr);
});

after(() => d?.stop());

const OPTIONS: string[][] = [[], ['-a'], ['-b'], ['-r'], ['-q'], ['-H'], ['-u'], ['-d'], ['-l'], ['-p'], ['-t'], ['-T'], ['-aH'], ['-bH'], ['-uH'], ['-s']];

describe('utmps who matches coreutils who on a utmp our daemon wrote', () => {
  for (const opts of OPTIONS) {
    test(`who ${opts.join(' ') || '(default)'}: --file, and through utmpd`, async () => {
      const theirs = await run('who', [...opts, d.utmpFile]);
      assert.equal(theirs.code, 0, theirs.stderr);
      const file = await utmps('who', ...opts, '--file', d.utmpFile);
      assert.equal(file.stderr, '');
      assert.deepEqual(file.stdout.split('\n'), theirs.stdout.split('\n'));
      const socket = await utmps('who', ...opts, '-U', d.utmpSocket);
      assert.equal(socket.stderr, '');
      assert.deepEqual(socket.stdout.split('\n'), theirs.stdout.split('\n'));
    });
  }

  test('who -a shows what we put there', async () => {
    const theirs = await run('who', ['-a', d.utmpFile]);
    for (const text of ['system boot', 'run-level 3', 'last=S', 'id=i93', 'LOGIN', 'alice', 'bob', '(192.0.2.10)', 'carol', 'term=0 exit=3', 'clock change']) {
      assert.ok(theirs.stdout.includes(text), `${text} missing from:\n${theirs.stdout}`);
    }
  });

  test('FILE as an argument, like who FILE', async () => {
    const theirs = await run('who', ['-H', d.utmpFile]);
    const ours = await utmps('who', '-H', d.utmpFile);
    assert.equal(ours.stdout, theirs.stdout);
  });

  test('ISO times outside the C locale', async () => {
    const env = { ...ENV, LC_ALL: 'C.UTF-8' };
    const theirs = await run('who', ['-a', d.utmpFile], env);
    const ours = await run(process.execPath, [join(BIN, 'utmps'), 'who', '-a', '--file', d.utmpFile], env);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stdout, /2023-11-14 22:15/);
  });
});

describe('utmps who details', () => {
  test('through utmpd, sessions whose process is gone are left out (as who does on the system utmp)', async () => {
    const gone = 2 ** 22 + 12345; // above pid_max's default: no such process
    const session = await UtmpSession.connect({ path: d.utmpSocket });
    try {
      await session.put(buildRecord({ type: 'USER_PROCESS', pid: gone, line: 'pts/98', id: 'u98', user: 'ghost', tvSec: 1700000600 }));
    } finally {
      session.close();
    }
    const viaSocket = await utmps('who', '-U', d.utmpSocket);
    assert.ok(!viaSocket.stdout.includes('ghost'));
    const viaFile = await utmps('who', '--file', d.utmpFile);
    assert.ok(viaFile.stdout.includes('ghost'));
    assert.deepEqual(viaFile.stdout, (await run('who', [d.utmpFile])).stdout);
  });

  test('--json is one document with numeric and ISO times', async () => {
    const r = await utmps('who', '--json', '-a', '--file', d.utmpFile);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { entries: Array<{ kind: string; user: string; tvSec: number; time: string; address: string }> };
    const bob = doc.entries.find((e) => e.user === 'bob')!;
    assert.equal(bob.kind, 'user');
    assert.equal(bob.tvSec, 1700000200);
    assert.equal(bob.time, '2023-11-14T22:16:40+00:00');
    assert.equal(bob.address, '192.0.2.10');
    assert.deepEqual(doc.entries.map((e) => e.kind).slice(0, 4), ['boot', 'runlevel', 'init', 'login']);
    const q = JSON.parse((await utmps('who', '--json', '-q', '--file', d.utmpFile)).stdout) as { users: string[]; count: number };
    assert.equal(q.count, q.users.length);
    assert.ok(q.users.includes('carol'));
  });

  test('a utmps-layout file reads the same (detected, or with --format)', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const dir = await mkdtemp('/tmp/uw-');
    try {
      const file = join(dir, 'utmp');
      await writeFile(file, Buffer.concat(RECORDS.map((r) => buildRecord(r))));
      const glibc = join(dir, 'utmp.glibc');
      const conv = await utmps('convert', '--to', 'glibc', file, glibc);
      assert.equal(conv.code, 0, conv.stderr);
      const theirs = await run('who', ['-a', glibc]);
      assert.equal((await utmps('who', '-a', '--file', file)).stdout, theirs.stdout);
      assert.equal((await utmps('who', '-a', '--format', 'utmps', '--file', file)).stdout, theirs.stdout);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('errors: usage 100, system failure 111', async () => {
    const usage = await utmps('who', '--bogus');
    assert.equal(usage.code, 100);
    assert.match(usage.stderr, /^utmps: fatal: /);
    const missing = await utmps('who', '--file', '/nonexistent/utmp');
    assert.equal(missing.code, 111);
    assert.equal(missing.stderr, 'utmps: fatal: unable to open /nonexistent/utmp: No such file or directory\n');
    const noDaemon = await utmps('who', '-U', '/nonexistent/socket');
    assert.equal(noDaemon.code, 111);
    assert.match(noDaemon.stderr, /^utmps: fatal: unable to read utmp via utmpd/);
    const format = await utmps('who', '--format', 'bsd', '--file', d.utmpFile);
    assert.equal(format.code, 100);
  });
});
