// Lock-out checks for the connection limits: many connections held by one unprivileged
// user (silent utmp connections, or wtmp followers whose filter matches nothing), while
// root asks for a rewind or appends. conn-hog.js holds the connections as that user.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { ROOT } from './paths.js';
import { RawClient } from './raw-client.js';

const HOG = join(ROOT, 'dist', 'test', 'helpers', 'conn-hog.js');

export interface Held {
  /** Per connection: what it received in its first moments, and whether it was closed. */
  outcomes: { received: string; closed: boolean }[];
  /** Connections still open. */
  open: number;
  /** Reads every connection to its end (after our EOF); the bytes each received in all. */
  drain(): Promise<number[]>;
  release(): Promise<void>;
}

/** A wtmp read request (PROTOCOL-EXTENSIONS.md): follow, for a user no record names. */
export function followRequest(user = 'nothing-matches'): Buffer {
  const body = Buffer.alloc(85);
  body[0] = 2;
  body.writeBigInt64BE(-(1n << 63n), 5);
  body.writeBigInt64BE((1n << 63n) - 1n, 13);
  body.write(user, 21, 'latin1');
  return Buffer.concat([Buffer.of(0x52), body]);
}

/** A utmps USER_PROCESS record for user on line, at the offsets of PROTOCOL.md section 1. */
export function userRecord(user: string, line: string): Buffer {
  const rec = Buffer.alloc(400);
  rec.writeInt16LE(7, 0);
  rec.writeInt32LE(4242, 4);
  rec.write(line, 8, 32, 'latin1');
  rec.write(user, 44, 32, 'latin1');
  rec.writeBigInt64LE(1_700_000_000n, 344);
  return rec;
}

export async function hold(
  who: { uid: number; gid: number },
  socket: string,
  n: number,
  request: Buffer = Buffer.alloc(0),
  expect = 0,
  mode: 'read' | 'noread' = 'read',
): Promise<Held> {
  // Silent connections: give the server a moment to close the excess. Otherwise wait
  // (a hang guard) until each connection has its first answer or was closed.
  const job = { socket, n, request: request.toString('hex'), mode, settleMs: expect > 0 ? 30_000 : 1500, expect };
  const child: ChildProcess = spawn(
    'setpriv',
    [`--reuid=${who.uid}`, `--regid=${who.gid}`, '--clear-groups', process.execPath, HOG, JSON.stringify(job)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const release = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGKILL');
    await gone;
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.once('exit', (code) => reject(new Error(`conn-hog exited ${code}: ${err}`)));
    });
    const outcomes = JSON.parse(line) as Held['outcomes'];
    const drain = async (): Promise<number[]> => {
      const second = new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const lines = out.split('\n');
          if (lines.length > 2) resolve(lines[1]);
        };
        child.stdout!.on('data', check);
        child.once('exit', (code) => reject(new Error(`conn-hog exited ${code}: ${err}`)));
        check();
      });
      child.stdin!.write('drain\n');
      return JSON.parse(await second) as number[];
    };
    return { outcomes, open: outcomes.filter((o) => !o.closed).length, drain, release };
  } catch (e) {
    await release();
    throw e;
  }
}

/** Root's request on a fresh connection: the answer's hex, or what happened instead. */
export async function asRoot(socket: string, request: Buffer, answerBytes: number, deadlineMs = 10_000): Promise<string> {
  const client = await RawClient.connect(socket, deadlineMs);
  try {
    await client.send(request);
    const { bytes, end } = await client.read(answerBytes, deadlineMs);
    return end === 'complete' ? bytes.toString('hex') : `${bytes.toString('hex')} then ${end}`;
  } finally {
    client.close();
  }
}
