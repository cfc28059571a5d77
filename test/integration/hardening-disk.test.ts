// A full disk: the daemons' files on a tiny tmpfs mounted for the test. A dummy file takes
// every free page, then one page is given back, so that writes succeed until a record
// straddles the last free page: the write comes up short (part of a record written), the
// next one fails with ENOSPC. The daemons must answer ENOSPC (28) to the client, leave
// whole records only (the partial one truncated away), keep serving reads, and write
// again once space is freed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, fstatSync, openSync, readFileSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Target } from '../../fuzz/target.js';
import {
  append,
  eventually,
  GETALL,
  mountTmpfs,
  putline,
  RECORD,
  record,
  recordsOf,
  REWIND,
  status,
  talk,
  withTarget,
} from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { Errno } from '../../src/errno.js';

const { ENOSPC, ESRCH } = Errno;
const PAGE = Number(spawnSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).stdout.trim()) || 4096;

/** Fills the file system with `path`, then gives back exactly one page. */
function fillLeavingOnePage(path: string): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(PAGE, 0x5a);
    for (;;) {
      try {
        if (writeSync(fd, chunk) < chunk.length) continue; // a short write: the next one fails
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
    const size = fstatSync(fd).size;
    ftruncateSync(fd, (Math.ceil(size / PAGE) - 1) * PAGE);
  } finally {
    closeSync(fd);
  }
}

/** The status of one putline on a fresh utmp connection (after a rewind). */
async function put(t: Target, rec: Buffer): Promise<number | undefined> {
  const o = await talk(t.utmpSocket, Buffer.concat([REWIND, putline(rec)]));
  assert.equal(o.received[0], 0, 'rewind');
  return o.received[1];
}

async function add(t: Target, rec: Buffer): Promise<number | undefined> {
  return status(await talk(t.wtmpSocket, append(rec)));
}

describe('full disk', () => {
  for (const kind of TRANSPORTS) {
    test(`${kind}: ENOSPC is answered, no partial record is left, reads go on, writes resume once space is freed`, async (t) => {
      const fs = await mountTmpfs(128);
      if ('skip' in fs) {
        t.skip(fs.skip);
        return;
      }
      try {
        // Empty files take no pages; the UCSPI daemons would otherwise create them on first use.
        writeFileSync(join(fs.dir, 'utmp'), '', { mode: 0o644 });
        writeFileSync(join(fs.dir, 'wtmp'), '', { mode: 0o644 });
        await withTarget(kind, { dir: fs.dir, daemonArgs: ['-t', '5000'], utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
          const utmpBefore = [1, 2, 3].map((i) => record({ type: 7, id: `u${i}`, line: `pts/${i}`, user: 'root', session: i }));
          for (const r of utmpBefore) assert.equal(await put(d, r), 0);

          fillLeavingOnePage(join(fs.dir, 'dummy'));

          // wtmp takes the free page: appends succeed until one straddles its end.
          const appended: Buffer[] = [];
          let refused: number | undefined;
          for (let i = 0; i < 2 * Math.ceil(PAGE / RECORD) && refused === undefined; i++) {
            const rec = record({ type: 7, id: `w${i}`, line: `wtmp/${i}`, user: 'root', session: 100 + i });
            const s = await add(d, rec);
            if (s === 0) appended.push(rec);
            else refused = s;
          }
          assert.equal(refused, ENOSPC, 'the append that no longer fits is answered ENOSPC');
          assert.ok(appended.length >= 1, 'appends worked until the page was full');
          t.diagnostic(`${appended.length} appends fitted in the free page of ${PAGE} bytes`);
          const wtmp = readFileSync(d.wtmpFile);
          assert.equal(wtmp.length % RECORD, 0, 'wtmp holds no partial record');
          assert.deepEqual(recordsOf(wtmp), appended, 'wtmp holds exactly the acknowledged appends');

          // utmp has the rest of its own page: putlines succeed until one straddles its end.
          const written: Buffer[] = [];
          refused = undefined;
          for (let i = 0; i < 2 * Math.ceil(PAGE / RECORD) && refused === undefined; i++) {
            const rec = record({ type: 7, id: `n${i}`, line: `new/${i}`, user: 'root', session: 200 + i });
            const s = await put(d, rec);
            if (s === 0) written.push(rec);
            else refused = s;
          }
          assert.equal(refused, ENOSPC, 'the putline that no longer fits is answered ENOSPC');
          t.diagnostic(`${written.length} putlines fitted after the ${utmpBefore.length} records in utmp's page`);
          const utmp = readFileSync(d.utmpFile);
          assert.equal(utmp.length % RECORD, 0, 'utmp holds no partial record');
          assert.deepEqual(recordsOf(utmp), [...utmpBefore, ...written], 'utmp holds exactly the acknowledged putlines');

          // Reads still work, on a connection that has just been refused a write too.
          const refusedThenRead = await talk(
            d.utmpSocket,
            Buffer.concat([putline(record({ type: 7, id: 'xx', line: 'full', user: 'root' })), REWIND, GETALL]),
          );
          const all = [...utmpBefore, ...written];
          assert.equal(refusedThenRead.received[0], ENOSPC);
          assert.equal(refusedThenRead.received[1], 0, 'rewind after the refusal');
          const answers = refusedThenRead.received.subarray(2);
          assert.equal(answers.length, all.length * (1 + RECORD) + 1, 'getall answers every record, then ESRCH');
          all.forEach((r, i) => assert.ok(answers.subarray(i * (1 + RECORD) + 1, (i + 1) * (1 + RECORD)).equals(r), `record ${i} read back`));
          assert.equal(answers[answers.length - 1], ESRCH);
          assert.deepEqual(recordsOf(readFileSync(d.utmpFile)), all, 'the refused putline changed nothing');

          // Space again: both files take writes, still whole records.
          unlinkSync(join(fs.dir, 'dummy'));
          const late = record({ type: 7, id: 'ok', line: 'pts/9', user: 'root', session: 999 });
          assert.equal(await add(d, late), 0, 'append after space was freed');
          assert.equal(await put(d, late), 0, 'putline after space was freed');
          assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)), [...appended, late]);
          assert.deepEqual(recordsOf(readFileSync(d.utmpFile)), [...all, late]);
          assert.equal(readFileSync(d.wtmpFile).length % RECORD, 0);

          // Both refusals were logged.
          const [utmpLine, wtmpLine] =
            kind === 'utmpsd'
              ? [/utmpsd: warning: utmp: putline for uid 0 failed: ENOSPC/, /utmpsd: warning: wtmp: append for uid 0 failed: ENOSPC/]
              : [/utmps-utmpd: warning: putline for uid 0 failed: ENOSPC/, /utmps-wtmpd: .*ENOSPC/];
          assert.ok(await eventually(() => utmpLine.test(d.stderr()) && wtmpLine.test(d.stderr())), `ENOSPC is logged: ${d.stderr()}`);
        });
      } finally {
        await fs.unmount();
      }
    });
  }
});
