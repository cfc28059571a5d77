// The client connection against a scriptable fake server: deadlines, aborts, early close,
// short answers and answers split at every byte. Every error must be a typed UtmpsError.

import assert from 'node:assert/strict';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { Connection } from '../../src/client/connection.js';
import { UtmpsError } from '../../src/client/errors.js';
import { UtmpSession } from '../../src/client/utmp-session.js';
import { appendWtmp } from '../../src/client/wtmp.js';
import { cat, hex, padded } from '../helpers/bytes.js';
import { FakeServer, found, type Script, status, until } from '../helpers/fake-server.js';
import { Errno } from '../../src/errno.js';

/** A 400-byte record written out by hand: USER_PROCESS, pid 4242, pts/1, ts/1, alice. */
const RECORD = cat(hex('0700 0000'), hex('92100000'), padded('pts/1', 32), padded('ts/1', 4), padded('alice', 32), Buffer.alloc(400 - 76));

function utmpsError(code: string, op: string, path?: string): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof UtmpsError, `not a UtmpsError: ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.op, op);
    if (path !== undefined) assert.equal(e.path, path);
    return true;
  };
}

async function fake(t: { after(fn: () => Promise<void>): void }, script: Script): Promise<FakeServer> {
  const server = await FakeServer.start(script);
  t.after(() => server.close());
  return server;
}

test('a server that never answers: the deadline fires as ETIMEDOUT and the connection dies', async (t) => {
  const server = await fake(t, () => 'hang');
  const session = await UtmpSession.connect({ path: server.path, timeoutMs: 100 });
  await assert.rejects(session.next(), utmpsError('ETIMEDOUT', 'getent', server.path));
  assert.equal(session.closed, true);
  await until(() => server.closed.has(0), 'the client to close its socket');
  await assert.rejects(session.rewind(), utmpsError('EPIPE', 'rewind'));
});

test('a per-call timeoutMs overrides the session default', async (t) => {
  const server = await fake(t, () => 'hang');
  const session = await UtmpSession.connect({ path: server.path, timeoutMs: 0 });
  await assert.rejects(session.findLine('tty1', { timeoutMs: 50 }), utmpsError('ETIMEDOUT', 'getline'));
});

test('the server closing before answering gives ECONNRESET', async (t) => {
  const server = await fake(t, () => 'close');
  const session = await UtmpSession.connect({ path: server.path });
  await assert.rejects(session.rewind(), utmpsError('ECONNRESET', 'rewind', server.path));
  assert.equal(session.closed, true);
});

test('a short answer (status 0, 100 bytes, close) gives EPROTO', async (t) => {
  const server = await fake(t, () => ({ bytes: cat(0, Buffer.alloc(100, 0x41)), close: true }));
  const session = await UtmpSession.connect({ path: server.path });
  await assert.rejects(session.next(), utmpsError('EPROTO', 'getent'));
});

test('aborting mid-request gives ABORT_ERR with the reason as cause', async (t) => {
  const server = await fake(t, () => 'hang');
  const session = await UtmpSession.connect({ path: server.path, timeoutMs: 0 });
  const controller = new AbortController();
  const reason = new Error('user gave up');
  const pending = session.findId('USER_PROCESS', 'ts/1', { signal: controller.signal });
  await until(() => server.requests.length === 1, 'the request');
  controller.abort(reason);
  await assert.rejects(pending, (e) => utmpsError('ABORT_ERR', 'getid')(e) && (e as Error).cause === reason);
  assert.equal(session.closed, true);
});

test('an already aborted signal sends nothing and keeps the connection', async (t) => {
  const server = await fake(t, () => status(0));
  const session = await UtmpSession.connect({ path: server.path });
  await assert.rejects(session.rewind({ signal: AbortSignal.abort() }), utmpsError('ABORT_ERR', 'rewind'));
  assert.equal(session.closed, false);
  await session.rewind();
  assert.deepEqual(server.requests.map((r) => r.command), ['r']);
  session.close();
});

test('a timeout signal of the caller counts as ETIMEDOUT', async (t) => {
  const server = await fake(t, () => 'hang');
  const session = await UtmpSession.connect({ path: server.path, timeoutMs: 0 });
  await assert.rejects(session.next({ signal: AbortSignal.timeout(50) }), utmpsError('ETIMEDOUT', 'getent'));
});

test('an answer delivered one byte at a time parses the same', async (t) => {
  const server = await fake(t, ({ command }) => ({ bytes: command === 'e' ? found(RECORD) : status(0), chunkSize: 1, delayMs: 1 }));
  const session = await UtmpSession.connect({ path: server.path });
  await session.rewind();
  const record = await session.next();
  assert.ok(record);
  assert.deepEqual(record.bytes, RECORD);
  assert.equal(record.entry.user, 'alice');
  assert.equal(record.entry.line, 'pts/1');
  session.close();
});

test('answers split at awkward points and queued requests stay in order', async (t) => {
  const server = await fake(t, ({ command }) => ({ bytes: command === 'e' ? found(RECORD) : status(3), chunkSize: 7 }));
  const session = await UtmpSession.connect({ path: server.path });
  // Issued without waiting: the connection sends them one at a time.
  const [a, b, c] = await Promise.all([session.next(), session.next(), session.findLine('nope')]);
  assert.deepEqual(a?.bytes, RECORD);
  assert.deepEqual(b?.bytes, RECORD);
  assert.equal(c, null);
  session.close();
});

test('bytes after a complete answer kill the connection (EPROTO)', async (t) => {
  const server = await fake(t, () => Buffer.of(0, 0));
  const session = await UtmpSession.connect({ path: server.path });
  await session.rewind(); // the first answer is still delivered
  await assert.rejects(session.rewind(), (e) => utmpsError('EPIPE', 'rewind')(e) && ((e as Error).cause as UtmpsError).code === 'EPROTO');
});

test('no socket file: ENOENT; a file that is not a listening socket: ECONNREFUSED', async (t) => {
  const dir = await mkdtemp('/tmp/uc-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const missing = join(dir, 'missing');
  await assert.rejects(UtmpSession.connect({ path: missing }), utmpsError('ENOENT', 'connect', missing));
  const plain = join(dir, 'plain');
  await writeFile(plain, '');
  await assert.rejects(UtmpSession.connect({ path: plain }), utmpsError('ECONNREFUSED', 'connect', plain));
  await assert.rejects(appendWtmp(RECORD, { path: missing }), utmpsError('ENOENT', 'append', missing));
});

test('an aborted signal refuses to connect', async () => {
  await assert.rejects(Connection.open('/tmp/does-not-matter', { signal: AbortSignal.abort() }), utmpsError('ABORT_ERR', 'connect'));
});

test('errors carry errno, op, path and an upstream-style message', async (t) => {
  const server = await fake(t, () => status(1));
  const session = await UtmpSession.connect({ path: server.path });
  const error = await session.put(RECORD).then(
    () => assert.fail('put succeeded'),
    (e: unknown) => e as UtmpsError,
  );
  assert.equal(error.code, 'EPERM');
  assert.equal(error.errno, Errno.EPERM);
  // EPERM names the rule that refused a utmp write.
  assert.equal(error.reason, 'Operation not permitted: utmp writes need root or the group the utmp daemon runs as (utmp)');
  assert.equal(error.message, `putline via ${server.path}: ${error.reason}`);
  assert.equal(session.closed, false, 'a refusal is not a transport error');
  session.close();
});

test('finished requests leave no timers behind', async (t) => {
  const server = await fake(t, ({ command }) => (command === 'l' ? 'hang' : status(0)));
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const session = await UtmpSession.connect({ path: server.path, timeoutMs: 60_000 });
  for (let i = 0; i < 5; i++) await session.rewind();
  await assert.rejects(session.findLine('x', { timeoutMs: 20 }), utmpsError('ETIMEDOUT', 'getline'));
  assert.equal(timers(), before);
});
