// A program for limit tests: `node hold-connections.js SOCKET N` opens N connections one
// after another, asks each for a rewind, prints one JSON line saying which were served
// ("ok") and which were refused ("closed"), then holds them open until stdin ends. Run it
// under setpriv to hold connections as another user.

import { createConnection, type Socket } from 'node:net';

type Outcome = 'ok' | 'closed';

function rewind(path: string): Promise<{ socket: Socket; outcome: Outcome }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let done = false;
    const finish = (outcome: Outcome): void => {
      if (!done) {
        done = true;
        resolve({ socket, outcome });
      }
    };
    socket.once('connect', () => socket.write(Buffer.of(0x72)));
    socket.once('data', (d: Buffer) => finish(d[0] === 0 ? 'ok' : 'closed'));
    socket.once('end', () => finish('closed'));
    socket.once('close', () => finish('closed'));
    socket.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' || e.code === 'EPIPE' ? finish('closed') : reject(e)));
  });
}

const [path, n] = process.argv.slice(2);
const held: Socket[] = [];
const outcomes: Outcome[] = [];
for (let i = 0; i < Number(n); i++) {
  const { socket, outcome } = await rewind(path);
  held.push(socket);
  outcomes.push(outcome);
}
process.stdout.write(`${JSON.stringify(outcomes)}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  for (const s of held) s.destroy();
});
