// Lock attacks. Every process that can open a database file can take a POSIX lock on it;
// the daemons lock the whole file for every read (F_RDLCK) and write (F_WRLCK). A local
// user who holds a lock can therefore make writes wait. With a bounded lock wait (-L) the
// daemons answer EAGAIN within the deadline instead of stalling, keep serving the other
// file and the requests the lock does not conflict with, and say so in the log.
//
// Then the deployment under which no unprivileged user can take such a lock at all: files
// that others cannot open (0600, or 0640 root:utmp with no users in group utmp).

import assert from 'node:assert/strict';
import { chmodSync, chownSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Target } from '../../fuzz/target.js';
import {
  Agent,
  append,
  eventually,
  GETALL,
  holdLock,
  NOBODY,
  putline,
  RECORD,
  record,
  recordsOf,
  REWIND,
  scratchDir,
  status,
  talk,
  talkAs,
  tryOpen,
  withTarget,
} from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { Errno } from '../../src/errno.js';

const LOCK_TIMEOUT_MS = 300;
const { EAGAIN, ESRCH } = Errno;
const UTMP_GROUP = 43;

const ALICE = record({ type: 7, id: 'ts/1', line: 'pts/1', user: 'alice' });
const LOGIN = record({ type: 6, id: '2', line: 'tty2', user: 'LOGIN' });
const BOB = record({ type: 7, id: 'ts/3', line: 'pts/3', user: 'bob' });
const ROOTREC = record({ type: 7, id: 'ts/4', line: 'pts/4', user: 'root' });
const TWO = Buffer.concat([ALICE, LOGIN]);

/** The getall answer for these records: 00 + record each, then ESRCH. */
function getallAnswer(records: Buffer): Buffer {
  return Buffer.concat([...recordsOf(records).map((r) => Buffer.concat([Buffer.of(0), r])), Buffer.of(ESRCH)]);
}

/** Daemons over files that already exist with this content and mode. */
async function withFiles(kind: Target['kind'], mode: number, fn: (d: Target) => Promise<void>, extra: string[] = []): Promise<void> {
  const { dir, remove } = await scratchDir('lk-');
  try {
    writeFileSync(join(dir, 'utmp'), TWO, { mode });
    writeFileSync(join(dir, 'wtmp'), ALICE, { mode });
    chmodSync(join(dir, 'utmp'), mode);
    chmodSync(join(dir, 'wtmp'), mode);
    await withTarget(kind, { dir, daemonArgs: ['-L', String(LOCK_TIMEOUT_MS), '-t', '5000'], utmpsdArgs: extra }, fn);
  } finally {
    await remove();
  }
}

