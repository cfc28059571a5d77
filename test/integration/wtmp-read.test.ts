// The wtmp read extension over both transports: history with filters, followers that get
// every appended record exactly once and in order, and a stuck follower that holds up no
// writer. docs/PROTOCOL-EXTENSIONS.md describes the commands.

import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { describe, test } from 'node:test';
import { appendWtmp, readWtmp, type WtmpReadItem, type WtmpReadOptions } from '../../src/client/index.js';
import { encodeRequest } from '../../src/protocol/request.js';
import { buildRecord, RECORD_SIZE } from '../../src/record/index.js';
import { type Daemons, startDaemons } from '../helpers/daemons.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths.js';

function rec(i: number, user = `u${i % 3}`, line = `pts/${i % 4}`): Buffer {
  return buildRecord({ type: 'USER_PROCESS', pid: i, line, id: String(i % 1000), user, tvSec: 1_700_000_000 + i });
}

async function collect(options: WtmpReadOptions): Promise<WtmpReadItem[]> {
  const out: WtmpReadItem[] = [];
  for await (const item of readWtmp(options)) out.push(item);
  return out;
}

function fileRecords(path: string): Buffer[] {
  const data = readFileSync(path);
  const out: Buffer[] = [];
  for (let i = 0; i + RECORD_SIZE <= data.length; i += RECORD_SIZE) out.push(data.subarray(i, i + RECORD_SIZE));
  return out;
}

async function withDaemons(kind: (typeof TRANSPORTS)[number], fn: (d: Daemons) => Promise<void>, options = {}): Promise<void> {
  const d = await startDaemons(kind, options);
  try {
    await fn(d);
  } finally {
    await d.stop();
  }
}

for (const kind of TRANSPORTS) {
  describe(`wtmp read extension (${kind})`, () => {
    test('history: oldest or newest first, limit, user, line and time filters', () =>
      withDaemons(kind, async (d) => {
        for (let i = 0; i < 10; i++) await appendWtmp(rec(i), { path: d.wtmpSocket });
        const path = d.wtmpSocket;
        const users = (items: WtmpReadItem[]) => items.map((x) => x.record.entry.pid);
        assert.deepEqual(users(await collect({ path })), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert.deepEqual(users(await collect({ path, newestFirst: true, limit: 3 })), [9, 8, 7]);
        assert.deepEqual(users(await collect({ path, limit: 2 })), [0, 1]);
        assert.deepEqual(users(await collect({ path, user: 'u1' })), [1, 4, 7]);
        assert.deepEqual(users(await collect({ path, line: 'pts/2', newestFirst: true })), [6, 2]);
        assert.deepEqual(users(await collect({ path, since: 1_700_000_003, until: 1_700_000_005 })), [3, 4, 5]);
        assert.ok((await collect({ path })).every((x) => !x.live));
        // The bytes are the file's bytes.
        assert.deepEqual((await collect({ path })).map((x) => x.record.bytes), fileRecords(d.wtmpFile));
      }));

    test('several followers each get every appended record exactly once, in file order', () =>
      withDaemons(kind, async (d) => {
        await appendWtmp(rec(100), { path: d.wtmpSocket });
        const N = 40;
        const ac = new AbortController();
        const ready: Promise<void>[] = [];
        const followers = [0, 1, 2].map(async () => {
          const got: WtmpReadItem[] = [];
          let started!: () => void;
          ready.push(new Promise<void>((resolve) => (started = resolve)));
          try {
            for await (const item of readWtmp({ path: d.wtmpSocket, follow: true, signal: ac.signal })) {
              got.push(item);
              if (got.length === 1) started();
              if (got.length === N + 1) break;
            }
          } catch (e) {
            if ((e as { code?: string }).code !== 'ABORT_ERR') throw e;
          }
          return got;
        });
        // Let the followers reach the live phase: each has read the one history record, so
        // the server took its snapshot and everything appended from now on is live.
        const guard = setTimeout(() => ac.abort(), 20_000);
        await Promise.race([Promise.all(ready), Promise.all(followers)]);
        clearTimeout(guard);
        await Promise.all(
          [0, 1, 2, 3].map(async (w) => {
            for (let i = 0; i < N / 4; i++) await appendWtmp(rec(w * 1000 + i), { path: d.wtmpSocket });
          }),
        );
        const timer = setTimeout(() => ac.abort(), 20_000);
        const results = await Promise.all(followers);
        clearTimeout(timer);
        const file = fileRecords(d.wtmpFile);
        assert.equal(file.length, N + 1);
        for (const got of results) {
          assert.deepEqual(
            got.map((x) => x.record.bytes),
            file,
            'history then live records, in the order of the file, none missing or repeated',
          );
          assert.deepEqual(
            got.map((x) => x.live),
            [false, ...new Array<boolean>(N).fill(true)],
          );
        }
      }));

    test('a follower that stops reading does not hold up writers, and is dropped', () =>
      withDaemons(
        kind,
        async (d) => {
          // A long history (written straight into the file) and a raw follower that never
          // reads it: the kernel buffers fill and the server's send waits. Writers must not.
          const big = (i: number) => buildRecord({ type: 'USER_PROCESS', pid: i, user: 'root', host: 'h'.repeat(256), tvSec: i });
          appendFileSync(d.wtmpFile, Buffer.concat(Array.from({ length: 3000 }, (_, i) => big(i))));
          const stuck = createConnection(d.wtmpSocket);
          await new Promise<void>((r) => stuck.once('connect', () => r()));
          stuck.pause();
          stuck.write(encodeRequest.read({ follow: true }));
          await new Promise((r) => setTimeout(r, 200));
          for (let i = 0; i < 20; i++) await appendWtmp(rec(5000 + i, 'root'), { path: d.wtmpSocket });
          assert.equal(fileRecords(d.wtmpFile).length, 3020, 'every append went through');
          assert.ok(!stuck.closed, 'the stuck follower was still connected while the writers finished');
          // Then the answer deadline (-t 1500) drops it, and says so.
          for (let i = 0; i < 400 && !/did not take its answer within 1500 ms/.test(d.stderr()); i++) {
            await new Promise((r) => setTimeout(r, 25));
          }
          assert.match(d.stderr(), /did not take its answer within 1500 ms/);
          const closed = new Promise<void>((r) => stuck.once('close', () => r()));
          stuck.resume();
          stuck.on('data', () => undefined);
          await closed;
        },
        { timeoutMs: 1500 },
      ));
  });
}

describe('wtmp read policy (utmpsd)', () => {
  test('--private-reads: a non-root peer sees only its own records; root sees all', async () => {
    const d = await startDaemons('utmpsd', { extra: ['--private-reads'] });
    try {
      chmodSync(d.dir, 0o755);
      for (const [i, user] of ['nobody', 'root', 'nobody', 'alice'].entries()) {
        await appendWtmp(rec(i, user), { path: d.wtmpSocket });
      }
      assert.equal((await collect({ path: d.wtmpSocket })).length, 4);
      const script = `
        import { readWtmp } from ${JSON.stringify(join(ROOT, 'dist/src/client/index.js'))};
        const users = [];
        for await (const x of readWtmp({ path: ${JSON.stringify(d.wtmpSocket)} })) users.push(x.record.entry.user);
        console.log(JSON.stringify(users));`;
      const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), ['nobody', 'nobody']);
    } finally {
      await d.stop();
    }
  });
});
