// The one adapter between Node streams and a Session, for every way a daemon is reached:
// an accepted socket in utmpsd (input and output are the same socket) and stdin/stdout
// under a superserver (the same socket, or two pipes). One rule set for all of them:
//  - 'data' is pushed, 'end' is the client's EOF (it may still wait for its answer);
//  - ECONNRESET and EPIPE mean the client is gone: its EOF, not a failure of ours;
//  - any other stream error ends the session as an error;
//  - 'close' of the answer side ends the session: nothing can be answered any more;
//  - a write resolves once handed to the kernel; a failed one surfaces as 'error'.

import type { Socket } from 'node:net';
import { hungUp, socketFd } from '../sys/native.js';
import { type ServiceHandler, Session, type SessionEnd, type SessionTimeouts, type Transport } from './session.js';

/** The client left: what it sent before is still served, its answers go nowhere. */
const CLIENT_GONE: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE']);

export function streamTransport(input: Socket, output: Socket = input): Transport {
  return {
    write: (data) =>
      new Promise<void>((resolve) => {
        output.write(data, () => resolve());
      }),
    unsent: () => (output.destroyed ? 0 : output.writableLength),
    close: () => {
      // Flush what was answered, then let go of both directions.
      if (input !== output) input.destroy();
      if (output.writable) output.end(() => output.destroy());
      else output.destroy();
    },
    pause: () => input.pause(),
    resume: () => input.resume(),
    // The answer side: a socket whose peer closed both directions (POLLHUP), or a pipe
    // nobody reads any more (POLLERR).
    hungUp: () => output.destroyed || hungUp(socketFd(output)),
  };
}

/** Serves one connection: builds its Session over the streams and wires their events. */
export function attachSession(
  handler: ServiceHandler,
  timeouts: SessionTimeouts,
  onEnd: (end: SessionEnd) => void,
  input: Socket,
  output: Socket = input,
): Session {
  const session = new Session(handler, streamTransport(input, output), timeouts, onEnd);
  const onError = (err: NodeJS.ErrnoException): void => {
    if (CLIENT_GONE.has(err.code)) session.eof();
    else session.abort({ reason: 'error', message: err.message });
  };
  input.on('data', (chunk: Buffer) => session.push(chunk));
  input.on('end', () => session.eof());
  input.on('error', onError);
  if (output !== input) output.on('error', onError);
  output.on('close', () => session.abort({ reason: 'eof' }));
  return session;
}
