// One rule set for every transport: the same cases run over a Unix socket served the
// utmpsd way (in this process, through attachSession as Utmpsd.accept does), and over
// stdin/stdout served the UCSPI way (a spawned process running the real serveStdio),
// with stdin and stdout one accepted socket (s6-ipcserver) or two socketpairs (spawn's
// pipes). Each case asserts how the session ended and every byte the client got.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import type { SessionEnd, SessionTimeouts } from '../../src/server/session.js';
import { attachSession } from '../../src/server/transport.js';
import { FIXTURE, type FixtureConfig, fakeUtmpHandler, GETENT, GETENT_ANSWER, GETLINE, REWIND } from '../helpers/session-fixture.js';

const DEFAULTS: SessionTimeouts = { bodyMs: 30_000, answerMs: 30_000, idleMs: 0 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The client's side of one connection, whatever carries it. */
class Client {
  private chunks: Buffer[] = [];
  /** Resolves when the server has closed the answer side. */
  readonly closed: Promise<void>;

  constructor(
    private readonly out: Writable,
    private readonly in_: Readable,
  ) {
    out.on('error', () => undefined);
    in_.on('error', () => undefined);
    in_.on('data', (c: Buffer) => this.chunks.push(c));
    this.closed = new Promise((resolve) => {
      in_.once('end', resolve);
      in_.once('close', resolve);
    });
  }
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }
  write(data: Buffer): void {
    this.out.write(data);
  }
  /** Half-close: no more requests, answers still wanted. */
  end(): void {
    this.out.end();
  }
  /** Stop reading answers. */
  stopReading(): void {
    this.in_.pause();
  }
  /** Go away altogether, with answers unread. */
  reset(): void {
    this.out.destroy();
    this.in_.destroy();
  }
  async waitFor(bytes: number): Promise<void> {
    for (let i = 0; i < 500 && this.received.length < bytes; i++) await sleep(10);
    assert.ok(this.received.length >= bytes, `got ${this.received.length} of ${bytes} bytes`);
  }
}

interface Connection {
  client: Client;
  outcome: Promise<SessionEnd>;
  close(): Promise<void>;
}

type Transport = (config: FixtureConfig) => Promise<Connection>;

function socketPath(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tr-'));
  return { dir, path: join(dir, 's') };
}

async function listen(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
}

async function connectTo(path: string): Promise<Socket> {
  const socket = connect({ path, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

function outcomeOf(child: ChildProcess): Promise<SessionEnd> {
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', () => {
      const line = err.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as SessionEnd);
      } catch {
        reject(new Error(`the session process said: ${err}`));
      }
    });
  });
}

function fixtureArgs(config: FixtureConfig): string[] {
  return [FIXTURE, JSON.stringify(config)];
}

