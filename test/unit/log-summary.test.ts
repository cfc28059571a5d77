import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { LogSummary } from '../../src/server/log-summary.js';

function summary(options: { maxKeys?: number; windowMs?: number } = {}): { s: LogSummary; lines: string[]; clock: { now: number } } {
  const lines: string[] = [];
  const clock = { now: 1_000_000 };
  const s = new LogSummary((line) => lines.push(line), { windowMs: options.windowMs ?? 60_000, maxKeys: options.maxKeys, now: () => clock.now });
  return { s, lines, clock };
}

test('the first event of a (uid, reason) is logged whole, the rest counted until the window ends', () => {
  const { s, lines, clock } = summary();
  for (let i = 0; i < 306_000; i++) s.report(65534, 'putline refusals', `putline refused ${i}`);
  s.report(65534, 'getid failures (EINVAL)', 'getid failed');
  s.report(1, 'putline refusals', 'putline refused by uid 1');
  assert.deepEqual(lines, ['putline refused 0', 'getid failed', 'putline refused by uid 1']);
  clock.now += 10_000;
  s.flush();
  assert.deepEqual(lines.slice(3), ['uid 65534: 305,999 more putline refusals in 10 s']);
  // A new window logs the first event again.
  s.report(65534, 'putline refusals', 'again');
  assert.equal(lines.at(-1), 'again');
});

test("root's events are one line each", () => {
  const { s, lines } = summary();
  for (let i = 0; i < 3; i++) s.report(0, 'putline failures (EAGAIN)', `root ${i}`);
  s.flush();
  assert.deepEqual(lines, ['root 0', 'root 1', 'root 2']);
});

test('past maxKeys pairs, further uids share one count', () => {
  const { s, lines } = summary({ maxKeys: 2 });
  for (let uid = 1; uid <= 100; uid++) for (let i = 0; i < 10; i++) s.report(uid, 'refused utmp connections', `uid ${uid} refused`);
  assert.equal(lines.length, 3, lines.join('\n'));
  s.flush();
  assert.deepEqual(lines.slice(3).sort(), [
    'other uids: 979 more refused utmp connections in 1 s',
    'uid 1: 9 more refused utmp connections in 1 s',
    'uid 2: 9 more refused utmp connections in 1 s',
  ]);
});

test('the window ends by itself: count lines come without a flush', async () => {
  const lines: string[] = [];
  const s = new LogSummary((line) => lines.push(line), { windowMs: 20 });
  s.report(7, 'append refusals', 'first');
  s.report(7, 'append refusals', 'second');
  for (let i = 0; i < 500 && lines.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(lines, ['first', 'uid 7: 1 more append refusals in 1 s']);
});

test('an open window does not keep a process alive', () => {
  const module = new URL('../../src/server/log-summary.js', import.meta.url).href;
  const script = `const { LogSummary } = await import(${JSON.stringify(module)});
    const s = new LogSummary((l) => console.log(l), { windowMs: 600000 });
    s.report(9, 'x refusals', 'first'); s.report(9, 'x refusals', 'second');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.signal, null, 'the process exited on its own');
  assert.equal(r.stdout, 'first\n');
});
