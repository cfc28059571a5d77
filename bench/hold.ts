// Opens N connections to utmpd and keeps them open and idle, for the memory measurement.
//
//   node dist/bench/hold.js UTMPD_SOCKET N [BATCH]
//
// Each connection is opened with our client and answers one rewind, so the server has
// surely accepted it and set up its session. Connections open BATCH at a time (default 100),
// below the listen backlog. Prints "ready N" once all are open, then holds them until stdin
// closes or a signal arrives. Exit 111 if a connection fails.

import { UtmpSession } from '../src/client/index.js';

const [path, countText, batchText] = process.argv.slice(2);
const count = Number(countText);
const batch = Number(batchText ?? 100);
if (!path || !Number.isInteger(count) || count < 1 || !Number.isInteger(batch) || batch < 1) {
  process.stderr.write('usage: hold UTMPD_SOCKET N [BATCH]\n');
  process.exit(100);
}

const sessions: UtmpSession[] = [];
try {
  for (let i = 0; i < count; i += batch) {
    const opened = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async () => {
        const s = await UtmpSession.connect({ path, timeoutMs: 30_000 });
        await s.rewind();
        return s;
      }),
    );
    sessions.push(...opened);
  }
} catch (e) {
  process.stderr.write(`hold: fatal: after ${sessions.length} connections: ${(e as Error).message}\n`);
  process.exit(111);
}
process.stdout.write(`ready ${sessions.length}\n`);
const quit = (): void => {
  for (const s of sessions) s.close();
  process.exit(0);
};
process.stdin.on('end', quit).on('error', quit).resume();
process.on('SIGTERM', quit);
process.on('SIGINT', quit);
