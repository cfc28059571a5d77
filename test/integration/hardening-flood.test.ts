// Flooding: a non-root user may append wtmp records for itself (PROTOCOL.md section 4), and
// a member of the daemon's group may write utmp, so without a limit one of them could fill
// the disk or drown the log. utmpsd gives every non-root uid a token bucket
// (--rate-limit per minute, --rate-burst at once); a refusal is answered EDQUOT (122) and
// logged once per burst of refusals. Root and every other uid are not affected.
// (UCSPI mode has no rate limit: each connection is a fresh process; docs/SECURITY.md.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  Agent,
  append,
  DAEMON,
  NOBODY,
  putline,
  record,
  recordsOf,
  REWIND,
  status,
  talk,
  talkAs,
  withTarget,
} from '../helpers/fuzz-hardening.js';
import { UTMPSD_JS } from '../../fuzz/target.js';

const EDQUOT = 122;
const BURST = 3;
// One write a minute: nothing refills while the test runs.
const RATE = ['--rate-limit', '1', '--rate-burst', String(BURST)];

const hasRateLimits = spawnSync(process.execPath, [UTMPSD_JS, '--help'], { encoding: 'utf8' }).stdout.includes('--rate-limit');
const todo = hasRateLimits ? undefined : 'utmpsd has no --rate-limit option yet';

const mine = (user: string, i: number): Buffer => record({ type: 7, id: `${user.slice(0, 1)}${i}`, line: `pts/${i}`, user, session: i });

function refusalLines(log: string, uid: number): string[] {
  return log.split('\n').filter((l) => l.includes(`uid ${uid} is over its write rate limit`));
}

describe('flooding (utmpsd per-uid write rate limits)', () => {
  test('a non-root user appending wtmp records for itself is cut off with EDQUOT; root and other users are not', { todo }, () =>
    withTarget('utmpsd', { utmpsdArgs: RATE }, async (d) => {
      const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
      const daemon = await Agent.start(DAEMON.uid, DAEMON.gid);
      try {
        const flood: (number | undefined)[] = [];
        for (let i = 0; i < 10; i++) flood.push(status(await talkAs(nobody, d.wtmpSocket, append(mine('nobody', i)))));
        assert.deepEqual(flood, [0, 0, 0, ...new Array(7).fill(EDQUOT)], "nobody's burst, then EDQUOT");

        // Meanwhile root's logins go through, and another user has its own allowance.
        const root: (number | undefined)[] = [];
        for (let i = 0; i < 5; i++) root.push(status(await talk(d.wtmpSocket, append(mine('root', i)))));
        assert.deepEqual(root, [0, 0, 0, 0, 0], 'root is never limited');
        const other: (number | undefined)[] = [];
        for (let i = 0; i < BURST + 1; i++) other.push(status(await talkAs(daemon, d.wtmpSocket, append(mine('daemon', i)))));
        assert.deepEqual(other, [0, 0, 0, EDQUOT], 'uid 1 has a burst of its own, untouched by nobody');
        assert.equal(status(await talkAs(nobody, d.wtmpSocket, append(mine('nobody', 99)))), EDQUOT, 'nobody is still over');

        const expected = [0, 1, 2].map((i) => mine('nobody', i)).concat([0, 1, 2, 3, 4].map((i) => mine('root', i)), [0, 1, 2].map((i) => mine('daemon', i)));
        assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)), expected, 'only the allowed appends are in wtmp');

        // Eight refusals for nobody in one burst: one log line. One for uid 1: one line.
        assert.equal(refusalLines(d.stderr(), NOBODY.uid).length, 1, `logged once per burst:\n${d.stderr()}`);
        assert.equal(refusalLines(d.stderr(), DAEMON.uid).length, 1);
      } finally {
        await nobody.stop();
        await daemon.stop();
      }
    }));

  test('utmp writes by a member of the daemon group are limited the same way; root is not', { todo }, () =>
    // Run as nobody:43 (utmp), so that a peer in group 43 may write utmp (PROTOCOL.md section 3).
    withTarget('utmpsd', { utmpsdArgs: [...RATE, '--user', 'nobody', '--group', '43'] }, async (d) => {
      const member = await Agent.start(DAEMON.uid, 43);
      try {
        const puts = Buffer.concat(Array.from({ length: 6 }, (_, i) => putline(mine('daemon', i))));
        const o = await talkAs(member, d.utmpSocket, Buffer.concat([REWIND, puts]));
        assert.deepEqual([...o.received], [0, 0, 0, 0, EDQUOT, EDQUOT, EDQUOT], 'rewind, then the burst, then EDQUOT on the same connection');
        const root = await talk(d.utmpSocket, Buffer.concat([REWIND, ...Array.from({ length: 6 }, (_, i) => putline(mine('root', i)))]));
        assert.deepEqual([...root.received], [0, 0, 0, 0, 0, 0, 0], 'root is never limited');
        assert.equal(recordsOf(readFileSync(d.utmpFile)).length, BURST + 6);
        assert.equal(refusalLines(d.stderr(), DAEMON.uid).length, 1, `logged once per burst:\n${d.stderr()}`);
      } finally {
        await member.stop();
      }
    }));

  test(
    'refused requests cannot flood the log: not one line per refused request',
    { todo: 'utmp-service.ts reports every EPERM putline and every EINVAL getid; a user turns 35 KB of requests into 480 KB of log' },
    () =>
      withTarget('utmpsd', { utmpsdArgs: RATE }, async (d) => {
        const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
        try {
          const n = 1000;
          const getids = Buffer.concat(Array.from({ length: n }, () => Buffer.of(0x69, 0, 0, 0, 0, 0, 0))); // getid(EMPTY): EINVAL
          const puts = Buffer.concat(Array.from({ length: n }, (_, i) => putline(mine('nobody', i)))); // not in the group: EPERM
          const o = await talkAs(nobody, d.utmpSocket, Buffer.concat([getids, puts]));
          assert.equal(o.received.length, 2 * n, 'every request answered');
          assert.ok(o.received.subarray(0, n).every((b) => b === 22) && o.received.subarray(n).every((b) => b === 1));
          const lines = d.stderr().split('\n').filter((l) => l.includes(`uid ${NOBODY.uid}`));
          assert.ok(lines.length <= 10, `${lines.length} log lines for ${2 * n} refused requests`);
        } finally {
          await nobody.stop();
        }
      }),
  );
});
