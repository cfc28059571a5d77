// The JavaScript memory utmpsd's reaper keeps per watched session, measured in-process
// with a fake host (every process alive) and forced collections: what RSS alone cannot
// tell apart from garbage not yet collected. Run with --expose-gc (bench/reap.ts does).
//
//   node --expose-gc dist/bench/reap-heap.js [N]

import { Reaper } from '../src/server/reaper.js';
import { Logger } from '../src/server/log.js';
import { buildRecord } from '../src/record/index.js';
import type { UtmpFile } from '../src/store/utmp-file.js';
import type { WtmpFile } from '../src/store/wtmp-file.js';

const N = Number(process.argv[2] ?? 10000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const host = { bootTime: () => 1000, startTime: () => 1500 };
const utmp = { getall: async () => Buffer.alloc(0) } as unknown as UtmpFile;
const reaper = await Reaper.start({ utmp, wtmp: {} as WtmpFile, log: new Logger('bench', 'quiet'), pidfds: false, host, inOurNamespace: () => true, pollMs: 1e9 });
const records = Array.from({ length: N }, (_, i) => buildRecord({ type: 'USER_PROCESS', pid: 100 + i, line: `b/${i}`, id: i.toString(36), user: 'root', tvSec: 2000 }));
const peer = { uid: 0, gid: 0, pid: 1 };
gc();
gc();
const before = process.memoryUsage();
for (const record of records) reaper.written(record, peer);
gc();
gc();
const after = process.memoryUsage();
const per = (k: 'heapUsed' | 'external') => (after[k] - before[k]) / N;
process.stdout.write(`${JSON.stringify({ sessions: reaper.stats().watched, heapBytesPerSession: Math.round(per('heapUsed')), externalBytesPerSession: Math.round(per('external')) })}\n`);
await reaper.close();
