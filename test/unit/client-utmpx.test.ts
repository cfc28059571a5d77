// The POSIX-named facade: one implicit session, utmpxname, the wtmp helpers and
// login/logout, against fake servers.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { UtmpsError } from '../../src/client/errors.js';
import { createUtmpx, endutxent, getutxent, idFromLine, setutxent } from '../../src/client/utmpx.js';
import { decodeEntry } from '../../src/record/index.js';
import { cat, le, padded } from '../helpers/bytes.js';
import { FakeServer, found, type Script, status, until, utmpdScript } from '../helpers/fake-server.js';

async function start(t: { after(fn: () => Promise<void>): void }, script: Script): Promise<FakeServer> {
  const server = await FakeServer.start(script);
  t.after(() => server.close());
  return server;
}

const wtmpd = (): Script => () => ({ bytes: status(0), close: true });

function record(type: number, line: string, id: string, user: string, host = ''): Buffer {
  const head = cat(le(type, 2), Buffer.alloc(2), le(4242, 4), padded(line, 32), padded(id, 4), padded(user, 32), padded(host, 256));
  // e_termination/e_exit 1/2, session 9, tv 1000.5, then an address, so edits must keep them.
  return cat(head, le(1, 2), le(2, 2), le(9, 4), Buffer.alloc(4), le(1000, 8), le(500000, 8), Buffer.of(192, 0, 2, 10), Buffer.alloc(36));
}

/** The record in a putline ('E') or append ('+') request. */
const body = (server: FakeServer, index: number): Buffer => server.requests[index].bytes.subarray(1);

function assertNow(tvSec: bigint): void {
  const now = Date.now() / 1000;
  assert.ok(Math.abs(Number(tvSec) - now) < 30, `time ${tvSec} is not now (${now})`);
}

test('one implicit session: cursor kept between calls, closed by endutxent', async (t) => {
  const rows = [record(7, 'pts/0', 'ts/0', 'bob'), record(7, 'pts/1', 'ts/1', 'eve')];
  const server = await start(t, utmpdScript(rows, { getall: false }));
  const utx = createUtmpx({ utmpdPath: server.path });
  await utx.setutxent();
  assert.equal((await utx.getutxent())?.entry.user, 'bob');
  assert.equal((await utx.getutxent())?.entry.user, 'eve');
  assert.equal(await utx.getutxent(), null);
  assert.equal(server.connections, 1);
  await utx.endutxent();
  await until(() => server.closed.has(0), 'endutxent to close the connection');
  // The next call reconnects, with a fresh cursor.
  assert.equal((await utx.getutxent())?.entry.user, 'bob');
  assert.equal(server.connections, 2);
  await utx.endutxent();
});

test('concurrent first calls share one connection', async (t) => {
  const server = await start(t, () => status(0));
  const utx = createUtmpx({ utmpdPath: server.path });
  await Promise.all([utx.setutxent(), utx.setutxent(), utx.setutxent()]);
  assert.equal(server.connections, 1);
  await utx.endutxent();
});

test('utmpxname switches to another utmpd socket and ends the current session', async (t) => {
  const first = await start(t, () => status(0));
  const second = await start(t, () => status(3));
  const utx = createUtmpx({ utmpdPath: first.path });
  await utx.setutxent();
  await utx.utmpxname(second.path);
  await until(() => first.closed.has(0), 'the first session to close');
  assert.equal(await utx.getutxent(), null);
  assert.deepEqual(first.requests.map((r) => r.command), ['r']);
  assert.deepEqual(second.requests.map((r) => r.command), ['e']);
  await utx.endutxent();
});

test('getutxid and getutxline send type+id and the line', async (t) => {
  const row = record(7, 'pts/3', 'ts/3', 'carol');
  const server = await start(t, () => found(row));
  const utx = createUtmpx({ utmpdPath: server.path });
  assert.equal((await utx.getutxid({ type: 'USER_PROCESS', id: 'ts/3', line: 'ignored' }))?.entry.user, 'carol');
  assert.equal((await utx.getutxline({ line: 'pts/3' }))?.entry.id, 'ts/3');
  assert.equal((await utx.getutxline('pts/3'))?.entry.id, 'ts/3');
  assert.deepEqual(server.requests.map((r) => r.bytes.length), [7, 33, 33]);
  await utx.endutxent();
});

