// The library as a Node developer meets it: the root entry, one error base class, JSON,
// `await using`, and idle connections that let a script exit.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';

import * as root from '../../src/index.js';
import { buildRecord, decodeEntry, RecordError, UtmpsError, UtmpSession } from '../../src/index.js';
import { statusError } from '../../src/client/errors.js';
import { FakeServer, found, status, until, utmpdScript } from '../helpers/fake-server.js';
import { ROOT } from '../helpers/paths.js';
import { Errno } from '../../src/errno.js';

const ENTRY = { type: 'USER_PROCESS', pid: 77, line: 'pts/3', id: 'ts/3', user: 'ada', host: 'h.example', tvSec: 1_700_000_000n, tvUsec: 250_000, address: '192.0.2.1' } as const;

test('the root entry is the client library, without server internals', () => {
  for (const name of ['UtmpSession', 'appendWtmp', 'readWtmp', 'login', 'logout', 'logwtmp', 'getutxent', 'pututxline', 'updwtmpx', 'createUtmpx', 'UtmpsError', 'RecordError', 'buildRecord', 'decodeEntry', 'entryToJSON', 'RecordType', 'idFromLine']) {
    assert.ok(name in root, `utmps-ts exports ${name}`);
  }
  for (const name of ['Utmpsd', 'Policy', 'UtmpFile', 'Connection', 'peerCredentials']) assert.ok(!(name in root), `${name} stays under a subpath`);
});

test('a RecordError is a UtmpsError with code EINVAL, op build and the field', () => {
  const error = (() => {
    try {
      buildRecord({ ...ENTRY, user: 'u'.repeat(40) });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(error instanceof RecordError);
  assert.ok(error instanceof UtmpsError);
  assert.deepEqual([error.code, error.errno, error.op, error.field, error.name], ['EINVAL', Errno.EINVAL, 'build', 'user', 'RecordError']);
  assert.match(error.message, /^user: '.*' is 40 bytes, at most 32 fit$/);
});

test('statuses get wording that says what the daemons mean', () => {
  assert.match(statusError(Errno.EPERM, 'putline', '/s').message, /utmp writes need root or the group the utmp daemon runs as/);
  assert.match(statusError(Errno.EPERM, 'append', '/s').message, /must name that user in ut_user and be a login or logout of their own lines/);
  const quota = statusError(Errno.EDQUOT, 'putline', '/s');
  assert.deepEqual([quota.code, quota.errno], ['EDQUOT', Errno.EDQUOT]);
  assert.match(quota.message, /rate limit.*writers other than root are rate-limited/);
  assert.match(statusError(Errno.ENOBUFS, 'read', '/s').message, /fell too far behind/);
  const odd = statusError(200, 'getent', '/s');
  assert.deepEqual([odd.code, odd.errno], ['UNKNOWN', 200]);
});

test('entries and records serialize to JSON: ISO time with microseconds, numbers, no BigInt failure', async (t) => {
  const bytes = buildRecord(ENTRY);
  const entry = decodeEntry(bytes);
  const json = JSON.parse(JSON.stringify(entry));
  assert.deepEqual(json, {
    type: 7, typeName: 'USER_PROCESS', pid: 77, line: 'pts/3', id: 'ts/3', user: 'ada', host: 'h.example',
    exit: { termination: 0, status: 0 }, session: 0, time: '2023-11-14T22:13:20.250000Z', tvSec: 1700000000, tvUsec: 250000, address: '192.0.2.1',
  });
  assert.deepEqual(Object.keys(entry).includes('toJSON'), false, 'toJSON is not an enumerable field');
  // A record from the server serializes as its entry.
  const server = await FakeServer.start(utmpdScript([bytes], { getall: true }));
  t.after(() => server.close());
  const session = await UtmpSession.connect({ path: server.path });
  const [record] = await session.readAll();
  session.close();
  assert.deepEqual(JSON.parse(JSON.stringify({ record })), { record: json });
});

test('await using closes a session (Symbol.asyncDispose)', async (t) => {
  const server = await FakeServer.start(() => status(0));
  t.after(() => server.close());
  let kept: UtmpSession | undefined;
  {
    const session = await UtmpSession.connect({ path: server.path });
    kept = session;
    await session[Symbol.asyncDispose]();
  }
  assert.equal(kept.closed, true);
  await until(() => server.closed.has(0), 'the server to see the close');
  await assert.rejects(kept.rewind(), { code: 'EPIPE' });
});

test('a script that leaves the implicit session and a session open still exits once idle', async (t) => {
  const rows = [buildRecord(ENTRY)];
  const server = await FakeServer.start((request) => (request.command === 'i' ? found(rows[0]) : utmpdScript(rows, { getall: false })(request)));
  t.after(() => server.close());
  const entry = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;
  // No endutxent(), no close(): the process must still end on its own.
  const script = `
    const { getutxent, getutxid, UtmpSession } = await import(${JSON.stringify(entry)});
    const first = await getutxent();
    await getutxid({ type: 'USER_PROCESS', id: 'ts/3' });
    const session = await UtmpSession.connect();
    await session.rewind();
    console.log(first.entry.user);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, UTMPS_UTMPD_SOCKET: server.path },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c));
  child.stderr.on('data', (c: Buffer) => (out += c));
  // Generous: a hung child is killed after 20 s, far beyond a normal exit.
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(killer);
  assert.deepEqual([code, signal, out.trim()], [0, null, 'ada']);
  assert.equal(server.connections, 2, 'both connections were really open');
});
