// Whole-file OFD locks against real lock holders: a python3 process holding a classic
// POSIX lock (fcntl.lockf), and a second open of the same file in this process.

import assert from 'node:assert/strict';
import { type FileHandle, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { lock, SysError, tryLock, unlock } from '../../src/sys/native.js';
import { holdPosixLock, makeTempDir, stop } from '../helpers/support.js';

let dir: string;
let removeDir: () => Promise<void>;
let file: string;

before(async () => {
  ({ dir, remove: removeDir } = await makeTempDir());
  file = join(dir, 'utmp');
  await writeFile(file, Buffer.alloc(400));
});

after(async () => {
  await removeDir();
});

/** Runs body with a fresh read-write open of the test file, closed afterwards. */
async function withFile(body: (fh: FileHandle) => Promise<void>): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await body(fh);
  } finally {
    await fh.close();
  }
}

function isTimeout(err: unknown): boolean {
  return (
    err instanceof SysError &&
    err.code === 'ETIMEDOUT' &&
    err.errno === 110 &&
    err.syscall === 'fcntl(F_OFD_SETLKW)' &&
    /locked by another process/.test(err.message)
  );
}

test('a write lock held by another process blocks both kinds until it goes', async () => {
  const holder = await holdPosixLock(file, 'write');
  try {
    await withFile(async (fh) => {
      assert.equal(tryLock(fh.fd, 'read'), false);
      assert.equal(tryLock(fh.fd, 'write'), false);

      const started = performance.now();
      await assert.rejects(lock(fh.fd, 'write', { timeoutMs: 200 }), isTimeout);
      const waited = performance.now() - started;
      assert.ok(waited >= 190 && waited < 1000, `waited ${waited} ms`);

      await stop(holder);
      await lock(fh.fd, 'write', { timeoutMs: 2000 });
      unlock(fh.fd);
    });
  } finally {
    await stop(holder);
  }
});

test('lock() waits and succeeds when the holder goes away mid-wait', async () => {
  const holder = await holdPosixLock(file, 'write');
  try {
    await withFile(async (fh) => {
      const waiting = lock(fh.fd, 'read', { timeoutMs: 5000 });
      setTimeout(() => void stop(holder), 50);
      await waiting;
      unlock(fh.fd);
    });
  } finally {
    await stop(holder);
  }
});

test('a read lock held by another process allows reading but not writing', async () => {
  const holder = await holdPosixLock(file, 'read');
  try {
    await withFile(async (fh) => {
      assert.equal(tryLock(fh.fd, 'write'), false);
      assert.equal(tryLock(fh.fd, 'read'), true);
      unlock(fh.fd);
      await lock(fh.fd, 'read', { timeoutMs: 200 });
      unlock(fh.fd);
      await assert.rejects(lock(fh.fd, 'write', { timeoutMs: 50 }), isTimeout);
    });
  } finally {
    await stop(holder);
  }
});

test('two opens of one file in this process conflict (OFD semantics)', async () => {
  await withFile(async (a) => {
    await withFile(async (b) => {
      assert.equal(tryLock(a.fd, 'write'), true);
      assert.equal(tryLock(b.fd, 'write'), false);
      assert.equal(tryLock(b.fd, 'read'), false);
      // The owner can change its own lock freely.
      assert.equal(tryLock(a.fd, 'read'), true);
      assert.equal(tryLock(b.fd, 'read'), true);
      assert.equal(tryLock(b.fd, 'write'), false);
      unlock(a.fd);
      assert.equal(tryLock(b.fd, 'write'), true);
      assert.equal(tryLock(a.fd, 'read'), false);
      unlock(b.fd);
    });
  });
});

test('closing the descriptor releases its lock', async () => {
  await withFile(async (a) => {
    await withFile(async (b) => {
      assert.equal(tryLock(b.fd, 'write'), true);
    });
    assert.equal(tryLock(a.fd, 'write'), true);
    unlock(a.fd);
  });
});

test('lock() with an already aborted signal rejects with its reason', async () => {
  await withFile(async (fh) => {
    const reason = new Error('caller gave up');
    await assert.rejects(
      lock(fh.fd, 'write', { timeoutMs: 1000, signal: AbortSignal.abort(reason) }),
      (err: unknown) => err === reason,
    );
    // Nothing was taken.
    await withFile(async (other) => {
      assert.equal(tryLock(other.fd, 'write'), true);
    });
  });
});

test('lock() stops waiting as soon as its signal aborts', async () => {
  await withFile(async (a) => {
    await withFile(async (b) => {
      assert.equal(tryLock(a.fd, 'write'), true);
      const controller = new AbortController();
      const reason = new Error('shutdown');
      setTimeout(() => controller.abort(reason), 30);
      const started = performance.now();
      await assert.rejects(
        lock(b.fd, 'write', { timeoutMs: 5000, signal: controller.signal }),
        (err: unknown) => err === reason,
      );
      assert.ok(performance.now() - started < 1000);
      unlock(a.fd);
    });
  });
});

test('other failures throw SysError', async () => {
  const ro = await open(file, 'r');
  try {
    // A write lock needs a descriptor open for writing.
    assert.throws(() => tryLock(ro.fd, 'write'), { name: 'SysError', code: 'EBADF', syscall: 'fcntl(F_OFD_SETLK)' });
  } finally {
    await ro.close();
  }
  assert.throws(() => tryLock(1_000_000, 'read'), { code: 'EBADF' });
  assert.throws(() => unlock(1_000_000), { code: 'EBADF' });
  await assert.rejects(lock(1_000_000, 'read', { timeoutMs: 10 }), { code: 'EBADF' });
  await assert.rejects(lock(0, 'read', { timeoutMs: Number.NaN }), TypeError);
  assert.throws(() => tryLock(0, 'exclusive' as 'write'), TypeError);
});
