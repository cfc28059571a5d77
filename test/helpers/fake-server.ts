// A scriptable stand-in for utmpd/wtmpd on a temp Unix socket. It frames requests with its
// own copy of the fixed body sizes (PROTOCOL.md sections 3 and 4), records every byte it
// receives, and answers as the script says: recorded bytes, byte by byte with delays, never
// (hang), or by closing. Every test closes its fake servers.

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Body sizes after the command byte; a byte not listed is taken as a bare command. */
const BODY: Readonly<Record<string, number>> = { r: 0, e: 0, A: 0, i: 6, l: 32, E: 400, '+': 400 };

export interface FakeRequest {
  connection: number;
  /** The command as a character ('r', 'E', '+', ...). */
  command: string;
  /** The whole request, command byte included. */
  bytes: Buffer;
}

export type Reply =
  | Uint8Array
  | { bytes: Uint8Array; chunkSize?: number; delayMs?: number; close?: boolean }
  | 'hang'
  | 'close';

export type Script = (request: FakeRequest) => Reply | Promise<Reply>;

export class FakeServer {
  readonly requests: FakeRequest[] = [];
  /** Every byte received, one buffer per connection, in connection order. */
  readonly received: Buffer[] = [];
  /** Connections the client (or the script) has closed. */
  readonly closed = new Set<number>();
  readonly #sockets = new Set<Socket>();
  readonly #stop = new AbortController();

  private constructor(
    readonly path: string,
    private readonly dir: string,
    private readonly server: Server,
    private readonly script: Script,
  ) {
    server.on('connection', (socket) => this.#serve(socket));
  }

  static async start(script: Script): Promise<FakeServer> {
    const dir = await mkdtemp('/tmp/uf-');
    const path = join(dir, 's');
    const server = createServer();
    const fake = new FakeServer(path, dir, server, script);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    return fake;
  }

  get connections(): number {
    return this.received.length;
  }

  async close(): Promise<void> {
    this.#stop.abort();
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  #serve(socket: Socket): void {
    const connection = this.received.length;
    this.received.push(Buffer.alloc(0));
    this.#sockets.add(socket);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      this.closed.add(connection);
    });
    socket.on('error', () => undefined); // a client that vanishes is not a test failure
    let pending = Buffer.alloc(0);
    let stopped = false;
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      this.received[connection] = Buffer.concat([this.received[connection], chunk]);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (pending.length === 0) return;
        const command = String.fromCharCode(pending[0]);
        const size = 1 + (BODY[command] ?? 0);
        if (pending.length < size) return;
        const request = { connection, command, bytes: pending.subarray(0, size) };
        pending = pending.subarray(size);
        this.requests.push(request);
        // Answers go out in request order, each after the previous one finished.
        queue = queue.then(async () => {
          if (stopped || socket.destroyed) return;
          const reply = await this.script(request);
          stopped = await this.#reply(socket, reply);
        }).catch(() => undefined);
      }
    });
  }

  /** Sends one reply; true when the connection must not answer anything more. */
  async #reply(socket: Socket, reply: Reply): Promise<boolean> {
    if (reply === 'hang') return true;
    if (reply === 'close') {
      socket.destroy();
      return true;
    }
    const { bytes, chunkSize = bytes.length || 1, delayMs = 0, close = false } = reply instanceof Uint8Array ? { bytes: reply } : reply;
    for (let at = 0; at < bytes.length; at += chunkSize) {
      if (delayMs > 0) await sleep(delayMs, undefined, { signal: this.#stop.signal });
      if (socket.destroyed) return true;
      socket.write(bytes.subarray(at, at + chunkSize));
    }
    if (close) socket.end();
    return close;
  }
}

/** Polls until `condition` holds; for waiting on the fake's view of a connection. */
export async function until(condition: () => boolean, what: string, limitMs = 5000): Promise<void> {
  for (const start = Date.now(); !condition(); await sleep(5)) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
  }
}

export const status = (errno: number): Buffer => Buffer.of(errno);
export const found = (record: Uint8Array): Buffer => Buffer.concat([Buffer.of(0), record]);

/**
 * A tiny utmpd over a fixed list of records: r, e, E (always OK), and A when `getall` is
 * set; any other command closes the connection, as the C daemon does. Cursors are per
 * connection.
 */
export function utmpdScript(records: readonly Uint8Array[], options: { getall: boolean }): Script {
  const cursors = new Map<number, number>();
  return ({ connection, command }) => {
    const at = cursors.get(connection) ?? 0;
    switch (command) {
      case 'r':
        cursors.set(connection, 0);
        return status(0);
      case 'e':
        if (at >= records.length) return status(3);
        cursors.set(connection, at + 1);
        return found(records[at]);
      case 'E':
        return status(0);
      case 'A':
        if (!options.getall) return 'close';
        cursors.set(connection, records.length);
        return Buffer.concat([...records.slice(at).map(found), status(3)]);
      default:
        return 'close';
    }
  };
}