for (const kind of TRANSPORTS) {
  describe(`lock attacks by an unprivileged user (${kind}, -L ${LOCK_TIMEOUT_MS})`, () => {
    test('nobody read-locks utmp: putline answers EAGAIN, reads and wtmp appends go on, and it is logged', () =>
      withFiles(kind, 0o644, async (d) => {
        const holder = await holdLock(d.utmpFile, 'read', NOBODY);
        try {
          const refused = await talk(d.utmpSocket, Buffer.concat([putline(BOB), REWIND, GETALL]));
          assert.equal(refused.received[0], EAGAIN, 'putline: EAGAIN once the lock deadline passed');
          assert.equal(refused.received[1], 0, 'the same connection goes on: rewind');
          assert.ok(refused.received.subarray(2).equals(getallAnswer(TWO)), 'reads share the read lock');
          assert.equal(status(await talk(d.wtmpSocket, append(ROOTREC))), 0, 'wtmp is another file: appends go on');
          assert.ok(readFileSync(d.utmpFile).equals(TWO), 'the refused putline changed nothing');
        } finally {
          await holder.release();
        }
        assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(BOB)]))).received.toString('hex'), '0000', 'served again once released');
        assert.deepEqual(recordsOf(readFileSync(d.utmpFile)), [ALICE, LOGIN, BOB]);
        const logged =
          kind === 'utmpsd'
            ? /utmpsd: warning: utmp: putline for uid 0 failed: EAGAIN: unable to lock .*utmp: still locked by another process/
            : /utmps-utmpd: warning: putline for uid 0 failed: EAGAIN: unable to lock utmp: still locked by another process/;
        assert.ok(await eventually(() => logged.test(d.stderr())), `logged: ${d.stderr()}`);
        assert.doesNotMatch(d.stderr(), /alice|bob|pts\//, 'the log shows no record contents');
      }));

    test('nobody read-locks wtmp: the append answers EAGAIN and closes, utmp writes go on, and it is logged', () =>
      withFiles(kind, 0o644, async (d) => {
        const holder = await holdLock(d.wtmpFile, 'read', NOBODY);
        try {
          const refused = await talk(d.wtmpSocket, append(LOGIN));
          assert.equal(refused.received.toString('hex'), '0b', 'append: EAGAIN, nothing else');
          assert.ok(refused.serverEof, 'then the server closes, as after any wtmp answer');
          assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(BOB)]))).received.toString('hex'), '0000', 'utmp is another file');
          assert.ok(readFileSync(d.wtmpFile).equals(ALICE), 'the refused append changed nothing');
        } finally {
          await holder.release();
        }
        assert.equal(status(await talk(d.wtmpSocket, append(LOGIN))), 0, 'served again once released');
        assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)), [ALICE, LOGIN]);
        const logged =
          kind === 'utmpsd'
            ? /wtmp: append for uid 0 failed: EAGAIN: unable to append to wtmp: unable to lock .*wtmp: still locked/
            : /utmps-wtmpd: fatal: unable to append to wtmp: unable to lock wtmp: still locked by another process/;
        assert.ok(await eventually(() => logged.test(d.stderr())), `logged: ${d.stderr()}`);
      }));

    test('with world-readable files nobody can take read locks but never a write lock', () =>
      withFiles(kind, 0o644, async (d) => {
        for (const file of [d.utmpFile, d.wtmpFile]) {
          assert.equal(tryOpen(file, 'r', NOBODY), 'ok', `${file} is readable by all (mode 0644)`);
          assert.equal(tryOpen(file, 'r+', NOBODY), 'PermissionError', `${file} is not writable by nobody`);
          // F_WRLCK needs a descriptor open for writing.
          await assert.rejects(holdLock(file, 'write', NOBODY), /PermissionError/);
        }
      }));

    test('deployment: files no other user can open (0600, or 0640 root:utmp) cannot be locked by them at all', async () => {
      // utmpsd creates its files with --file-mode; the UCSPI daemons create 0644 files, so
      // there the administrator sets the mode once, and the daemons never change it.
      const run = kind === 'utmpsd' ? withFreshFiles : (fn: (d: Target) => Promise<void>) => withFiles(kind, 0o600, fn);
      await run(async (d) => {
        for (const file of [d.utmpFile, d.wtmpFile]) {
          assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is 0600`);
          assert.equal(tryOpen(file, 'r', NOBODY), 'PermissionError', `nobody cannot open ${file}`);
          await assert.rejects(holdLock(file, 'read', NOBODY), /PermissionError/, 'so nobody cannot lock it');
        }
        // Everything still works through the daemons, reads for nobody included.
        assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(BOB)]))).received.toString('hex'), '0000');
        assert.equal(status(await talk(d.wtmpSocket, append(ROOTREC))), 0);
        const agent = await Agent.start(NOBODY.uid, NOBODY.gid);
        try {
          const read = await talkAs(agent, d.utmpSocket, Buffer.concat([REWIND, GETALL]));
          const expected = readFileSync(d.utmpFile);
          assert.ok(read.received.equals(Buffer.concat([Buffer.of(0), getallAnswer(expected)])), 'nobody reads utmp through the daemon');
          assert.ok(expected.length >= RECORD);
        } finally {
          await agent.stop();
        }
        for (const file of [d.utmpFile, d.wtmpFile]) assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is still 0600 after writes`);

        // 0640 root:utmp: the same for nobody, but every member of group utmp can lock it.
        for (const file of [d.utmpFile, d.wtmpFile]) {
          chownSync(file, 0, UTMP_GROUP);
          chmodSync(file, 0o640);
          assert.equal(tryOpen(file, 'r', NOBODY), 'PermissionError');
          const member = { uid: NOBODY.uid, gid: UTMP_GROUP };
          const holder = await holdLock(file, 'read', member);
          await holder.release();
        }
      });
    });
  });
}

/** utmpsd creating its files itself with --file-mode 0600. */
async function withFreshFiles(fn: (d: Target) => Promise<void>): Promise<void> {
  await withTarget('utmpsd', { daemonArgs: ['-L', String(LOCK_TIMEOUT_MS)], utmpsdArgs: ['--file-mode', '0600'] }, fn);
}
