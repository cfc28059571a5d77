// The per-file lock queue (src/store/lock-queue.ts) against a real lock holder: a python3
// process holding a classic POSIX lock, which conflicts with our OFD locks. Each task's
// deadline runs from its own arrival; readers go past a writer the holder keeps out; an
// aborted task never runs; once the lock is free, every waiting task runs under it.

import assert from 'node:assert/strict';
import { type FileHandle, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { LockQueue } from '../../src/store/lock-queue.js';
import { holdPosixLock, makeTempDir, stop } from '../helpers/support.js';

let removeDir: () => Promise<void>;
let file: string;

before(async () => {
  let dir: string;
  ({ dir, remove: removeDir } = await makeTempDir());
  file = join(dir, 'wtmp');
  await writeFile(file, Buffer.alloc(400));
});

after(async () => {
  await removeDir();
});

async function withQueue(timeoutMs: number, body: (q: LockQueue, fh: FileHandle) => Promise<void>): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await body(new LockQueue(() => fh.fd, timeoutMs, file), fh);
  } finally {
    await fh.close();
  }
}

const isEagain = (e: unknown): boolean => (e as { code?: string }).code === 'EAGAIN' && /still locked by another process after 400 ms/.test(String(e));

test('writers queued behind a foreign read lock each fail within their own deadline, not one after another', async () => {
  const holder = await holdPosixLock(file, 'read');
  try {
    await withQueue(400, async (q) => {
      const t0 = performance.now();
      const waits = [0, 100, 200, 300, 400].map(async (delay) => {
        await sleep(delay);
        const start = performance.now();
        await assert.rejects(q.run('write', () => 'wrote'), isEagain);
        return { arrived: start - t0, waited: performance.now() - start };
      });
      for (const { waited } of await Promise.all(waits)) {
        assert.ok(waited >= 390, `gave up after ${Math.round(waited)} ms, before its deadline`);
        assert.ok(waited < 800, `waited ${Math.round(waited)} ms for a 400 ms deadline`);
      }
      assert.equal(q.waiting, 0);
    });
  } finally {
    await stop(holder);
  }
});

test('readers run at once beside a writer that a foreign read lock keeps out', async () => {
  const holder = await holdPosixLock(file, 'read');
  try {
    await withQueue(400, async (q) => {
      const order: string[] = [];
      const writer = q.run('write', () => order.push('write'));
      const readers = [1, 2, 3].map((i) => q.run('read', () => order.push(`read ${i}`)));
      await Promise.all(readers);
      assert.deepEqual(order, ['read 1', 'read 2', 'read 3'], 'the readers did not wait for the writer');
      await assert.rejects(writer, isEagain);
    });
  } finally {
    await stop(holder);
  }
});

test('a foreign write lock keeps readers waiting too, and an aborted task never runs', async () => {
  const holder = await holdPosixLock(file, 'write');
  let ran = 0;
  try {
    await withQueue(5000, async (q) => {
      const ac = new AbortController();
      const dropped = q.run('write', () => ran++, ac.signal);
      const reader = q.run('read', () => 'read');
      await sleep(100);
      ac.abort(new Error('the client hung up'));
      await assert.rejects(dropped, /the client hung up/);
      assert.equal(q.waiting, 1, 'only the reader still waits');
      await stop(holder);
      assert.equal(await reader, 'read', 'the reader runs once the lock is free');
      assert.equal(ran, 0, 'the aborted writer never ran');
      // An already aborted signal: refused before queueing.
      await assert.rejects(q.run('write', () => ran++, AbortSignal.abort(new Error('gone'))), /gone/);
      assert.equal(ran, 0);
    });
  } finally {
    await stop(holder);
  }
});

test('once the lock is free, every waiting task runs under it, in arrival order, writers included', async () => {
  const holder = await holdPosixLock(file, 'read');
  try {
    await withQueue(5000, async (q) => {
      const order: string[] = [];
      const tasks = [
        q.run('write', () => order.push('w1')),
        q.run('write', () => order.push('w2')),
        q.run('write', () => {
          throw new Error('this one fails');
        }),
        q.run('write', () => order.push('w3')),
      ];
      await sleep(200);
      assert.deepEqual(order, [], 'nothing written while the read lock is held');
      await stop(holder);
      const results = await Promise.allSettled(tasks);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
        'a failing task fails alone',
      );
      assert.deepEqual(order, ['w1', 'w2', 'w3']);
      await q.idle();
    });
  } finally {
    await stop(holder);
  }
});
