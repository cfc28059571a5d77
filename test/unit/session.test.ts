// The session's output side over a fake transport whose client takes its answers only
// when the test says so: answers are never split, merged only for requests the client
// had already sent, and a client that does not take them holds at most the cap plus one
// answer before its input is paused and, past the answer deadline, it is dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from '../../src/protocol/request.js';
import { type HandlerResult, type ServiceHandler, Session, type SessionEnd, type Transport, UNSENT_CAP } from '../../src/server/session.js';

const REWIND = 0x72;
const GETENT = 0x65;
const RECORD_ANSWER = 401;

/** rewind answers 00; getent a whole record answer (00 + 400 bytes of 0xee). */
const handler: ServiceHandler = {
  service: 'utmp',
  oneRequest: false,
  async handle(request: Request): Promise<HandlerResult> {
    if (request.op === 'getent') return { answer: Buffer.concat([Buffer.of(0), Buffer.alloc(400, 0xee)]) };
    return { answer: Buffer.of(0) };
  },
};

class FakeClient implements Transport {
  writes: Buffer[] = [];
  queued = 0;
  taking = true;
  paused = false;
  closed = false;
  private waiters: { left: number; resolve: () => void }[] = [];

  write(data: Buffer): Promise<void> {
    this.writes.push(data);
    if (this.taking) return Promise.resolve();
    this.queued += data.length;
    return new Promise((resolve) => this.waiters.push({ left: this.queued, resolve }));
  }
  unsent(): number {
    return this.queued;
  }
  close(): void {
    this.closed = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** The client reads everything. */
  take(): void {
    this.queued = 0;
    this.taking = true;
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function start(client: FakeClient, answerMs = 30_000): { session: Session; ends: SessionEnd[] } {
  const ends: SessionEnd[] = [];
  const session = new Session(handler, client, { bodyMs: 30_000, answerMs, idleMs: 0 }, (e) => ends.push(e));
  return { session, ends };
}

test('one request at a time: each answer is its own write', async () => {
  const client = new FakeClient();
  const { session } = start(client);
  for (const byte of [REWIND, GETENT, REWIND]) {
    session.push(Buffer.of(byte));
    await tick();
  }
  assert.deepEqual(
    client.writes.map((w) => w.length),
    [1, RECORD_ANSWER, 1],
  );
  session.abort({ reason: 'eof' });
});

test('pipelined requests: their answers are merged, in order, up to the cap', async () => {
  const client = new FakeClient();
  const { session } = start(client);
  const n = 100;
  session.push(Buffer.alloc(n, GETENT));
  await tick(10);
  const all = Buffer.concat(client.writes);
  assert.equal(all.length, n * RECORD_ANSWER, 'every answer, whole');
  assert.ok(client.writes.length < n / 5, `merged into few writes (${client.writes.length})`);
  for (const w of client.writes) {
    assert.equal(w.length % RECORD_ANSWER, 0, 'no answer split across writes');
    assert.ok(w.length <= UNSENT_CAP + RECORD_ANSWER, `a write holds at most the cap plus one answer (${w.length})`);
  }
  session.abort({ reason: 'eof' });
});

test('a client that takes nothing: the session holds at most the cap plus one answer and stops reading', async () => {
  const client = new FakeClient();
  client.taking = false;
  const { session, ends } = start(client);
  // Thousands of requests, mixed sizes of answer, none taken.
  const burst = Buffer.alloc(5000);
  for (let i = 0; i < burst.length; i++) burst[i] = i % 3 === 0 ? GETENT : REWIND;
  session.push(burst);
  await tick(20);
  assert.ok(client.paused, 'input is paused');
  assert.ok(session.peakBuffered <= UNSENT_CAP + RECORD_ANSWER, `peak ${session.peakBuffered} within ${UNSENT_CAP} + ${RECORD_ANSWER}`);
  const before = Buffer.concat(client.writes).length;
  assert.ok(before < 2 * UNSENT_CAP, `only about the cap was answered so far (${before})`);
  // The client takes its answers: the session goes on, and every request is answered.
  for (let round = 0; round < 1000 && Buffer.concat(client.writes).length < expected(burst); round++) {
    client.take();
    client.taking = false;
    await tick();
  }
  assert.equal(Buffer.concat(client.writes).length, expected(burst), 'every request answered once the client reads');
  assert.ok(session.peakBuffered <= UNSENT_CAP + RECORD_ANSWER, `peak ${session.peakBuffered} all along`);
  assert.equal(ends.length, 0);
  client.take();
  session.abort({ reason: 'eof' });
});

test('a client that keeps the cap full past the answer deadline is dropped', async () => {
  const client = new FakeClient();
  client.taking = false;
  const { session, ends } = start(client, 50);
  session.push(Buffer.alloc(100, GETENT));
  await tick(200);
  assert.equal(ends.length, 1);
  assert.equal(ends[0].reason, 'timeout');
  assert.ok(client.closed);
  // Ended: what the client sends now is never read nor answered.
  const written = client.writes.length;
  session.push(Buffer.of(REWIND));
  await tick(10);
  assert.equal(client.writes.length, written);
  assert.equal(ends.length, 1);
});

test('answers owed before an unknown command byte go out before the close', async () => {
  const client = new FakeClient();
  const { session, ends } = start(client);
  session.push(Buffer.of(REWIND, REWIND, GETENT, 0x00));
  await tick(10);
  assert.equal(Buffer.concat(client.writes).length, 2 + RECORD_ANSWER);
  assert.equal(ends[0]?.reason, 'protocol');
});

function expected(burst: Buffer): number {
  let n = 0;
  for (const b of burst) n += b === GETENT ? RECORD_ANSWER : 1;
  return n;
}

test('an answer holding a read slot goes at once and frees the slot only once it has left; pipelined, they never wait on each other', async () => {
  const { ReadSlots } = await import('../../src/server/read-slots.js');
  const slots = new ReadSlots(1);
  const held: number[] = [];
  const gated: ServiceHandler = {
    service: 'utmp',
    oneRequest: false,
    async handle(_request: Request, signal?: AbortSignal): Promise<HandlerResult> {
      const release = await slots.acquire(65534, signal ?? new AbortController().signal);
      held.push(slots.reading(65534));
      return { answer: Buffer.alloc(5000, 0xee), release };
    },
  };
  const client = new FakeClient();
  client.taking = false;
  const ends: SessionEnd[] = [];
  const session = new Session(gated, client, { bodyMs: 30_000, answerMs: 30_000, idleMs: 0 }, (e) => ends.push(e));
  session.push(Buffer.of(GETENT, GETENT, GETENT)); // three pipelined whole-file reads, one slot
  await tick(10);
  assert.equal(client.writes.length, 1, 'the first answer went out alone');
  assert.equal(slots.reading(65534), 1, 'its slot is held while the client has not taken it');
  client.take();
  await tick(10);
  assert.equal(client.writes.length, 3, 'the others followed, one slot at a time');
  assert.deepEqual(held, [1, 1, 1]);
  assert.equal(slots.reading(65534), 0, 'every slot is free once the answers have left');
  session.abort({ reason: 'eof' });
  assert.deepEqual(ends, [{ reason: 'eof' }]);
});

test('a session that ends frees the slots of answers still waiting to leave', async () => {
  const { ReadSlots } = await import('../../src/server/read-slots.js');
  const slots = new ReadSlots(1);
  const gated: ServiceHandler = {
    service: 'utmp',
    oneRequest: false,
    async handle(_request: Request, signal?: AbortSignal): Promise<HandlerResult> {
      return { answer: Buffer.alloc(5000, 0xee), release: await slots.acquire(65534, signal ?? new AbortController().signal) };
    },
  };
  const client = new FakeClient();
  client.taking = false;
  const session = new Session(gated, client, { bodyMs: 30_000, answerMs: 30_000, idleMs: 0 }, () => {});
  session.push(Buffer.of(GETENT));
  await tick(10);
  assert.equal(slots.reading(65534), 1);
  session.abort({ reason: 'eof' });
  await tick(10);
  assert.equal(slots.reading(65534), 0);
});

function timed(client: FakeClient, timeouts: Partial<{ bodyMs: number; answerMs: number; idleMs: number }>, h: ServiceHandler = handler) {
  const ends: SessionEnd[] = [];
  const session = new Session(h, client, { bodyMs: 30_000, answerMs: 30_000, idleMs: 0, ...timeouts }, (e) => ends.push(e));
  return { session, ends };
}

const GETLINE = 0x6c;

test('deadlines: a request body cut short, or silence between requests, ends the session', async () => {
  const body = timed(new FakeClient(), { bodyMs: 30 });
  body.session.push(Buffer.of(GETLINE, 0x41));
  const idle = timed(new FakeClient(), { idleMs: 30 });
  await tick(150);
  assert.equal(body.ends[0]?.reason, 'timeout');
  assert.match((body.ends[0] as { message: string }).message, /request incomplete after 30 ms \(2 bytes received\)/);
  assert.deepEqual(idle.ends, [{ reason: 'timeout', message: 'idle for 30 ms' }]);
});

test('deadlines of 0 are none: a slow body, a long silence and an unread answer all wait', async () => {
  const client = new FakeClient();
  client.taking = false;
  const { session, ends } = timed(client, { bodyMs: 0, answerMs: 0, idleMs: 0 });
  session.push(Buffer.alloc(100, GETENT)); // past the unsent cap: the answer deadline would run
  session.push(Buffer.of(GETLINE));
  await tick(150);
  assert.deepEqual(ends, [], 'still served');
  client.take();
  session.push(Buffer.alloc(32, 0x41));
  await tick(10);
  session.eof();
  await tick(10);
  assert.deepEqual(ends, [{ reason: 'eof' }]);
  assert.equal(Buffer.concat(client.writes).length, 100 * RECORD_ANSWER + 1, 'every answer, the getline one last');
});

test('one request per connection with -t 0: no deadline from the connect either', async () => {
  const once: ServiceHandler = { ...handler, oneRequest: true };
  const { ends } = timed(new FakeClient(), { bodyMs: 0 }, once);
  const armed = timed(new FakeClient(), { bodyMs: 30 }, once);
  await tick(100);
  assert.deepEqual(ends, []);
  assert.equal(armed.ends[0]?.reason, 'timeout');
});

test('backlog: past 64 KiB of unread requests input pauses, and resumes once they are served', async () => {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const slow: ServiceHandler = {
    ...handler,
    async handle(request: Request): Promise<HandlerResult> {
      await gate;
      return handler.handle(request, new AbortController().signal);
    },
  };
  const client = new FakeClient();
  const { session, ends } = timed(client, {}, slow);
  // getline requests, 33 bytes each, answered with one byte.
  const requests = Buffer.alloc(33 * 1250, 0x41);
  for (let at = 0; at < requests.length; at += 33) requests[at] = GETLINE;
  session.push(requests);
  await tick();
  assert.equal(client.paused, false, 'under the limit');
  session.push(requests);
  await tick();
  assert.equal(client.paused, true, 'over the limit');
  open();
  for (let i = 0; i < 200 && client.paused; i++) await tick();
  assert.equal(client.paused, false, 'resumed');
  await tick(10);
  assert.equal(Buffer.concat(client.writes).length, 2 * 1250, 'every request answered');
  assert.deepEqual(ends, []);
  session.abort({ reason: 'eof' });
});

test('pipelined requests followed at once by the client\'s EOF: all answered, then eof; a partial last one: truncated', async () => {
  const whole = new FakeClient();
  const a = timed(whole, {});
  a.session.push(Buffer.of(GETENT, REWIND, GETENT, GETLINE, ...Buffer.alloc(32, 0x41)));
  a.session.eof();
  await tick(10);
  assert.deepEqual(a.ends, [{ reason: 'eof' }]);
  assert.equal(Buffer.concat(whole.writes).length, 401 + 1 + 401 + 1);
  assert.ok(whole.closed);

  const cut = new FakeClient();
  const b = timed(cut, {});
  b.session.push(Buffer.of(REWIND, GETENT, GETLINE, 0x41));
  b.session.eof();
  await tick(10);
  assert.equal(Buffer.concat(cut.writes).length, 1 + 401, 'the whole requests are answered');
  assert.equal(b.ends[0]?.reason, 'truncated');
});
