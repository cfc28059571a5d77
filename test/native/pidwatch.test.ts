// The reaper's exit watch on real processes: a pidfd per process in the addon's epoll
// set, one token through the pipe for each exit, none for a process taken out of the set.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { test } from 'node:test';
import { addPidWatch, pidfdOpen, removePidWatch, startPidWatch, SysError } from '../../src/sys/native.js';

test('pidfdOpen and the exit watch: each exited process reports its token once', async () => {
  const fd = startPidWatch();
  assert.equal(startPidWatch(), fd, 'one watch per process');
  const reader = new Socket({ fd, readable: true, writable: false });
  const tokens: number[] = [];
  reader.on('data', (chunk: Buffer) => {
    for (let off = 0; off + 4 <= chunk.length; off += 4) tokens.push(chunk.readUInt32LE(off));
  });
  const a = spawn('sleep', ['60']);
  const b = spawn('sleep', ['60']);
  const c = spawn('sleep', ['60']);
  const fds = [a, b, c].map((p) => pidfdOpen(p.pid!));
  fds.forEach((pidfd, i) => addPidWatch(pidfd, 0xfffffff0 + i));
  removePidWatch(fds[2]);
  for (const p of [a, b, c]) p.kill('SIGKILL');
  await Promise.all([a, b, c].map((p) => new Promise((r) => p.once('exit', r))));
  const end = Date.now() + 10_000;
  while (tokens.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(tokens.sort(), [0xfffffff0, 0xfffffff1]);
  for (const pidfd of fds) closeSync(pidfd);
  reader.destroy();

  const dead = spawn('true');
  await new Promise((r) => dead.once('exit', r));
  assert.throws(() => pidfdOpen(dead.pid!), (e: SysError) => e.code === 'ESRCH');
  assert.throws(() => pidfdOpen(0), (e: SysError) => e.code === 'EINVAL');
});
