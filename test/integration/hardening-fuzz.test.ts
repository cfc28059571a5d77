// A short, bounded run of the protocol fuzzer (fuzz/), the same code `npm run fuzz` runs for
// hours: random and mutated request streams to utmpsd and to the UCSPI daemons, with the
// invariants of fuzz/oracle.ts checked after every case (whole records only, nothing
// changed by refused requests, every acknowledged write kept, the server still answering).
//
// The seed is fixed so that a failure here is reproducible: `npm run fuzz -- --seed S
// --transport T --from K --cases 1 --no-sweep` replays case K. UTMPS_FUZZ_SEED overrides it.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { converse } from '../../fuzz/conversation.js';
import { runFuzz } from '../../fuzz/core.js';
import { RECORD } from '../../fuzz/model.js';
import { record, scratchDir, withTarget } from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';

const SEED = Number(process.env.UTMPS_FUZZ_SEED ?? 20_261_128) >>> 0;
// utmpsd serves a case in milliseconds; the UCSPI mode starts a Node process per
// connection, so it gets fewer cases and no command-byte sweep (the session code that
// frames commands is the same in both modes).
const PLAN = {
  utmpsd: { cases: 200, sweep: true },
  ucspi: { cases: 60, sweep: false },
} as const;

describe('protocol fuzzing (bounded run)', () => {
  for (const kind of TRANSPORTS) {
    const { cases, sweep } = PLAN[kind];
    test(`${kind}: ${cases} random cases${sweep ? ' after every command byte 0..255 on both sockets' : ''} (seed ${SEED})`, async (t) => {
      const report = await runFuzz({ transport: kind, seed: SEED, cases, sweep, maxViolations: 10, progressMs: 0 });
      t.diagnostic(
        `seed ${SEED}: ${report.cases} cases + ${report.sweepCases} sweep cases, ${report.conversations} connections, ` +
          `${report.acknowledgedWrites} writes acknowledged`,
      );
      const found = report.violations.map((v) => `${v.description}\n  ${v.problem}`);
      assert.deepEqual(found, [], `reproduce with: npm run fuzz -- --seed ${SEED} --transport ${kind}`);
      assert.equal(report.stoppedEarly, null);
      assert.equal(report.cases, cases);
      if (sweep) assert.equal(report.sweepCases, 32, 'every command byte went to both services');
      assert.ok(report.acknowledgedWrites > 0, 'the cases did write');
    });
  }
});

// What the long runs found, pinned down as plain tests.
describe('fuzz findings', () => {
  for (const kind of TRANSPORTS) {
    // Found as seed 777, case 76135: thousands of pipelined requests in one write, then EOF.
    // utmpsd waited for a 'drain' that never comes when a small answer stays buffered below
    // the high-water mark, and dropped the connection at the answer deadline with hundreds
    // of requests unanswered.
    test(`${kind}: a burst of 2000 pipelined requests with getalls among them gets every answer`, async () => {
      const { dir, remove } = await scratchDir('ff-');
      try {
        const entries = Array.from({ length: 200 }, (_, i) => record({ type: 7, id: `${i}`, line: `pts/${i}`, user: 'root' }));
        writeFileSync(join(dir, 'utmp'), Buffer.concat(entries));
        const parts: Buffer[] = [];
        let answerBytes = 0;
        for (let k = 0; k < 2000; k++) {
          if (k % 500 === 0) {
            parts.push(Buffer.of(0x72, 0x41)); // rewind, getall: 00, then 200 x (00 + record), then ESRCH
            answerBytes += 1 + entries.length * (1 + RECORD) + 1;
          } else {
            parts.push(k % 2 ? Buffer.of(0x72) : Buffer.of(0x69, 0, 9, 0, 0, 0, 0)); // rewind: 00; getid(ACCOUNTING): EINVAL
            answerBytes += 1;
          }
        }
        const burst = Buffer.concat(parts);
        await withTarget(kind, { dir, daemonArgs: ['-t', '3000'], utmpsdArgs: ['-q'] }, async (d) => {
          for (let round = 0; round < 10; round++) {
            const o = await converse(d.utmpSocket, { service: 'utmp', who: 'root', chunks: [burst], end: 'eof' }, 20_000);
            assert.equal(o.received.length, answerBytes, `round ${round}: every answer arrived before the server closed`);
          }
        });
      } finally {
        await remove();
      }
    });

    test(
      `${kind}: a wtmp read (no follow) sent with the client's EOF right behind it gets its whole answer`,
      async () => {
        const { dir, remove } = await scratchDir('ff-');
        try {
          const n = 1000;
          const history = Array.from({ length: n }, (_, i) => record({ type: 7, user: 'root', line: `pts/${i % 10}`, session: i }));
          writeFileSync(join(dir, 'wtmp'), Buffer.concat(history));
          await withTarget(kind, { dir, utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
            // The read extension: flags 0 (oldest first, no follow), no limit, no bounds, no filter.
            const body = Buffer.alloc(85);
            body.writeBigInt64BE(-(1n << 63n), 5);
            body.writeBigInt64BE((1n << 63n) - 1n, 13);
            const request = Buffer.concat([Buffer.of(0x52), body]);
            const short: number[] = [];
            for (let i = 0; i < 20; i++) {
              const o = await converse(d.wtmpSocket, { service: 'wtmp', who: 'root', chunks: [request], end: 'eof' }, 20_000);
              if (o.received.length !== n * (1 + RECORD) + 1) short.push(o.received.length);
            }
            assert.deepEqual(short, [], 'answers cut short (bytes received)');
          });
        } finally {
          await remove();
        }
      },
    );
  }
});
