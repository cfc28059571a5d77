// The host records of utmps boot and utmps shutdown, field by field against the table in
// docs/HOST.md (what systemd-update-utmp and sysvinit write), and the dead entry that
// marks a stale session as logout() would.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { bootRecord, kernelRelease, runlevelRecord, shutdownRecord } from '../../src/cli/host.js';
import { WATCHED_TYPES } from '../../src/host/liveness.js';
import { deadEntry } from '../../src/record/logout.js';
import { timeoutOption } from '../../src/cli/host.js';
import { runlevelOption } from '../../src/cli/utmps-boot.js';
import { buildRecord, decodeEntry, RecordType } from '../../src/record/index.js';

const T = { tvSec: 1_700_000_000n, tvUsec: 250_000 };

function fields(bytes: Buffer) {
  const { toJSON: _j, ...rest } = decodeEntry(bytes);
  return rest;
}

const ZERO = { exit: { termination: 0, status: 0 }, session: 0, address: '', tvSec: T.tvSec, tvUsec: T.tvUsec };

test('BOOT_TIME: pid 0, line "~", id "~~", user "reboot", host the kernel release', () => {
  assert.deepEqual(fields(bootRecord(T, '6.1.0-test')), { ...ZERO, type: 2, typeName: 'BOOT_TIME', pid: 0, line: '~', id: '~~', user: 'reboot', host: '6.1.0-test' });
  assert.equal(decodeEntry(bootRecord(T)).host, kernelRelease());
});

test("RUN_LVL: the level's character in the low byte of ut_pid, the previous one in the next", () => {
  assert.deepEqual(fields(runlevelRecord('3', null, T, 'k')), { ...ZERO, type: 1, typeName: 'RUN_LVL', pid: 0x33, line: '~', id: '~~', user: 'runlevel', host: 'k' });
  assert.equal(decodeEntry(runlevelRecord('5', '3', T, 'k')).pid, 0x35 + 256 * 0x33);
});

test('the shutdown record: RUN_LVL, pid 0, line "~~" and id "~~" (halt), user "shutdown"', () => {
  assert.deepEqual(fields(shutdownRecord(T, 'k')), { ...ZERO, type: 1, typeName: 'RUN_LVL', pid: 0, line: '~~', id: '~~', user: 'shutdown', host: 'k' });
});

test('a dead entry: DEAD_PROCESS, user and host cleared, time replaced; pid, line, id, exit, session and address kept', () => {
  const live = buildRecord({
    type: 'USER_PROCESS', pid: 4242, line: 'pts/5', id: 'ts/5', user: 'alice', host: 'example.org', exit: { termination: 1, status: 2 }, session: 77, address: '192.0.2.1', tvSec: 1n, tvUsec: 5,
  });
  const dead = deadEntry(live, T);
  assert.deepEqual(fields(dead), {
    type: 8, typeName: 'DEAD_PROCESS', pid: 4242, line: 'pts/5', id: 'ts/5', user: '', host: '', exit: { termination: 1, status: 2 }, session: 77, address: '192.0.2.1', tvSec: T.tvSec, tvUsec: T.tvUsec,
  });
  assert.equal(decodeEntry(live).user, 'alice', 'the input is not changed');
  assert.equal(dead.subarray(76, 332).every((b) => b === 0), true, 'the whole host field is zero, not only its start');
});

test('live types: USER, LOGIN and INIT_PROCESS only', () => {
  const live = Object.entries(RecordType).filter(([, n]) => WATCHED_TYPES.has(n)).map(([name]) => name);
  assert.deepEqual(live.sort(), ['INIT_PROCESS', 'LOGIN_PROCESS', 'USER_PROCESS']);
});

test('--runlevel takes 1 to 5 or S (default 3); --timeout a number of ms (default 10000)', () => {
  assert.equal(runlevelOption(undefined), '3');
  assert.equal(runlevelOption('5'), '5');
  assert.equal(runlevelOption('s'), 'S');
  for (const bad of ['0', '6', '35', 'x', '']) assert.throws(() => runlevelOption(bad), { status: 100 }, bad);
  assert.equal(timeoutOption(undefined), 10_000);
  assert.equal(timeoutOption('0'), 0);
  assert.throws(() => timeoutOption('-1'), { status: 100 });
});
