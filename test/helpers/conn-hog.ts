// A program for connection and buffering tests, run as another user under setpriv:
// `node conn-hog.js JOB` (JOB is JSON) opens job.n connections to job.socket one after
// another and sends job.request (hex, may be empty: a silent connection) on each.
//   mode 'read':   collects what each connection receives;
//   mode 'noread': pauses each socket at once, so the server's answers pile up.
// After job.settleMs (or once each got job.expect bytes or was closed) it prints one JSON line: for each connection what it received so far
// (hex, at most 32 bytes) and whether the server closed it. Then, on a stdin line "drain",
// it reads every connection to its end (the server closes it after our EOF) and prints the
// byte counts. It closes everything and exits when stdin ends. Nothing here comes from src/.

import { createConnection, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

interface Job {
  socket: string;
  n: number;
  request: string;
  mode: 'read' | 'noread';
  settleMs: number;
  /** Send the request this many times over, in one write (default 1). */
  repeat?: number;
  /** Wait (up to settleMs) until each connection got this many bytes or was closed. */
  expect?: number;
}

interface Conn {
  socket: Socket;
  received: Buffer[];
  bytes: number;
  closed: boolean;
  ended: Promise<void>;
}

function open(job: Job): Promise<Conn> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: job.socket, allowHalfOpen: true });
    let markEnded: () => void = () => undefined;
    const conn: Conn = { socket, received: [], bytes: 0, closed: false, ended: new Promise((r) => (markEnded = r)) };
    const closed = (): void => {
      conn.closed = true;
      markEnded();
    };
    socket.on('data', (c: Buffer) => {
      conn.bytes += c.length;
      if (conn.received.reduce((a, b) => a + b.length, 0) < 32) conn.received.push(c);
    });
    socket.on('end', closed);
    socket.on('close', closed);
    socket.on('error', closed);
    socket.once('connect', () => {
      if (job.mode === 'noread') socket.pause();
      const one = Buffer.from(job.request, 'hex');
      if (one.length > 0) socket.write(Buffer.concat(new Array<Buffer>(job.repeat ?? 1).fill(one)));
      resolve(conn);
    });
    socket.once('error', () => resolve(conn));
  });
}

const job = JSON.parse(process.argv[2]) as Job;
const conns: Conn[] = [];
for (let i = 0; i < job.n; i++) conns.push(await open(job));
const settleUntil = Date.now() + job.settleMs;
const expect = job.expect ?? 0;
const settled = (): boolean => expect > 0 && conns.every((c) => c.closed || c.bytes >= expect);
while (Date.now() < settleUntil && !settled()) await new Promise((resolve) => setTimeout(resolve, 20));
const report = conns.map((c) => ({ received: Buffer.concat(c.received).subarray(0, 32).toString('hex'), closed: c.closed }));
process.stdout.write(`${JSON.stringify(report)}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  if (line.trim() !== 'drain') return;
  for (const c of conns) {
    c.socket.resume();
    if (!c.closed) c.socket.end();
  }
  await Promise.all(conns.map((c) => c.ended));
  process.stdout.write(`${JSON.stringify(conns.map((c) => c.bytes))}\n`);
});
lines.on('close', () => {
  for (const c of conns) c.socket.destroy();
  process.exit(0);
});
