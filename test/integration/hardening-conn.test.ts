// Connections as a resource (security issue 8, items 2, 6 and 7): a client that pipelines
// without reading is held to a small buffer; other users together cannot take root's last
// slots; wtmp followers are capped per uid and closed once they have been sent nothing for
// the follow timeout. Clients run as real users under setpriv (test/helpers/conn-hog.ts).

import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { UTMPS_LAYOUT } from '../../src/record/layout.js';
import { Logger } from '../../src/server/log.js';
import { Policy } from '../../src/server/policy.js';
import { UNSENT_CAP } from '../../src/server/session.js';
import { Utmpsd } from '../../src/server/utmpsd.js';
import { UtmpFile } from '../../src/store/utmp-file.js';
import { WtmpFile } from '../../src/store/wtmp-file.js';
import { lookupUserByUidAsync } from '../../src/sys/native.js';
import { NOBODY, scratchDir, withTarget } from '../helpers/fuzz-hardening.js';
import { asRoot, followRequest, hold, userRecord } from '../helpers/lockout.js';
import { RawClient } from '../helpers/raw-client.js';
import { spawnUtmpsd, utmpsdArgs } from '../helpers/utmpsd.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { Errno } from '../../src/errno.js';

const RECORD_ANSWER = 401;
const { ETIMEDOUT, EUSERS } = Errno;

/** utmpsd in this process, so that its stats() can be read; real sockets in a scratch dir. */
async function inProcess<T>(fn: (server: Utmpsd, dir: string) => Promise<T>): Promise<T> {
  const { dir, remove } = await scratchDir('hc-');
  const files = { layout: UTMPS_LAYOUT, lockTimeoutMs: 2000 };
  const utmp = await UtmpFile.open(join(dir, 'utmp'), files);
  const wtmp = await WtmpFile.open(join(dir, 'wtmp'), files);
  const server = await Utmpsd.start({
    sockets: { utmp: { path: join(dir, '.utmpd-socket') }, wtmp: { path: join(dir, '.wtmpd-socket') } },
    utmp,
    wtmp,
    policy: new Policy({ daemonGid: () => process.getegid!(), nameOfUid: async (uid) => (await lookupUserByUidAsync(uid))?.name ?? null }),
    timeouts: { bodyMs: 30_000, answerMs: 30_000, idleMs: 0 },
    limits: { maxConnections: 1000, maxPerUid: 40 },
    log: new Logger('utmpsd', 'quiet'),
  });
  try {
    return await fn(server, dir);
  } finally {
    await server.stop();
    await remove();
  }
}

describe('bounded buffering per connection', () => {
  test('utmpsd: nobody pipelining thousands of requests on 10 connections without reading holds each to the cap plus one answer; all are answered once it reads', () =>
    inProcess(async (server, dir) => {
      const utmpSocket = join(dir, '.utmpd-socket');
      // A record for every getent to return.
      assert.equal(await asRoot(utmpSocket, Buffer.concat([Buffer.of(0x45), userRecord('root', 'pts/1')]), 1), '00');
      const PAIRS = 3000; // rewind + getent: 1 + 401 answer bytes each, 1.2 MB per connection
      const burst = Buffer.alloc(PAIRS * 2);
      for (let i = 0; i < PAIRS; i++) burst.set([0x72, 0x65], 2 * i);
      const held = await hold(NOBODY, utmpSocket, 10, burst, 0, 'noread');
      try {
        assert.equal(held.open, 10);
        // Meanwhile root is served.
        const root = await RawClient.connect(utmpSocket);
        try {
          await root.send(Buffer.of(0x72, 0x41));
          assert.equal((await root.readExactly(1 + RECORD_ANSWER + 1)).toString('hex').slice(0, 4), '0000');
        } finally {
          root.close();
        }
        const { peakBufferedPerConnection } = server.stats();
        assert.ok(peakBufferedPerConnection > 0, 'answers were buffered at all');
        assert.ok(
          peakBufferedPerConnection <= UNSENT_CAP + RECORD_ANSWER,
          `a connection held at most ${UNSENT_CAP} + ${RECORD_ANSWER} answer bytes (peak ${peakBufferedPerConnection})`,
        );
        const got = await held.drain();
        assert.deepEqual(got, new Array(10).fill(PAIRS * (1 + RECORD_ANSWER)), 'every request answered, whole, once read');
        assert.ok(server.stats().peakBufferedPerConnection <= UNSENT_CAP + RECORD_ANSWER, 'and the bound held all along');
      } finally {
        await held.release();
      }
    }));

  for (const kind of TRANSPORTS) {
    test(`${kind}: a non-reading pipeliner is dropped at the answer deadline, and others are served`, () =>
      withTarget(kind, { daemonArgs: ['-t', '1000'], utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
        await chmod(d.dir, 0o755);
        assert.equal(await asRoot(d.utmpSocket, Buffer.concat([Buffer.of(0x45), userRecord('root', 'pts/2')]), 1), '00');
        const burst = Buffer.alloc(20_000);
        for (let i = 0; i < burst.length; i += 2) burst.set([0x72, 0x65], i);
        const held = await hold(NOBODY, d.utmpSocket, 2, burst, 0, 'noread');
        try {
          assert.equal(await asRoot(d.utmpSocket, Buffer.of(0x72), 1), '00', 'root is served');
          // The hog never reads: past -t its connections are closed. drain() then reads what
          // was sent before the close: less than everything.
          await new Promise((resolve) => setTimeout(resolve, 2500));
          const got = await held.drain();
          for (const n of got) assert.ok(n < 10_000 * (1 + RECORD_ANSWER), `cut off before every answer (${n} bytes)`);
        } finally {
          await held.release();
        }
      }));
  }
});

