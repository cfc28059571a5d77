// utmps last --follow --json: new logins and logouts as they happen, one JSON object per
// line, read through the wtmpd socket.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendWtmp } from '../../src/client/index.js';
import { buildRecord } from '../../src/record/index.js';
import { startUtmpsd } from '../helpers/utmpsd.js';
import { BIN } from '../helpers/paths.js';

test('utmps last --follow --json prints each new record once, in order, as JSON lines', async () => {
  const d = await startUtmpsd();
  const child = spawn(join(BIN, 'utmps'), ['last', '--follow', '--json', '-W', d.wtmpSocket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    // Until the follower is live, keep appending a probe; once it shows, everything after counts.
    const probe = buildRecord({ type: 'RUN_LVL', user: 'probe', line: '~', tvSec: 1 });
    for (let i = 0; i < 200 && !out.includes('"probe"'); i++) {
      await appendWtmp(probe, { path: d.wtmpSocket });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(out.includes('"probe"'), 'the follower went live');
    const mark = out.length;
    await appendWtmp(
      buildRecord({ type: 'USER_PROCESS', pid: 7, user: 'alice', line: 'pts/3', id: 'ts/3', host: 'client.example', address: '192.0.2.10', tvSec: 1_700_000_000, tvUsec: 250_000 }),
      { path: d.wtmpSocket },
    );
    await appendWtmp(buildRecord({ type: 'DEAD_PROCESS', pid: 7, line: 'pts/3', id: 'ts/3', tvSec: 1_700_000_100 }), { path: d.wtmpSocket });
    await appendWtmp(buildRecord({ type: 'BOOT_TIME', user: 'reboot', line: '~', tvSec: 1_700_000_200 }), { path: d.wtmpSocket });
    for (let i = 0; i < 200 && out.slice(mark).split('\n').filter(Boolean).length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    const events = out
      .slice(mark)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((e) => e.user !== 'probe');
    assert.deepEqual(
      events.map((e) => [e.event, e.user, e.line, e.time.tvSec]),
      [
        ['login', 'alice', 'pts/3', 1_700_000_000],
        ['logout', '', 'pts/3', 1_700_000_100],
        ['boot', 'reboot', '~', 1_700_000_200],
      ],
    );
    assert.deepEqual(events[0], {
      event: 'login',
      type: 'USER_PROCESS',
      user: 'alice',
      line: 'pts/3',
      id: 'ts/3',
      host: 'client.example',
      address: '192.0.2.10',
      pid: 7,
      time: { tvSec: 1_700_000_000, tvUsec: 250_000, iso: '2023-11-14T22:13:20.250Z' },
    });
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    assert.equal(await exited, 0, 'SIGINT ends the follower cleanly');
    await d.stop();
  }
});

test('utmps last --follow follows again when the server closes it for quiet (--follow-timeout)', async () => {
  const d = await startUtmpsd({ extra: ['--follow-timeout', '1500'] });
  const child = spawn(join(BIN, 'utmps'), ['last', '--follow', '--json', '-W', d.wtmpSocket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  try {
    // Quiet for a few follow timeouts: the server closes the follower each time with
    // ETIMEDOUT (hardening-conn.test.ts shows that on the wire).
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal(child.exitCode, null, `still following: ${err}`);
    const record = buildRecord({ type: 'USER_PROCESS', pid: 8, user: 'bob', line: 'pts/4', id: 'ts/4', tvSec: 1_700_000_300 });
    for (let i = 0; i < 200 && !out.includes('"bob"'); i++) {
      await appendWtmp(record, { path: d.wtmpSocket });
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(out.includes('"bob"'), `a record appended after the quiet spell is printed: ${err}`);
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    assert.equal(await exited, 0, 'SIGINT ends the follower cleanly');
    await d.stop();
  }
});