test('pututxline returns what it wrote; a refusal is a typed EPERM', async (t) => {
  let answer = 0;
  const server = await start(t, () => status(answer));
  const utx = createUtmpx({ utmpdPath: server.path });
  const written = await utx.pututxline({ type: 'LOGIN_PROCESS', pid: 23, line: 'tty1', id: '1', user: 'LOGIN' });
  assert.deepEqual(written.bytes, body(server, 0));
  assert.equal(written.entry.typeName, 'LOGIN_PROCESS');
  answer = 1;
  await assert.rejects(utx.pututxline(written), (e) => e instanceof UtmpsError && e.code === 'EPERM' && e.op === 'putline');
  await utx.endutxent();
});

test('a dead implicit session is replaced on the next call', async (t) => {
  let calls = 0;
  const server = await start(t, () => (++calls === 1 ? 'close' : status(0)));
  const utx = createUtmpx({ utmpdPath: server.path });
  await assert.rejects(utx.setutxent(), (e) => e instanceof UtmpsError && e.code === 'ECONNRESET');
  await utx.setutxent();
  assert.equal(server.connections, 2);
  await utx.endutxent();
});

test('logwtmp: USER_PROCESS for a name, DEAD_PROCESS for none, pid and time of now', async (t) => {
  const server = await start(t, wtmpd());
  const utx = createUtmpx({ wtmpdPath: server.path });
  await utx.logwtmp('pts/4', 'dora', 'example.org');
  await utx.logwtmp('pts/4', '', '');
  const [login, logout] = [decodeEntry(body(server, 0)), decodeEntry(body(server, 1))];
  assert.deepEqual([login.typeName, login.line, login.user, login.host, login.pid], ['USER_PROCESS', 'pts/4', 'dora', 'example.org', process.pid]);
  assert.equal(logout.typeName, 'DEAD_PROCESS');
  assertNow(login.tvSec);
  assert.deepEqual(server.requests.map((r) => r.command), ['+', '+']);
});

test('updwtmpx ignores its file argument', async (t) => {
  const server = await start(t, wtmpd());
  const utx = createUtmpx({ wtmpdPath: server.path });
  await utx.updwtmpx('/var/log/wtmp', { type: 'BOOT_TIME', line: '~', id: '~~', user: 'reboot' });
  assert.equal(decodeEntry(body(server, 0)).user, 'reboot');
});

// getid finds nothing (ESRCH), every write is accepted.
const freeUtmpd = (): Script => ({ command }) => (command === 'i' ? status(3) : status(0));

test('login checks the id is free, puts a USER_PROCESS record in utmp, then the same in wtmp', async (t) => {
  const utmpd = await start(t, freeUtmpd());
  const wtmp = await start(t, wtmpd());
  const utx = createUtmpx({ utmpdPath: utmpd.path, wtmpdPath: wtmp.path });
  await utx.login({ line: 'pts/7', user: 'erwin', host: 'h.example' });
  assert.deepEqual(utmpd.requests.map((r) => r.command), ['i', 'E']);
  const entry = decodeEntry(body(utmpd, 1));
  assert.deepEqual([entry.typeName, entry.pid, entry.line, entry.id, entry.user, entry.host], ['USER_PROCESS', process.pid, 'pts/7', 'ts/7', 'erwin', 'h.example']);
  assertNow(entry.tvSec);
  assert.deepEqual(body(wtmp, 0), body(utmpd, 1));
});

test('login and logwtmp record an explicit pid (a terminal server logging its children in)', async (t) => {
  const utmpd = await start(t, freeUtmpd());
  const wtmp = await start(t, wtmpd());
  const utx = createUtmpx({ utmpdPath: utmpd.path, wtmpdPath: wtmp.path });
  await utx.login({ line: 'web/3', id: 'w3', user: 'erwin', pid: 31337 });
  assert.equal(decodeEntry(body(utmpd, 1)).pid, 31337);
  assert.equal(decodeEntry(body(wtmp, 0)).pid, 31337);
  await utx.logwtmp('web/3', '', '', { pid: 31337 });
  assert.deepEqual([decodeEntry(body(wtmp, 1)).pid, decodeEntry(body(wtmp, 1)).typeName], [31337, 'DEAD_PROCESS']);
  await utx.logwtmp('web/3', 'erwin', 'h');
  assert.equal(decodeEntry(body(wtmp, 2)).pid, process.pid, 'no pid given: this process');
});

