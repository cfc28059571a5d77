// The reaper's shared rules (src/host/liveness.ts) and records (src/record/logout.ts),
// used by utmpsd and `utmps reap`. Expected bytes are built by hand from the utmps layout
// (test/vectors/record-layouts.md), and what logout()/logwtmp() keep and clear was read
// off glibc 2.36 with a C program (docs/REAPING.md).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Host, inOurPidNamespace, judge, procBootTime, procHost, procStartTicks, START_SLACK_S, stillRunning } from '../../src/host/liveness.js';
import { deadEntry, logoutRecord } from '../../src/record/logout.js';
import { buildRecord, type EntryInput } from '../../src/record/index.js';
import { cat, le, padded } from '../helpers/bytes.js';

/** A utmps record laid out field by field. */
function utmps(f: { type: number; pid: number; line: string; id: string; user: string; host: string; term: number; exit: number; session: number; sec: bigint; usec: bigint; addr: Buffer; reserved: Buffer }): Buffer {
  return cat(
    le(f.type, 2), 0, 0, le(f.pid, 4), padded(f.line, 32), padded(f.id, 4), padded(f.user, 32), padded(f.host, 256),
    le(f.term, 2), le(f.exit, 2), le(f.session, 4), 0, 0, 0, 0, le(f.sec, 8), le(f.usec, 8), f.addr, f.reserved, 0, 0, 0, 0,
  );
}

const login = {
  type: 7, pid: 4321, line: 'pts/9', id: 'ts/9', user: 'alice', host: 'h.example', term: 1, exit: 2, session: 77,
  sec: 1_700_000_000n, usec: 5n, addr: cat(127, 0, 0, 1, Buffer.alloc(12)), reserved: Buffer.alloc(20, 0xaa),
};
const at = { tvSec: 1_800_000_000n, tvUsec: 250_000 };

describe('the records a reap writes', () => {
  test('deadEntry is what logout() leaves: DEAD_PROCESS, time now, user and host zeroed, everything else kept', () => {
    const got = deadEntry(utmps(login), at);
    assert.deepEqual(got, utmps({ ...login, type: 8, user: '', host: '', sec: at.tvSec, usec: 250_000n }));
  });

  test('logoutRecord is what logwtmp(line, "", "") appends: DEAD_PROCESS, pid, line and time, the rest zero', () => {
    const got = logoutRecord(utmps(login), at);
    const zero = { term: 0, exit: 0, session: 0, addr: Buffer.alloc(16), reserved: Buffer.alloc(20) };
    assert.deepEqual(got, utmps({ ...login, ...zero, type: 8, id: '', user: '', host: '', sec: at.tvSec, usec: 250_000n }));
  });

});

describe('is the session still there?', () => {
  const BOOT = 1_000_000;
  const host = (starts: Record<number, number>): Host => ({ bootTime: () => BOOT, startTime: (pid) => starts[pid] ?? null });
  const entry = (e: Partial<EntryInput>): Buffer => buildRecord({ type: 'USER_PROCESS', pid: 50, line: 'pts/1', id: '1', tvSec: BOOT + 100, ...e });

  test('a process started before its entry was written is alive, and pinned by its start time', () => {
    assert.deepEqual(judge(entry({}), host({ 50: BOOT + 90 })), { kind: 'alive', start: BOOT + 90 });
  });

  test('a missing process is gone', () => {
    assert.deepEqual(judge(entry({}), host({})), { kind: 'gone', why: 'exited' });
  });

  test('a pid that now names a process started after the entry is a reused pid: gone', () => {
    assert.deepEqual(judge(entry({}), host({ 50: BOOT + 100 + START_SLACK_S + 1 })), { kind: 'gone', why: 'pid reused' });
    // Within the slack (btime is whole seconds), it is taken to be the writer.
    assert.equal(judge(entry({}), host({ 50: BOOT + 100 + START_SLACK_S })).kind, 'alive');
  });

  test('entries written before the boot are left to utmps boot', () => {
    assert.deepEqual(judge(entry({ tvSec: BOOT - 1 }), host({})), { kind: 'before-boot' });
  });

  test('only INIT_PROCESS, LOGIN_PROCESS and USER_PROCESS entries with a pid are judged', () => {
    for (const type of ['INIT_PROCESS', 'LOGIN_PROCESS', 'USER_PROCESS'] as const) assert.equal(judge(entry({ type }), host({})).kind, 'gone', type);
    for (const type of ['EMPTY', 'RUN_LVL', 'BOOT_TIME', 'NEW_TIME', 'OLD_TIME', 'DEAD_PROCESS', 'ACCOUNTING'] as const) {
      assert.deepEqual(judge(entry({ type }), host({})), { kind: 'ignore' }, type);
    }
    assert.deepEqual(judge(entry({ pid: 0 }), host({})), { kind: 'ignore' });
    assert.deepEqual(judge(entry({ pid: -5 }), host({})), { kind: 'ignore' });
  });

  test('stillRunning: the same pid with another start time is another process', () => {
    const h = host({ 50: BOOT + 10 });
    assert.equal(stillRunning(50, BOOT + 10, h), true);
    assert.equal(stillRunning(50, BOOT + 11, h), false);
    assert.equal(stillRunning(51, BOOT + 10, h), false);
  });
});

describe('the host facts, from /proc', () => {
  test('field 22 of /proc/PID/stat is found after the last parenthesis; zombies count as gone', () => {
    const proc = mkdtempSync('/tmp/rp-proc-');
    try {
      const stat = (pid: number, comm: string, state: string, start: number): void => {
        mkdirSync(join(proc, String(pid)));
        const fields = [state, ...Array.from({ length: 18 }, (_, i) => String(i + 4)), String(start), '999', '888'];
        writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) ${fields.join(' ')}\n`);
      };
      stat(10, 'a) (b c', 'S', 4242);
      stat(11, 'zombie', 'Z', 4243);
      writeFileSync(join(proc, 'stat'), 'cpu 1 2 3\nbtime 1700000000\nprocesses 5\n');
      assert.equal(procStartTicks(10, proc), 4242);
      assert.equal(procStartTicks(11, proc), null);
      assert.equal(procStartTicks(12, proc), null);
      assert.equal(procBootTime(proc), 1_700_000_000);
      assert.equal(procHost(proc).startTime(10), 1_700_000_000 + 42.42);
    } finally {
      rmSync(proc, { recursive: true, force: true });
    }
  });

  test('the real /proc: this process started after the boot and before now', () => {
    const h = procHost();
    const start = h.startTime(process.pid)!;
    assert.ok(start >= h.bootTime() && start <= Date.now() / 1000 + 1, `${start}`);
  });

  test('this process is in our pid namespace; pid 0 and missing pids are not', () => {
    assert.equal(inOurPidNamespace(process.pid), true);
    assert.equal(inOurPidNamespace(0), false);
    assert.equal(inOurPidNamespace(0x7ffffff0), false);
  });
});
