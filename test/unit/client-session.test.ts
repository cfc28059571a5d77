// UtmpSession and appendWtmp against the C client's transcripts (test/vectors/
// transcripts.json): a fake replays the C daemon's answers, and the bytes our client sends
// must equal, byte for byte, what libutmps sent. Then readAll with and without the getall
// extension, and the socket path rules.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { UtmpsError } from '../../src/client/errors.js';
import { DEFAULT_UTMPD_SOCKET, utmpdSocketPath, wtmpdSocketPath } from '../../src/client/paths.js';
import { UtmpSession } from '../../src/client/utmp-session.js';
import { appendWtmp } from '../../src/client/wtmp.js';
import { RecordError } from '../../src/record/index.js';
import { cat, hex, le, padded, toHex } from '../helpers/bytes.js';
import { FakeServer, found, type Script, status, utmpdScript } from '../helpers/fake-server.js';
import { VECTORS } from '../helpers/paths.js';

interface Chunk {
  dir: 'C>S' | 'S>C';
  hex?: string;
}
interface Transcript {
  name: string;
  client: string;
  connections: Array<{ chunks: Chunk[] }>;
}

const TRANSCRIPTS: Transcript[] = JSON.parse(readFileSync(join(VECTORS, 'transcripts.json'), 'utf8')).transcripts;

function chunks(t: Transcript, dir: Chunk['dir']): Buffer[] {
  return t.connections[0].chunks.filter((c) => c.dir === dir && c.hex !== undefined).map((c) => hex(c.hex ?? ''));
}

/** Answers each request with the C daemon's next answer from the transcript. */
function replay(t: Transcript, closeAfter: boolean): Script {
  const answers = chunks(t, 'S>C');
  return () => ({ bytes: answers.shift() ?? Buffer.alloc(0), close: closeAfter });
}

async function start(t: { after(fn: () => Promise<void>): void }, script: Script): Promise<FakeServer> {
  const server = await FakeServer.start(script);
  t.after(() => server.close());
  return server;
}

/** A 400-byte record by hand, for the fakes to hold. */
function record(type: number, line: string, id: string, user: string, sec: number): Buffer {
  const head = cat(le(type, 2), Buffer.alloc(2), le(100 + type, 4), padded(line, 32), padded(id, 4), padded(user, 32));
  return cat(head, Buffer.alloc(344 - head.length), le(sec, 8), Buffer.alloc(48));
}
const RECORDS = [record(2, '~', '~~', 'reboot', 1000), record(6, 'tty1', '1', 'LOGIN', 2000), record(7, 'pts/0', 'ts/0', 'bob', 3000)];

describe('requests equal the C client bytes of every utmpd and wtmpd transcript', () => {
  for (const transcript of TRANSCRIPTS) {
    const words = transcript.client.split(' ');
    if (words[0] !== 'utmps-proto-client') continue; // raw malformed requests: not a client's
    test(transcript.name, async (t) => {
      const ops = words.slice(2);
      const wtmp = ops[0].startsWith('+');
      const server = await start(t, replay(transcript, wtmp));
      const sent = chunks(transcript, 'C>S');
      const answers = chunks(transcript, 'S>C');
      if (wtmp) {
        const outcome = appendWtmp(sent[0].subarray(1), { path: server.path });
        if (answers[0][0] === 0) await outcome;
        else await assert.rejects(outcome, (e) => e instanceof UtmpsError && e.code === 'EPERM' && e.op === 'append');
      } else {
        const session = await UtmpSession.connect({ path: server.path });
        for (const [i, op] of ops.entries()) {
          const [verb, a = '', b = ''] = op.split(':');
          const call =
            verb === 'r' ? session.rewind().then(() => null)
            : verb === 'e' ? session.next()
            : verb === 'i' ? session.findId(a, b)
            : verb === 'l' ? session.findLine(a)
            : session.put(sent[i].subarray(1)).then(() => null);
          const answer = answers[i];
          if (answer[0] === 0) assert.deepEqual((await call)?.bytes, answer.length > 1 ? answer.subarray(1) : undefined);
          else if (answer[0] === 3 && verb !== 'E') assert.equal(await call, null);
          else await assert.rejects(call, (e) => e instanceof UtmpsError && e.errno === answer[0]);
        }
        session.close();
      }
      assert.equal(toHex(server.received[0]), toHex(Buffer.concat(sent)));
    });
  }
});