test("login refuses (EEXIST) to replace another line's live session holding the same id", async (t) => {
  const other = record(7, 'web/10012', '0012', 'bob');
  const utmpd = await start(t, ({ command }) => (command === 'i' ? found(other) : status(0)));
  const wtmp = await start(t, wtmpd());
  const utx = createUtmpx({ utmpdPath: utmpd.path, wtmpdPath: wtmp.path });
  await assert.rejects(
    utx.login({ line: 'web/20012', user: 'eve' }),
    (e) => e instanceof UtmpsError && e.code === 'EEXIST' && e.op === 'login' && /held by the session on web\/10012/.test(e.message),
  );
  assert.deepEqual(utmpd.requests.map((r) => r.command), ['i'], 'nothing written to utmp');
  assert.equal(wtmp.requests.length, 0, 'nothing written to wtmp');
  // The same line (a re-login) or a dead record may be replaced.
  const same = await start(t, ({ command }) => (command === 'i' ? found(record(7, 'web/20012', '0012', 'eve')) : status(0)));
  await createUtmpx({ utmpdPath: same.path, wtmpdPath: wtmp.path }).login({ line: 'web/20012', user: 'eve' });
  const dead = await start(t, ({ command }) => (command === 'i' ? found(record(8, 'web/10012', '0012', '')) : status(0)));
  await createUtmpx({ utmpdPath: dead.path, wtmpdPath: wtmp.path }).login({ line: 'web/20012', user: 'eve' });
  assert.equal(wtmp.requests.length, 2);
});

test('facade functions take a per-call signal and timeout', async (t) => {
  const server = await start(t, ({ command }) => (command === 'e' ? 'hang' : status(0)));
  const utx = createUtmpx({ utmpdPath: server.path, timeoutMs: 60_000 });
  await utx.setutxent();
  await assert.rejects(utx.getutxent({ timeoutMs: 30 }), (e) => e instanceof UtmpsError && e.code === 'ETIMEDOUT' && e.reason === 'the deadline of 30 ms passed');
  const controller = new AbortController();
  const pending = utx.getutxent({ signal: controller.signal });
  controller.abort();
  await assert.rejects(pending, (e) => e instanceof UtmpsError && e.name === 'AbortError' && e.code === 'ABORT_ERR');
  // An already aborted signal: nothing is sent.
  const before = server.requests.length;
  await assert.rejects(utx.setutxent({ signal: AbortSignal.abort() }), { name: 'AbortError', code: 'ABORT_ERR' });
  assert.equal(server.requests.length, before);
  await utx.endutxent();
});

test('idFromLine: drop /dev/ and a leading tty, keep the last 4 bytes', () => {
  assert.equal(idFromLine('tty1'), '1');
  assert.equal(idFromLine('/dev/tty12'), '12');
  assert.equal(idFromLine('pts/0'), 'ts/0');
  assert.equal(idFromLine('pts/123'), '/123');
  assert.equal(idFromLine('console'), 'sole');
});

test('logout marks the USER_PROCESS record of the line dead, keeping the other bytes', async (t) => {
  const login = record(6, 'tty2', '2', 'LOGIN');
  const user = record(7, 'tty2', '2', 'albert', 'far.example');
  let hits = 0;
  const server = await start(t, ({ command }) => {
    if (command === 'l') return [found(login), found(user), status(3)][hits++];
    return status(0);
  });
  const utx = createUtmpx({ utmpdPath: server.path });
  assert.equal(await utx.logout('tty2'), true);
  assert.deepEqual(server.requests.map((r) => r.command), ['r', 'l', 'l', 'E']);
  const put = body(server, 3);
  const entry = decodeEntry(put);
  assert.deepEqual([entry.typeName, entry.user, entry.host, entry.line, entry.id, entry.pid], ['DEAD_PROCESS', '', '', 'tty2', '2', 4242]);
  assertNow(entry.tvSec);
  // Everything but type, user, host and time is the record as read.
  for (const [from, to] of [[2, 44], [332, 344], [360, 400]]) assert.deepEqual(put.subarray(from, to), user.subarray(from, to));
  // No USER_PROCESS left for the line: false.
  assert.equal(await utx.logout('tty2'), false);
});

test('the module-level functions use the implicit facade and the environment', async (t) => {
  const saved = process.env.UTMPS_UTMPD_SOCKET;
  t.after(() => {
    if (saved === undefined) delete process.env.UTMPS_UTMPD_SOCKET;
    else process.env.UTMPS_UTMPD_SOCKET = saved;
  });
  const server = await start(t, utmpdScript([record(2, '~', '~~', 'reboot')], { getall: false }));
  process.env.UTMPS_UTMPD_SOCKET = server.path;
  await setutxent();
  assert.equal((await getutxent())?.entry.typeName, 'BOOT_TIME');
  assert.equal(await getutxent(), null);
  await endutxent();
  assert.equal(server.connections, 1);
});