const TRANSPORTS: Record<string, Transport> = {
  /** An accepted socket in this process, served as utmpsd serves it. */
  async utmpsd(config) {
    const { dir, path } = socketPath();
    let outcome!: Promise<SessionEnd>;
    const server = createServer({ allowHalfOpen: true });
    const accepted = new Promise<void>((ready) =>
      server.once('connection', (socket) => {
        outcome = new Promise((resolve) => attachSession(fakeUtmpHandler(config.oneRequest), config, resolve, socket));
        server.close();
        ready();
      }),
    );
    await listen(server, path);
    const socket = await connectTo(path);
    await accepted;
    return { client: new Client(socket, socket), outcome, close: async () => rmSync(dir, { recursive: true, force: true }) };
  },
  /** One accepted socket as the daemon's stdin and stdout, as s6-ipcserver runs it. */
  async 'ucspi-socket'(config) {
    const { dir, path } = socketPath();
    let child!: ChildProcess;
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const spawned = new Promise<void>((ready) =>
      server.once('connection', (socket) => {
        child = spawn(process.execPath, fixtureArgs(config), { stdio: [socket, socket, 'pipe'] });
        // The daemon holds the connection now; our copy must not keep it open.
        socket.destroy();
        server.close();
        ready();
      }),
    );
    await listen(server, path);
    const socket = await connectTo(path);
    await spawned;
    return {
      client: new Client(socket, socket),
      outcome: outcomeOf(child),
      close: async () => {
        child.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  /** stdin and stdout two separate streams (a socketpair each). */
  async 'ucspi-pipes'(config) {
    const child = spawn(process.execPath, fixtureArgs(config), { stdio: ['pipe', 'pipe', 'pipe'] });
    return { client: new Client(child.stdin!, child.stdout!), outcome: outcomeOf(child), close: async () => void child.kill() };
  },
};

interface Case {
  name: string;
  timeouts?: Partial<SessionTimeouts>;
  oneRequest?: boolean;
  run(client: Client): Promise<void>;
  reason: SessionEnd['reason'];
  /** Every byte the client must have got (checked when given). */
  answers?: Buffer;
}

const getline = Buffer.concat([Buffer.of(GETLINE), Buffer.alloc(32, 0x41)]);

const CASES: Case[] = [
  {
    name: 'EOF between requests',
    async run(c) {
      c.write(Buffer.of(REWIND));
      await c.waitFor(1);
      c.end();
    },
    reason: 'eof',
    answers: Buffer.of(0),
  },
  {
    name: 'EOF in the middle of a request',
    async run(c) {
      c.write(getline.subarray(0, 10));
      c.end();
    },
    reason: 'truncated',
    answers: Buffer.alloc(0),
  },
  {
    name: 'client reset with answers unread',
    async run(c) {
      c.stopReading();
      c.write(Buffer.alloc(200, GETENT));
      await sleep(300);
      c.reset();
    },
    reason: 'eof',
  },
  {
    name: 'pipelined requests then EOF: every answer, in order, then the close',
    async run(c) {
      c.write(Buffer.concat([Buffer.alloc(50, GETENT), Buffer.of(REWIND), getline]));
      c.end();
    },
    reason: 'eof',
    answers: Buffer.concat([...Array(50).fill(GETENT_ANSWER), Buffer.of(0, 3)]),
  },
  {
    name: '-t 0: a request sent slowly is not cut short',
    timeouts: { bodyMs: 0, answerMs: 0 },
    async run(c) {
      c.write(getline.subarray(0, 1));
      await sleep(300);
      c.write(getline.subarray(1));
      await c.waitFor(1);
      c.end();
    },
    reason: 'eof',
    answers: Buffer.of(3),
  },
  {
    name: '-t 0, one request per connection: a client slow to send is not dropped',
    timeouts: { bodyMs: 0, answerMs: 0 },
    oneRequest: true,
    async run(c) {
      await sleep(300);
      c.write(Buffer.of(REWIND));
      await c.waitFor(1);
      c.end();
    },
    reason: 'eof',
    answers: Buffer.of(0),
  },
  {
    name: 'idle deadline: a silent client is closed',
    timeouts: { idleMs: 200 },
    async run() {},
    reason: 'timeout',
    answers: Buffer.alloc(0),
  },
  {
    name: 'answer deadline: a client that does not read is dropped',
    timeouts: { answerMs: 300 },
    async run(c) {
      c.stopReading();
      c.write(Buffer.alloc(5000, GETENT));
    },
    reason: 'timeout',
  },
];

for (const [kind, open] of Object.entries(TRANSPORTS)) {
  describe(`transport rules over ${kind}`, () => {
    for (const tc of CASES) {
      test(tc.name, async () => {
        const conn = await open({ ...DEFAULTS, ...tc.timeouts, oneRequest: tc.oneRequest ?? false });
        try {
          await tc.run(conn.client);
          let timer: NodeJS.Timeout | undefined;
          const end = await Promise.race([conn.outcome, new Promise<null>((resolve) => (timer = setTimeout(resolve, 10_000, null)))]);
          clearTimeout(timer);
          assert.ok(end, 'the session ended');
          assert.equal(end.reason, tc.reason, JSON.stringify(end));
          if (tc.answers) {
            await conn.client.closed;
            assert.ok(conn.client.received.equals(tc.answers), `got ${conn.client.received.length} bytes, want ${tc.answers.length}`);
          }
        } finally {
          conn.client.reset();
          await conn.close();
        }
      });
    }
  });
}