describe('room for root', () => {
  test('utmpsd -c 20 -C 4: five uids at their per-uid cap get 18 slots, root still gets the last 2', async () => {
    const { dir, remove } = await scratchDir('hr-');
    const { child, stderr } = await spawnUtmpsd(utmpsdArgs(dir, { extra: ['-c', '20', '-C', '4', '-q'] }));
    const holders: Awaited<ReturnType<typeof hold>>[] = [];
    try {
      const socket = join(dir, '.utmpd-socket');
      // uids without passwd entries: the server counts by uid, nothing else.
      const counts: number[] = [];
      for (const uid of [60001, 60002, 60003, 60004, 60005]) {
        const h = await hold({ uid, gid: uid }, socket, 4, Buffer.of(0x72), 1);
        holders.push(h);
        counts.push(h.outcomes.filter((o) => o.received === '00' && !o.closed).length);
      }
      assert.deepEqual(counts, [4, 4, 4, 4, 2], 'non-root users together reach only -c minus the reserve');
      const root = await hold({ uid: 0, gid: 0 }, socket, 3, Buffer.of(0x72), 1);
      holders.push(root);
      assert.deepEqual(
        root.outcomes.map((o) => o.received),
        ['00', '00', ''],
        'root gets the reserved slots, then the total cap applies to it too',
      );
      void stderr;
    } finally {
      for (const h of holders) await h.release();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      await remove();
    }
  });
});

describe('wtmp followers', () => {
  test("utmpsd: 45 nobody followers whose filter matches nothing: 8 are kept, root's and nobody's own appends succeed", () =>
    withTarget('utmpsd', { utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
      await chmod(d.dir, 0o755);
      const held = await hold(NOBODY, d.wtmpSocket, 45, followRequest(), 1);
      try {
        const kept = held.outcomes.filter((o) => !o.closed);
        assert.equal(kept.length, 8, 'the per-uid follower cap');
        assert.ok(kept.every((o) => o.received === '03'), 'each kept follower got the end of the history');
        const refused = held.outcomes.filter((o) => o.closed);
        assert.ok(refused.every((o) => o.received === '' || o.received === EUSERS.toString(16)), 'the others got EUSERS or were refused');
        const append = (user: string): Buffer => Buffer.concat([Buffer.of(0x2b), userRecord(user, 'pts/97')]);
        assert.equal(await asRoot(d.wtmpSocket, append('root'), 1), '00', "root's append");
        const mine = await hold(NOBODY, d.wtmpSocket, 1, append('nobody'), 1);
        await mine.release();
        assert.deepEqual(mine.outcomes.map((o) => o.received), ['00'], "nobody's own append still has a slot");
      } finally {
        await held.release();
      }
    }));

  for (const kind of TRANSPORTS) {
    test(`${kind}: a follower sent nothing for the follow timeout gets ETIMEDOUT and is closed`, () =>
      withTarget(
        kind,
        kind === 'utmpsd' ? { utmpsdArgs: ['--follow-timeout', '500'] } : { daemonArgs: ['-f', '500'] },
        async (d) => {
          await chmod(d.dir, 0o755);
          const client = await RawClient.connect(d.wtmpSocket);
          try {
            await client.send(followRequest());
            assert.equal((await client.readExactly(1, 10_000)).toString('hex'), '03', 'the end of the (empty) history');
            assert.equal((await client.readExactly(1, 10_000))[0], ETIMEDOUT, 'then ETIMEDOUT');
            assert.equal((await client.waitForEof(10_000)).eof, true, 'then the close');
          } finally {
            client.close();
          }
        },
      ));
  }
});
