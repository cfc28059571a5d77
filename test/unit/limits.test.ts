import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimits } from '../../src/server/limits.js';
import { RateLimiter } from '../../src/server/rate-limit.js';

test('rate limiter: burst, then the rate; refusals flagged once per burst; root exempt', () => {
  let now = 0;
  const limiter = new RateLimiter({ perMinute: 60, burst: 3 }, () => now);
  assert.deepEqual([1, 2, 3].map(() => limiter.take(1000).allowed), [true, true, true]);
  assert.deepEqual(limiter.take(1000), { allowed: false, firstOfBurst: true });
  assert.deepEqual(limiter.take(1000), { allowed: false, firstOfBurst: false });
  assert.equal(limiter.take(1001).allowed, true, 'another uid has its own bucket');
  for (let i = 0; i < 100; i++) assert.equal(limiter.take(0).allowed, true, 'root is never limited');
  now += 999;
  assert.equal(limiter.take(1000).allowed, false, 'less than one token earned');
  now += 1;
  assert.equal(limiter.take(1000).allowed, true, 'one token per second at 60 per minute');
  assert.deepEqual(limiter.take(1000), { allowed: false, firstOfBurst: true }, 'a new burst of refusals is reported again');
  now += 3_600_000;
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take(1000).allowed), [true, true, true, false], 'tokens cap at the burst');
});

test('rate limiter: 0 per minute turns limiting off', () => {
  const limiter = new RateLimiter({ perMinute: 0, burst: 1 });
  for (let i = 0; i < 10; i++) assert.equal(limiter.take(5).allowed, true);
});

test('connection limits: per uid for non-root, total for everyone, released slots reused', () => {
  const limits = new ConnectionLimits({ maxConnections: 4, maxPerUid: 2 });
  assert.equal(limits.admit(7), null);
  assert.equal(limits.admit(7), null);
  assert.match(limits.admit(7) ?? '', /uid 7 has its maximum of 2/);
  assert.equal(limits.admit(0), null);
  assert.equal(limits.admit(0), null);
  assert.match(limits.admit(0) ?? '', /maximum of 4 connections/);
  assert.equal(limits.connections, 4);
  limits.release(7);
  assert.equal(limits.admit(8), null);
  assert.match(limits.admit(9) ?? '', /maximum of 4/);
});
