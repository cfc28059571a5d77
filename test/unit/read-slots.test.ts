// The per-uid cap on concurrent wtmp history reads (src/server/read-slots.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReadSlots } from '../../src/server/read-slots.js';

const never = new AbortController().signal;

test('a uid gets perUid slots; the next readers wait in order; others and root are not held up', async () => {
  const slots = new ReadSlots(2);
  const a = await slots.acquire(65534, never);
  const b = await slots.acquire(65534, never);
  const granted: string[] = [];
  const c = slots.acquire(65534, never).then((r) => (granted.push('c'), r));
  const d = slots.acquire(65534, never).then((r) => (granted.push('d'), r));
  await slots.acquire(1, never); // another uid
  await slots.acquire(0, never); // root, uncounted
  await slots.acquire(0, never);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(granted, [], 'nobody has both its slots in use');
  assert.equal(slots.reading(65534), 2);
  a();
  a(); // releasing twice frees one slot only
  await c;
  assert.deepEqual(granted, ['c']);
  b();
  (await d)();
  (await c)();
  assert.equal(slots.reading(65534), 0);
});

test('a waiting reader whose client leaves gives up its place', async () => {
  const slots = new ReadSlots(1);
  const first = await slots.acquire(65534, never);
  const ac = new AbortController();
  const leaving = slots.acquire(65534, ac.signal);
  const next = slots.acquire(65534, never);
  ac.abort(new Error('hung up'));
  await assert.rejects(leaving, /hung up/);
  first();
  (await next)();
  assert.equal(slots.reading(65534), 0);
  await assert.rejects(slots.acquire(65534, AbortSignal.abort(new Error('gone'))), /gone/);
});

test('the cap is at least 1', () => {
  assert.throws(() => new ReadSlots(0), RangeError);
});