test('put builds the transcript 03 record byte for byte from fields', async (t) => {
  const server = await start(t, () => status(0));
  const session = await UtmpSession.connect({ path: server.path });
  await session.put({ type: 'USER_PROCESS', pid: 4242, line: 'pts/1', id: 'ts/1', user: 'alice', host: 'host.example', tvSec: 1700000000, tvUsec: 123456 });
  session.close();
  const c03 = TRANSCRIPTS.find((x) => x.name.startsWith('03-'));
  assert.ok(c03);
  assert.equal(toHex(server.received[0]), toHex(chunks(c03, 'C>S')[0]));
});

test('getid sends 69, the type big-endian, the id NUL-padded (transcript 06)', async (t) => {
  const server = await start(t, () => status(3));
  const session = await UtmpSession.connect({ path: server.path });
  assert.equal(await session.findId(7, Buffer.from('ts/1')), null);
  assert.equal(await session.findId('user_process', 'ts'), null);
  session.close();
  assert.equal(toHex(server.received[0]), '69000774732f31' + '690007747300' + '00');
});

test('ids and lines too long for their field are refused before anything is sent', async (t) => {
  const server = await start(t, () => status(3));
  const session = await UtmpSession.connect({ path: server.path });
  await assert.rejects(session.findId('USER_PROCESS', 'ts/10'), RecordError);
  await assert.rejects(session.findLine('x'.repeat(33)), RecordError);
  await assert.rejects(session.findId('NO_SUCH_TYPE', '1'), RecordError);
  await assert.rejects(session.put(Buffer.alloc(399)), RecordError);
  assert.equal(await session.findLine('x'.repeat(32)), null);
  session.close();
  assert.deepEqual(server.requests.map((r) => r.command), ['l']);
});

test('a status other than 0 and ESRCH is an error (EINVAL for getid of EMPTY)', async (t) => {
  const server = await start(t, () => status(22));
  const session = await UtmpSession.connect({ path: server.path });
  await assert.rejects(session.findId(0, ''), (e) => e instanceof UtmpsError && e.code === 'EINVAL' && e.op === 'getid');
  session.close();
});

test('readAll on a server without the extension: falls back to getent, and remembers', async (t) => {
  const server = await start(t, utmpdScript(RECORDS, { getall: false }));
  const session = await UtmpSession.connect({ path: server.path });
  const all = await session.readAll();
  assert.deepEqual(all.map((r) => r.bytes), RECORDS);
  assert.equal(session.extensions, false);
  assert.deepEqual(all.map((r) => r.entry.user), ['reboot', 'LOGIN', 'bob']);
  const byConnection = (n: number): string => server.requests.filter((r) => r.connection === n).map((r) => r.command).join('');
  assert.equal(byConnection(0), 'rA');
  assert.equal(byConnection(1), 'reeee');
  // Known now: the second readAll goes straight to getent on the same connection.
  assert.equal((await session.readAll()).length, 3);
  assert.equal(server.connections, 2);
  assert.equal(byConnection(1), 'reeee' + 'reeee');
  session.close();
});

test('readAll on a server with the extension: one getall request', async (t) => {
  const server = await start(t, utmpdScript(RECORDS, { getall: true }));
  const session = await UtmpSession.connect({ path: server.path });
  const all = await session.readAll();
  assert.deepEqual(all.map((r) => r.bytes), RECORDS);
  assert.equal(session.extensions, true);
  assert.equal(server.connections, 1);
  assert.deepEqual(server.requests.map((r) => r.command), ['r', 'A']);
  session.close();
});

