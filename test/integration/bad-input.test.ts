// Bad input and bad files: what the daemons do with malformed requests, silent clients,
// damaged files and files another process holds locked. Every case ends by checking that
// the daemon still serves a valid request and that no byte changed that must not: a
// misbehaving client (or a daemon dying for it) costs at most its own connection.
//
// Timeouts are made short with -t/-L so the cases finish quickly; the tests assert what
// happens (closed, answered, EAGAIN), never how long it took.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { type DaemonOptions, type Daemons, startDaemons } from '../helpers/daemons.js';
import { type Chunk, eventually, RawClient, replayOn } from '../helpers/raw-client.js';
import { holdPosixLock, stop } from '../helpers/support.js';
import { TRANSPORTS } from '../helpers/transports.js';

const RECORD = 400;
const IO_TIMEOUT_MS = 300;
const LOCK_TIMEOUT_MS = 300;
const EAGAIN = '0b';
const ESRCH = '03';
const OPTIONS: DaemonOptions = { timeoutMs: IO_TIMEOUT_MS, lockTimeoutMs: LOCK_TIMEOUT_MS };

/** A record at the utmps offsets (PROTOCOL.md section 1); every other byte zero. */
function record(type: number, id: string, line: string, user: string, tvSec = 1_700_000_000): Buffer {
  const rec = Buffer.alloc(RECORD);
  rec.writeInt16LE(type, 0);
  rec.writeInt32LE(4242, 4);
  rec.write(line, 8, 32, 'latin1');
  rec.write(id, 40, 4, 'latin1');
  rec.write(user, 44, 32, 'latin1');
  rec.writeBigInt64LE(BigInt(tvSec), 344);
  return rec;
}

const ALICE = record(7, 'ts/1', 'pts/1', 'alice');
const LOGIN = record(6, '2', 'tty2', 'LOGIN');
const BOB = record(7, 'ts/3', 'pts/3', 'bob');
const TWO = Buffer.concat([ALICE, LOGIN]);
// 17 bytes that are no record: what a crash in the middle of a write could leave.
const GARBAGE = Buffer.from('partial-record!!!', 'latin1');

const hex = (b: Buffer): string => b.toString('hex');
const sendHex = (h: string): Chunk => ({ dir: 'C>S', hex: h });
const answer = (h: string): Chunk => ({ dir: 'S>C', hex: h });
const CLIENT_EOF: Chunk = { dir: 'C>S', event: 'EOF' };
const SERVER_EOF: Chunk = { dir: 'S>C', event: 'EOF' };

/** rewind, then getent until ESRCH: the conversation that reads back `records`. */
function readAllPlan(records: Buffer): Chunk[] {
  const plan: Chunk[] = [sendHex('72'), answer('00')];
  for (let off = 0; off < records.length; off += RECORD) {
    plan.push(sendHex('65'), answer(`00${hex(records.subarray(off, off + RECORD))}`));
  }
  plan.push(sendHex('65'), answer(ESRCH), CLIENT_EOF, SERVER_EOF);
  return plan;
}

async function expectConversation(socket: string, plan: Chunk[]): Promise<void> {
  assert.deepEqual(await replayOn(socket, plan), plan);
}

/** The daemon still answers: utmp reads back exactly `records`. */
async function utmpStillServes(d: Daemons, records: Buffer): Promise<void> {
  await expectConversation(d.utmpSocket, readAllPlan(records));
}

/** The daemon still appends: one more record lands after `before`. */
async function wtmpStillServes(d: Daemons, before: Buffer): Promise<void> {
  await expectConversation(d.wtmpSocket, [sendHex(`2b${hex(BOB)}`), answer('00'), SERVER_EOF, CLIENT_EOF]);
  assert.ok((await readFile(d.wtmpFile)).equals(Buffer.concat([before, BOB])), 'wtmp: one record appended after the old bytes');
}

async function expectStderr(d: Daemons, text: string): Promise<void> {
  const said = await eventually(() => d.stderr().includes(text));
  assert.ok(said, `stderr should contain '${text}'; it has:\n${d.stderr()}`);
}

async function withDaemons(kind: Daemons['kind'], fn: (d: Daemons) => Promise<void>): Promise<void> {
  const d = await startDaemons(kind, OPTIONS);
  try {
    await fn(d);
  } finally {
    await d.stop();
  }
}

async function withLock(path: string, kind: 'read' | 'write', fn: (release: () => Promise<void>) => Promise<void>): Promise<void> {
  const holder: ChildProcess = await holdPosixLock(path, kind);
  try {
    await fn(() => stop(holder));
  } finally {
    await stop(holder);
  }
}

