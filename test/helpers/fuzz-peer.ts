// A peer that changes identity after connecting, for hardening-privilege.test.ts.
// `node fuzz-peer.js` (as root) reads a JSON job on stdin: it connects to the utmp and wtmp
// sockets, then drops to job.dropTo (setgroups, setgid, setuid: for good), then sends
// job.utmp on the utmp connection and job.wtmp on the wtmp one, and prints one JSON line:
// { uid, gid, utmp: hex received, wtmp: hex received }. The daemons judge a peer by the
// credentials the kernel recorded at connect time (SO_PEERCRED), not by what it is now.

import { createConnection, type Socket } from 'node:net';

interface Job {
  utmpSocket: string;
  wtmpSocket: string;
  dropTo: { uid: number; gid: number };
  /** Request bytes (hex) for each connection, and how many answer bytes to wait for. */
  utmp: string;
  utmpAnswer: number;
  wtmp: string;
  wtmpAnswer: number;
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends bytes, then collects n answer bytes (or what came before the close / 10 s). */
function exchange(s: Socket, bytes: Buffer, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    const done = (): void => {
      clearTimeout(timer);
      resolve(got);
    };
    const timer = setTimeout(done, 10_000);
    s.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= n) done();
    });
    s.on('close', done);
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

// These exist on every POSIX platform; Node's types mark them optional for Windows.
const posix = process as NodeJS.Process & Required<Pick<NodeJS.Process, 'setgroups' | 'setgid' | 'setuid' | 'getuid' | 'getgid'>>;

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const job = JSON.parse(text) as Job;
  const utmp = await open(job.utmpSocket);
  const wtmp = await open(job.wtmpSocket);
  posix.setgroups([]);
  posix.setgid(job.dropTo.gid);
  posix.setuid(job.dropTo.uid);
  const [u, w] = await Promise.all([
    exchange(utmp, Buffer.from(job.utmp, 'hex'), job.utmpAnswer),
    exchange(wtmp, Buffer.from(job.wtmp, 'hex'), job.wtmpAnswer),
  ]);
  utmp.destroy();
  wtmp.destroy();
  process.stdout.write(`${JSON.stringify({ uid: posix.getuid(), gid: posix.getgid(), utmp: u.toString('hex'), wtmp: w.toString('hex') })}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`fuzz-peer: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
