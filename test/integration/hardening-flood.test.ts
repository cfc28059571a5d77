// Flooding: a non-root user may append wtmp records for itself (PROTOCOL.md section 4), and
// a member of the daemon's group may write utmp, so without a limit one of them could fill
// the disk or drown the log. utmpsd gives every non-root uid a token bucket
// (--rate-limit per minute, --rate-burst at once); a refusal is answered EDQUOT (122) and
// logged once per window (log-summary.ts). Root and every other uid are not affected.
// (UCSPI mode has no rate limit: each connection is a fresh process; docs/SECURITY.md.)

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  Agent,
  append,
  DAEMON,
  eventually,
  holdConnections,
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
import { TRANSPORTS } from '../helpers/transports.js';
import { Errno } from '../../src/errno.js';

const { EDQUOT } = Errno;
const BURST = 3;
// One write a minute: nothing refills while the test runs.
const RATE = ['--rate-limit', '1', '--rate-burst', String(BURST)];


const mine = (user: string, i: number): Buffer => record({ type: 7, id: `${user.slice(0, 1)}${i}`, line: `pts/${i}`, user, session: i });

function refusalLines(log: string, uid: number): string[] {
  return log.split('\n').filter((l) => l.includes(`uid ${uid} is over its write rate limit`));
}

describe('flooding (utmpsd per-uid write rate limits)', () => {
  test('a non-root user appending wtmp records for itself is cut off with EDQUOT; root and other users are not', () =>
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

  test('utmp writes by a member of the daemon group are limited the same way; root is not', () =>
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

});

// The log under floods (log-summary.ts): a non-root peer's refusals and failed connections
// are logged once per (uid, reason) in a window, then counted in one line at the end of the
// window or at shutdown; root's stay one line each.
const count = (log: string, re: RegExp): number => log.split('\n').filter((l) => re.test(l)).length;

describe('refusals cannot flood the log', () => {
  for (const kind of TRANSPORTS) {
    test(`${kind}: 1000 EINVAL getids and 1000 EPERM putlines on one connection: a few lines, then their counts`, () =>
      withTarget(kind, { utmpsdArgs: RATE }, async (d) => {
        const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
        try {
          const n = 1000;
          const getids = Buffer.concat(Array.from({ length: n }, () => Buffer.of(0x69, 0, 0, 0, 0, 0, 0))); // getid(EMPTY): EINVAL
          const puts = Buffer.concat(Array.from({ length: n }, (_, i) => putline(mine('nobody', i)))); // not in the group: EPERM
          const o = await talkAs(nobody, d.utmpSocket, Buffer.concat([getids, puts]));
          assert.equal(o.received.length, 2 * n, 'every request answered');
          assert.ok(o.received.subarray(0, n).every((b) => b === 22) && o.received.subarray(n).every((b) => b === 1));
          // utmpsd counts until the window ends or it stops; a UCSPI daemon until it exits.
          if (kind === 'utmpsd') await d.stop();
          const counted = (re: RegExp): Promise<boolean> => eventually(() => count(d.stderr(), re) === 1);
          assert.ok(await counted(/uid 65534: 999 more (utmp )?putline refusals in \d+ s$/), d.stderr());
          assert.ok(await counted(/uid 65534: 999 more (utmp )?getid failures \(EINVAL\) in \d+ s$/), d.stderr());
          const lines = count(d.stderr(), new RegExp(`uid ${NOBODY.uid}`));
          assert.ok(lines <= 6, `${lines} log lines for ${2 * n} refused requests:\n${d.stderr()}`);
        } finally {
          await nobody.stop();
        }
      }));
  }

  test('utmpsd: connection spam at the per-uid cap: one line, then a count', () =>
    withTarget('utmpsd', { utmpsdArgs: ['-C', '2'] }, async (d) => {
      const held = await holdConnections(NOBODY, d.utmpSocket, 302);
      try {
        assert.equal(held.outcomes.filter((o) => o === 'closed').length, 300, 'all but two refused');
      } finally {
        await held.release();
      }
      await d.stop();
      const log = d.stderr();
      assert.equal(count(log, /refused a connection from uid 65534/), 1, log);
      assert.equal(count(log, /uid 65534: 299 more refused utmp connections in \d+ s$/), 1, log);
      assert.ok(count(log, /65534/) <= 3, log);
    }));

  test('utmpsd: connections closed for protocol errors: one line and a count for nobody, one line each for root', () =>
    withTarget('utmpsd', {}, async (d) => {
      const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
      try {
        const bad = Buffer.from('x', 'latin1'); // no such command: the server closes without answering
        for (let i = 0; i < 200; i++) await talkAs(nobody, d.utmpSocket, bad);
        for (let i = 0; i < 3; i++) await talk(d.utmpSocket, bad);
      } finally {
        await nobody.stop();
      }
      await d.stop();
      const log = d.stderr();
      assert.equal(count(log, /closed the connection of uid 65534 .*: protocol: /), 1, log);
      assert.equal(count(log, /uid 65534: 199 more utmp connections closed \(protocol\) in \d+ s$/), 1, log);
      assert.equal(count(log, /closed the connection of uid 0 .*: protocol: /), 3, 'root: one line per connection');
    }));
});