test('readAll parses getall answers split at every byte', async (t) => {
  const answer = cat(...RECORDS.map(found), 3);
  const server = await start(t, ({ command }) => (command === 'A' ? { bytes: answer, chunkSize: 1 } : status(0)));
  const session = await UtmpSession.connect({ path: server.path });
  assert.deepEqual((await session.readAll()).map((r) => r.bytes), RECORDS);
  session.close();
});

test('readAll of an empty file, both ways', async (t) => {
  for (const getall of [true, false]) {
    const server = await start(t, utmpdScript([], { getall }));
    const session = await UtmpSession.connect({ path: server.path });
    assert.deepEqual(await session.readAll(), []);
    session.close();
  }
});

test('the async iterator yields records from the cursor until ESRCH', async (t) => {
  const server = await start(t, utmpdScript(RECORDS, { getall: false }));
  const session = await UtmpSession.connect({ path: server.path });
  const seen: string[] = [];
  for await (const r of session) seen.push(r.entry.line);
  assert.deepEqual(seen, ['~', 'tty1', 'pts/0']);
  session.close();
});

test('wtmp append: one connection per call, EPERM typed with op append', async (t) => {
  let answer = 0;
  const server = await start(t, () => ({ bytes: status(answer), close: true }));
  await appendWtmp({ type: 'DEAD_PROCESS', line: 'pts/0', id: 'ts/0' }, { path: server.path });
  answer = 1;
  await assert.rejects(appendWtmp(RECORDS[0], { path: server.path }), (e) => e instanceof UtmpsError && e.code === 'EPERM' && e.message.startsWith(`append via ${server.path}: Operation not permitted: a wtmp record from a user other than root must name that user`));
  assert.equal(server.connections, 2);
  assert.equal(toHex(server.received[1]), toHex(cat('+', RECORDS[0])));
});

describe('socket paths: option, then environment, then default', () => {
  const saved = { u: process.env.UTMPS_UTMPD_SOCKET, w: process.env.UTMPS_WTMPD_SOCKET };
  const restore = (): void => {
    for (const [key, value] of [['UTMPS_UTMPD_SOCKET', saved.u], ['UTMPS_WTMPD_SOCKET', saved.w]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };

  test('resolution order', (t) => {
    t.after(restore);
    delete process.env.UTMPS_UTMPD_SOCKET;
    delete process.env.UTMPS_WTMPD_SOCKET;
    assert.equal(utmpdSocketPath(), DEFAULT_UTMPD_SOCKET);
    assert.equal(wtmpdSocketPath(), '/run/utmps/.wtmpd-socket');
    process.env.UTMPS_UTMPD_SOCKET = '/tmp/env-u';
    process.env.UTMPS_WTMPD_SOCKET = '/tmp/env-w';
    assert.equal(utmpdSocketPath(), '/tmp/env-u');
    assert.equal(wtmpdSocketPath(), '/tmp/env-w');
    assert.equal(utmpdSocketPath('/tmp/opt'), '/tmp/opt');
  });

  test('UTMPS_UTMPD_SOCKET and UTMPS_WTMPD_SOCKET reach the servers', async (t) => {
    t.after(restore);
    const utmpd = await start(t, () => status(0));
    const wtmpd = await start(t, () => ({ bytes: status(0), close: true }));
    process.env.UTMPS_UTMPD_SOCKET = utmpd.path;
    process.env.UTMPS_WTMPD_SOCKET = wtmpd.path;
    const session = await UtmpSession.connect();
    assert.equal(session.path, utmpd.path);
    await session.rewind();
    session.close();
    await appendWtmp(RECORDS[0]);
    assert.equal(utmpd.requests.length, 1);
    assert.equal(wtmpd.requests.length, 1);
  });
});
