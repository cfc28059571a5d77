// The floor for utmpsd's request path: a bare Node server on a Unix socket that answers the
// plain utmpd listing as cheaply as Node can, with no file, lock, policy or session. 'E'
// (prefill) counts an entry; 'r' rewinds; 'e' answers the next of those entries (status 0
// and a fixed 400-byte record) or ESRCH. Per connection: one read handler, one write per
// answer, as utmpsd does. `npm run bench` lists it as the "echo" server in who rows.
//
//   node dist/bench/echo-server.js SOCKET   (prints a newline once listening)

import { unlinkSync } from 'node:fs';
import { createServer } from 'node:net';

const RECORD = 400;
const ESRCH = 3;
const path = process.argv[2];
if (!path) throw new Error('usage: echo-server SOCKET');

let entries = 0;
const ok = Buffer.from([0]);
const end = Buffer.from([ESRCH]);
const answer = Buffer.alloc(1 + RECORD); // status 0, then a record of zeros

const server = createServer({ allowHalfOpen: false }, (socket) => {
  let cursor = 0;
  let pending: Buffer | null = null; // an 'E' split across reads
  socket.on('data', (chunk: Buffer) => {
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let i = 0;
    while (i < data.length) {
      const c = data[i];
      if (c === 0x45 /* E */) {
        if (data.length - i < 1 + RECORD) {
          pending = Buffer.from(data.subarray(i));
          data = Buffer.alloc(0);
          break;
        }
        entries++;
        i += 1 + RECORD;
        socket.write(ok);
      } else if (c === 0x72 /* r */) {
        cursor = 0;
        i++;
        socket.write(ok);
      } else if (c === 0x65 /* e */) {
        i++;
        socket.write(cursor < entries ? (cursor++, answer) : end);
      } else {
        socket.destroy();
        return;
      }
    }
  });
  socket.on('error', () => socket.destroy());
});

try {
  unlinkSync(path);
} catch {
  // not there
}
server.listen(path, () => process.stdout.write('\n'));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
