// UCSPI transport: one process serves one connection on stdin (requests) and stdout
// (answers) under a superserver such as s6-ipcserver (PROTOCOL.md section 5).

import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { isUnixSocket, peerCredentials } from '../sys/native.js';
import { UsageError } from './options.js';
import type { Peer } from './policy.js';
import type { ServiceHandler, SessionEnd, SessionTimeouts } from './session.js';
import { attachSession } from './transport.js';


function parseId(name: string, text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0xffffffff) throw new UsageError(`${name} is not a valid id: '${text}'`);
  return Number(text);
}

/**
 * The peer: from the superserver's IPCREMOTEEUID/IPCREMOTEEGID, else from stdin when it
 * is a Unix socket (inetd, systemd Accept=yes), else a usage error.
 */
export function peerFromEnvironment(env: NodeJS.ProcessEnv = process.env, fd = 0): Peer {
  const uid = env.IPCREMOTEEUID;
  const gid = env.IPCREMOTEEGID;
  if (uid && gid) return { uid: parseId('IPCREMOTEEUID', uid), gid: parseId('IPCREMOTEEGID', gid) };
  let socket = false;
  try {
    socket = isUnixSocket(fd);
  } catch {
    socket = false;
  }
  if (!socket) {
    throw new UsageError('unable to identify the client: IPCREMOTEEUID/IPCREMOTEEGID are not set and stdin is not a Unix socket');
  }
  const cred = peerCredentials(fd);
  return { uid: cred.uid, gid: cred.gid, pid: cred.pid };
}

function streamable(fd: number): boolean {
  const st = fstatSync(fd);
  return st.isSocket() || st.isFIFO();
}

function sameFile(a: number, b: number): boolean {
  const x = fstatSync(a);
  const y = fstatSync(b);
  return x.dev === y.dev && x.ino === y.ino;
}

/**
 * Runs one session over stdin/stdout and resolves with how it ended. When both are the
 * same socket, one duplex handle serves both: opening fd 1 separately would put the shared
 * open file description into blocking mode under the reader.
 */
export function serveStdio(handler: ServiceHandler, timeouts: SessionTimeouts): Promise<SessionEnd> {
  if (!streamable(0) || !streamable(1)) {
    throw new UsageError('stdin and stdout must be a socket or a pipe (run me under a superserver such as s6-ipcserver)');
  }
  const input = new Socket({ fd: 0, readable: true, writable: sameFile(0, 1), allowHalfOpen: true });
  const output = sameFile(0, 1) ? input : new Socket({ fd: 1, readable: false, writable: true, allowHalfOpen: true });
  return new Promise((resolve) => {
    attachSession(handler, timeouts, resolve, input, output);
  });
}
