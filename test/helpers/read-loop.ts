// A program for lock and CPU tests: `node read-loop.js SOCKET N` keeps N wtmp read
// extension requests going at once, each asking for the whole history (oldest first, no
// filter) and reading it to the end, then asking again, until stdin ends. The bytes are
// counted and dropped, so memory stays flat whatever the file size. It prints "reading"
// once the first bytes of a history arrive, and, when stdin ends, drops its connections
// and prints one JSON line: { reads, bytes, errors } (reads: histories read to the end).
// `node read-loop.js SOCKET N utmp` does the same on the utmp service: each of N
// connections asks rewind + getall again and again. Run it under setpriv to read as
// another user.

import { createConnection, type Socket } from 'node:net';

// 'R', then the query (docs/PROTOCOL-EXTENSIONS.md): flags 0, limit 0, since and until
// unbounded, no user or line filter.
const REQUEST = Buffer.alloc(86);
REQUEST[0] = 0x52;
REQUEST.writeBigInt64BE(-(1n << 63n), 6);
REQUEST.writeBigInt64BE((1n << 63n) - 1n, 14);

const [path, n, service] = process.argv.slice(2);
/** rewind, getall: answered 00, then 00 + record each, then ESRCH (03). */
const UTMP_REQUEST = Buffer.of(0x72, 0x41);
let stopping = false;
let reads = 0;
let bytes = 0;
const errors: string[] = [];
let said = false;
const open = new Set<Socket>();

/** One whole history read; resolves when the server closes the connection. */
function readOnce(onFirstBytes: () => void): Promise<void> {
  return new Promise((resolve) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    open.add(socket);
    socket.once('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      onFirstBytes();
    });
    socket.once('end', () => {
      reads++;
      socket.destroy();
    });
    socket.once('error', (e) => {
      if (!stopping && errors.length < 10) errors.push(e.message);
    });
    socket.once('close', () => {
      open.delete(socket);
      resolve();
    });
  });
}

/** One utmp connection asking for everything until stopped. */
function utmpLoop(onFirstBytes: () => void): Promise<void> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    open.add(socket);
    const ask = (): void => {
      if (!stopping) socket.write(UTMP_REQUEST);
    };
    socket.once('connect', ask);
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      onFirstBytes();
      // Records are 00-prefixed, so a chunk ending in 03 ends a getall (or is a record
      // ending in 03: then the next getall waits for this one, which is fine for a load).
      if (chunk[chunk.length - 1] === 3) {
        reads++;
        ask();
      }
    });
    socket.once('error', (e) => {
      if (!stopping && errors.length < 10) errors.push(e.message);
    });
    socket.once('close', () => {
      open.delete(socket);
      resolve();
    });
  });
}

async function reader(): Promise<void> {
  const once = service === 'utmp' ? utmpLoop : readOnce;
  while (!stopping) {
    await once(() => {
      if (said) return;
      said = true;
      process.stdout.write('reading\n');
    });
  }
}

const all = Array.from({ length: Number(n) }, () => reader());
process.stdin.resume();
process.stdin.on('end', () => {
  stopping = true;
  for (const socket of open) socket.destroy();
  void Promise.all(all).then(() => {
    process.stdout.write(`${JSON.stringify({ reads, bytes, errors })}\n`);
    process.exit(0);
  });
});
