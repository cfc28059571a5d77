import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionLimits, defaultRootReserve } from '../../src/server/limits.js';
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
  const limits = new ConnectionLimits({ maxConnections: 4, maxPerUid: 2, rootReserve: 0 });
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

test("connection limits: the last slots are root's, so 25 uids at 40 cannot lock root out of 1000", () => {
  const limits = new ConnectionLimits({ maxConnections: 1000, maxPerUid: 40 });
  let admitted = 0;
  for (let uid = 60001; uid <= 60025; uid++) for (let i = 0; i < 40; i++) if (limits.admit(uid) === null) admitted++;
  assert.equal(admitted, 1000 - defaultRootReserve(1000));
  assert.match(limits.admit(60026) ?? '', /for users other than root/);
  for (let i = 0; i < defaultRootReserve(1000); i++) assert.equal(limits.admit(0), null, 'root gets every reserved slot');
  assert.match(limits.admit(0) ?? '', /maximum of 1000 connections/);
});

test('default root reserve: a tenth, at least 1, at most 20, never the whole cap', () => {
  assert.deepEqual([1, 2, 6, 40, 100, 1000, 5000].map(defaultRootReserve), [0, 1, 1, 4, 10, 20, 20]);
});

test('followers: capped per non-root uid, released once, root uncapped', () => {
  const limits = new ConnectionLimits({ maxConnections: 100, maxPerUid: 40, maxFollowersPerUid: 2 });
  const a = limits.admitFollower(7);
  const b = limits.admitFollower(7);
  assert.ok(a && b);
  assert.equal(limits.admitFollower(7), null);
  assert.ok(limits.admitFollower(8), 'another uid has its own count');
  a();
  a();
  assert.ok(limits.admitFollower(7), 'a released slot is reused, once');
  assert.equal(limits.admitFollower(7), null);
  for (let i = 0; i < 10; i++) assert.ok(limits.admitFollower(0));
});