for (const kind of TRANSPORTS) {
  // The per-connection daemon of the UCSPI transport ends each bad connection with a
  // message and an exit code, as C utmps does; a built-in server logs its own way.
  const ucspi = kind === 'ucspi';

  describe(`bad requests (${kind})`, () => {
    test('utmpd: an unknown command byte closes the connection without an answer', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        // The server closes on its own, before our EOF.
        await expectConversation(d.utmpSocket, [sendHex('78'), SERVER_EOF, CLIENT_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-utmpd: fatal: unable to interpret stdin: Protocol error');
        assert.ok((await readFile(d.utmpFile)).equals(TWO));
        await utmpStillServes(d, TWO);
      }));

    test('utmpd: garbage after valid requests: they are answered, then the connection closes', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        // rewind, getent and a putline (of a new record) then 'x', all in one write.
        const burst = `72` + `65` + `45${hex(BOB)}` + `78`;
        await expectConversation(d.utmpSocket, [
          sendHex(burst),
          answer('00'),
          answer(`00${hex(ALICE)}`),
          answer('00'),
          SERVER_EOF,
          CLIENT_EOF,
        ]);
        if (ucspi) await expectStderr(d, 'utmps-utmpd: fatal: unable to interpret stdin: Protocol error');
        const three = Buffer.concat([TWO, BOB]);
        assert.ok((await readFile(d.utmpFile)).equals(three), 'the putline before the garbage was done, nothing else');
        await utmpStillServes(d, three);
      }));

    test('utmpd: a short body then EOF gets no answer and changes nothing', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        await expectConversation(d.utmpSocket, [sendHex(`45${hex(BOB.subarray(0, 10))}`), CLIENT_EOF, SERVER_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-utmpd: fatal: unable to read from stdin: Broken pipe');
        assert.ok((await readFile(d.utmpFile)).equals(TWO));
        await utmpStillServes(d, TWO);
      }));

    test('utmpd: a body never sent: the io timeout closes the connection', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        // Part of a putline, then silence (no EOF): the server gives up and closes.
        await expectConversation(d.utmpSocket, [sendHex(`45${hex(BOB.subarray(0, 10))}`), SERVER_EOF, CLIENT_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-utmpd: fatal: unable to serve the client: Connection timed out');
        assert.ok((await readFile(d.utmpFile)).equals(TWO));
        await utmpStillServes(d, TWO);
      }));

    test('utmpd: an idle client between requests is not timed out (C utmps waits for the next command)', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        const client = await RawClient.connect(d.utmpSocket);
        try {
          await client.send(Buffer.of(0x72));
          assert.equal(hex(await client.readExactly(1)), '00');
          // Quiet for several io timeouts: that bounds a request's body, not the wait for one.
          await new Promise((resolve) => setTimeout(resolve, 3 * IO_TIMEOUT_MS));
          assert.equal(client.eof, false, 'still connected');
          await client.send(Buffer.of(0x65));
          assert.equal(hex(await client.readExactly(1 + RECORD)), `00${hex(ALICE)}`);
        } finally {
          client.close();
        }
      }));

    test('utmpd: getid of EMPTY or ACCOUNTING answers EINVAL and the session goes on (Ours)', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        // Ours (PROTOCOL.md section 3, glibc's getutxid): such a search means nothing, so
        // EINVAL (22); C utmps would answer ESRCH. The cursor does not move: a getent after
        // them still reads the first record.
        await expectConversation(d.utmpSocket, [
          sendHex('69000074732f31'),
          answer('16'),
          sendHex('69000900000000'),
          answer('16'),
          sendHex('65'),
          answer(`00${hex(ALICE)}`),
          CLIENT_EOF,
          SERVER_EOF,
        ]);
        assert.ok((await readFile(d.utmpFile)).equals(TWO));
      }));

    test('wtmpd: a bad command byte closes the connection without an answer', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, ALICE);
        await expectConversation(d.wtmpSocket, [sendHex('2d'), SERVER_EOF, CLIENT_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-wtmpd: fatal: unable to read command: Protocol error');
        assert.ok((await readFile(d.wtmpFile)).equals(ALICE));
        await wtmpStillServes(d, ALICE);
      }));

    test('wtmpd: a short body then EOF gets no answer and appends nothing', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, ALICE);
        await expectConversation(d.wtmpSocket, [sendHex(`2b${'00'.repeat(10)}`), CLIENT_EOF, SERVER_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-wtmpd: fatal: unable to read from stdin: Broken pipe');
        assert.ok((await readFile(d.wtmpFile)).equals(ALICE));
        await wtmpStillServes(d, ALICE);
      }));

    test('wtmpd: a body never sent: the io timeout closes the connection', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, ALICE);
        await expectConversation(d.wtmpSocket, [sendHex('2b'), SERVER_EOF, CLIENT_EOF]);
        if (ucspi) await expectStderr(d, 'utmps-wtmpd: fatal: unable to read from stdin: Connection timed out');
        assert.ok((await readFile(d.wtmpFile)).equals(ALICE));
        await wtmpStillServes(d, ALICE);
      }));

    // wtmpd serves one request per connection, so its deadline runs from the connect: a
    // client that connects and sends nothing cannot hold a process or a connection slot.
    test(
      'wtmpd: a client that sends nothing at all is timed out too',
      () =>
        withDaemons(kind, async (d) => {
          await writeFile(d.wtmpFile, ALICE);
          // The deadline here is only a hang guard, several times the io timeout.
          const plan: Chunk[] = [SERVER_EOF, CLIENT_EOF];
          assert.deepEqual(await replayOn(d.wtmpSocket, plan, 6 * IO_TIMEOUT_MS), plan);
          assert.ok((await readFile(d.wtmpFile)).equals(ALICE));
          await wtmpStillServes(d, ALICE);
        }),
    );

    test('wtmpd: garbage after a valid append: answered, appended once, closed', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, ALICE);
        await expectConversation(d.wtmpSocket, [sendHex(`2b${hex(LOGIN)}2b0000`), answer('00'), SERVER_EOF, CLIENT_EOF]);
        const two = Buffer.concat([ALICE, LOGIN]);
        assert.ok((await readFile(d.wtmpFile)).equals(two), 'one record appended, the garbage ignored');
        await wtmpStillServes(d, two);
      }));
  });

  describe(`damaged files (${kind})`, () => {
    test('utmp with a partial tail record: read as 2 records, the next append replaces the tail', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, Buffer.concat([TWO, GARBAGE]));
        const inode = (await stat(d.utmpFile)).ino;

        await expectConversation(d.utmpSocket, readAllPlan(TWO));
        await expectStderr(d, 'partial record');
        // C utmpd unlinks the file here; ours (glibc's way) ignores the tail and keeps the file.
        assert.equal((await stat(d.utmpFile)).ino, inode, 'the file was never deleted or replaced');
        assert.ok((await readFile(d.utmpFile)).equals(Buffer.concat([TWO, GARBAGE])), 'reading changed nothing');

        // A putline that matches nothing appends at the last whole record, over the tail.
        await expectConversation(d.utmpSocket, [sendHex('72'), answer('00'), sendHex(`45${hex(BOB)}`), answer('00'), CLIENT_EOF, SERVER_EOF]);
        const after = await readFile(d.utmpFile);
        assert.equal(after.length, 3 * RECORD, 'whole records only: the 17 bytes are gone');
        assert.ok(after.subarray(0, 2 * RECORD).equals(TWO), 'the 2 original records are byte-identical');
        assert.ok(after.subarray(2 * RECORD).equals(BOB));
        assert.equal((await stat(d.utmpFile)).ino, inode, 'same file');
        await utmpStillServes(d, after);
      }));

    test('wtmp with a partial tail record: the append goes after the last whole record', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, Buffer.concat([TWO, GARBAGE]));
        await expectConversation(d.wtmpSocket, [sendHex(`2b${hex(BOB)}`), answer('00'), SERVER_EOF, CLIENT_EOF]);
        const after = await readFile(d.wtmpFile);
        assert.ok(after.equals(Buffer.concat([TWO, BOB])), 'earlier bytes unchanged, the tail replaced by the new record');
        await wtmpStillServes(d, after);
      }));
  });

  describe(`files locked by another process (${kind}, -L ${LOCK_TIMEOUT_MS})`, () => {
    test('utmp write-locked: putline and getent answer EAGAIN; served again once released', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        const client = await RawClient.connect(d.utmpSocket);
        try {
          await withLock(d.utmpFile, 'write', async (release) => {
            await client.send(Buffer.from(`45${hex(BOB)}`, 'hex'));
            assert.equal(hex(await client.readExactly(1)), EAGAIN, 'putline: EAGAIN');
            await client.send(Buffer.of(0x65));
            assert.equal(hex(await client.readExactly(1)), EAGAIN, 'getent: EAGAIN');
            assert.ok((await readFile(d.utmpFile)).equals(TWO), 'no byte changed');
            await release();
          });
          // The same connection goes on working...
          await client.send(Buffer.of(0x72, 0x65));
          assert.equal(hex(await client.readExactly(1 + 1 + RECORD)), `00` + `00${hex(ALICE)}`);
          assert.equal(client.eof, false);
        } finally {
          client.close();
        }
        // ...and so do others; the refused putline never happened.
        assert.ok((await readFile(d.utmpFile)).equals(TWO));
        await utmpStillServes(d, TWO);
      }));

    test('utmp read-locked: reads go on, putline answers EAGAIN', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.utmpFile, TWO);
        await withLock(d.utmpFile, 'read', async () => {
          await utmpStillServes(d, TWO);
          await expectConversation(d.utmpSocket, [sendHex(`45${hex(BOB)}`), answer(EAGAIN), CLIENT_EOF, SERVER_EOF]);
          assert.ok((await readFile(d.utmpFile)).equals(TWO), 'no byte changed');
        });
        await utmpStillServes(d, TWO);
      }));

    test('wtmp locked: append answers EAGAIN and closes; appends work once released', () =>
      withDaemons(kind, async (d) => {
        await writeFile(d.wtmpFile, ALICE);
        await withLock(d.wtmpFile, 'read', async () => {
          await expectConversation(d.wtmpSocket, [sendHex(`2b${hex(LOGIN)}`), answer(EAGAIN), SERVER_EOF, CLIENT_EOF]);
          assert.ok((await readFile(d.wtmpFile)).equals(ALICE), 'no byte changed');
        });
        await wtmpStillServes(d, ALICE);
      }));
  });
}
