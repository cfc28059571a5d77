// Reaping (docs/REAPING.md): utmpsd ends the utmp session of a process that died without
// logging out, as logout() + logwtmp() would, on glibc-layout files read by the real
// util-linux last; never for a writer in another pid namespace; never fooled by a reused
// pid; and `utmps reap` does the same in one pass through the sockets.

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { buildRecord, decodeEntry, type EntryInput, type UtmpEntry } from '../../src/record/index.js';
import { GLIBC_LAYOUT } from '../../src/record/layout.js';
import { procBootTime } from '../../src/host/liveness.js';
import { Logger } from '../../src/server/log.js';
import { Reaper } from '../../src/server/reaper.js';
import { newCursor, UtmpFile } from '../../src/store/utmp-file.js';
import { WtmpFile } from '../../src/store/wtmp-file.js';
import { makeDir } from '../helpers/daemon-common.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { spawnUtmpsd, startUtmpsd, type Utmpsd, utmpsdArgs } from '../helpers/utmpsd.js';

const DEADLINE_MS = 15_000;
const ENV = { ...process.env, LC_ALL: 'C', TZ: 'UTC' };
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A real process to stand for a session: it runs until killed. */
function session(): ChildProcess & { pid: number } {
  const c = spawn('sleep', ['300'], { stdio: 'ignore' });
  children.push(c);
  return c as ChildProcess & { pid: number };
}

async function killed(c: ChildProcess): Promise<void> {
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

/** A pid no process has now: a child that has exited and been waited for. */
async function deadPid(): Promise<number> {
  const c = spawn('true');
  await new Promise((r) => c.once('exit', r));
  return c.pid!;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: ENV, encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const utmps = (args: string[]) => run(process.execPath, [join(BIN, 'utmps'), ...args]);

function fileEntries(path: string): UtmpEntry[] {
  const data = existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  const out: UtmpEntry[] = [];
  for (let off = 0; off + GLIBC_LAYOUT.size <= data.length; off += GLIBC_LAYOUT.size) {
    out.push(decodeEntry(data.subarray(off, off + GLIBC_LAYOUT.size), GLIBC_LAYOUT));
  }
  return out;
}

/** Waits (generous deadline) until the condition holds; the test asserts the effect, never the time. */
async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) assert.fail(`gave up waiting: ${what}`);
    await sleepMs(25);
  }
}

async function put(d: { utmpSocket: string }, record: EntryInput): Promise<void> {
  const s = await UtmpSession.connect({ path: d.utmpSocket });
  try {
    await s.put(record);
  } finally {
    s.close();
  }
}

const entryOn = (path: string, line: string): UtmpEntry | undefined => fileEntries(path).find((e) => e.line === line);

/** last prints "still running" when the logout is in the current second: wait that out. */
async function lastAfter(tvSec: bigint, wtmp: string): Promise<string> {
  while (nowSec() <= Number(tvSec)) await sleepMs(100);
  const r = await run('last', ['-f', wtmp, '--time-format', 'iso']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('utmpsd reaps sessions whose process died', () => {
  let d: Utmpsd;
  after(async () => d?.stop());

  test('a session killed with -9 is reaped and util-linux last shows its logout time, not "still logged in"', async () => {
    d = await startUtmpsd({ format: 'glibc' });
    const sleeper = session();
    const login: EntryInput = { type: 'USER_PROCESS', pid: sleeper.pid, line: 'pts/71', id: 's/71', user: 'root', host: 'client.example', address: '192.0.2.7', session: 9, tvSec: nowSec() };
    await put(d, login);
    await appendWtmp(login, { path: d.wtmpSocket });
    await sleepMs(200);
    assert.equal(entryOn(d.utmpFile, 'pts/71')?.typeName, 'USER_PROCESS', 'a live session is left alone');

    await killed(sleeper);
    const dead = await until('the entry becomes DEAD_PROCESS', () => {
      const e = entryOn(d.utmpFile, 'pts/71');
      return e?.typeName === 'DEAD_PROCESS' && e;
    });
    // What glibc's logout() leaves: user and host cleared, time now, the rest kept.
    assert.deepEqual(
      { pid: dead.pid, line: dead.line, id: dead.id, user: dead.user, host: dead.host, address: dead.address, session: dead.session },
      { pid: sleeper.pid, line: 'pts/71', id: 's/71', user: '', host: '', address: '192.0.2.7', session: 9 },
    );
    assert.ok(dead.tvSec >= BigInt(login.tvSec as number));
    // What logwtmp(line, "", "") appends.
    const logout = await until('the logout reaches wtmp', () => fileEntries(d.wtmpFile)[1]);
    assert.deepEqual(
      { type: logout.typeName, pid: logout.pid, line: logout.line, id: logout.id, user: logout.user, host: logout.host },
      { type: 'DEAD_PROCESS', pid: sleeper.pid, line: 'pts/71', id: '', user: '', host: '' },
    );
    assert.equal(fileEntries(d.wtmpFile).length, 2, 'one logout, once');

    const out = await lastAfter(logout.tvSec, d.wtmpFile);
    const row = out.split('\n').find((l) => l.includes('pts/71'));
    assert.ok(row, out);
    assert.doesNotMatch(row, /still logged in|gone - no logout|still running/);
    const iso = new Date(Number(logout.tvSec) * 1000).toISOString().slice(0, 19);
    assert.ok(row.includes(iso), `last shows the logout time ${iso}: ${row}`);

    // One log line, with no record contents.
    await until('the reap is logged (after its wtmp append)', () => d.stderr().includes('reaper: ended'));
    const lines = d.stderr().split('\n').filter((l) => l.includes('reaper:'));
    assert.equal(lines.length, 1, d.stderr());
    assert.match(lines[0], new RegExp(`^utmpsd: info: reaper: ended the USER_PROCESS entry of pid ${sleeper.pid}: its process exited$`));
    assert.doesNotMatch(d.stderr(), /pts\/71|client\.example|root /);
  });

  test('a login program that logs its session out as its child exits (as terminal servers do) leaves one logout in wtmp, not two', async () => {
    const t = await startUtmpsd({ format: 'glibc', extra: ['--reap-grace', '1000'] });
    try {
      const child = session();
      const login: EntryInput = { type: 'USER_PROCESS', pid: child.pid, line: 'pts/79', id: 's/79', user: 'root', tvSec: nowSec() };
      await put(t, login);
      await appendWtmp(login, { path: t.wtmpSocket });
      // The child exits; its login program logs out at once, as logout() and logwtmp() do.
      await killed(child);
      await put(t, { ...login, type: 'DEAD_PROCESS', user: '', tvSec: nowSec() });
      await appendWtmp({ type: 'DEAD_PROCESS', pid: child.pid, line: 'pts/79', tvSec: nowSec() }, { path: t.wtmpSocket });
      // Past the grace, the reaper finds the entry already dead and writes nothing.
      await sleepMs(2000);
      assert.deepEqual(
        fileEntries(t.wtmpFile).map((e) => `${e.typeName} ${e.line}`),
        ['USER_PROCESS pts/79', 'DEAD_PROCESS pts/79'],
      );
      assert.doesNotMatch(t.stderr(), /reaper: ended/);
    } finally {
      await t.stop();
    }
  });

  test('a session that logged out itself, or whose slot was taken by a new session, is not touched', async () => {
    const first = session();
    await put(d, { type: 'USER_PROCESS', pid: first.pid, line: 'pts/72', id: 's/72', user: 'root', tvSec: nowSec() });
    // The same slot, now another process's session: the watch on the first one is dropped.
    const second = session();
    await put(d, { type: 'USER_PROCESS', pid: second.pid, line: 'pts/72', id: 's/72', user: 'daemon', tvSec: nowSec() });
    const before = fileEntries(d.wtmpFile).length;
    await killed(first);
    // A control session on another line, killed after: once it is reaped, the first kill was seen too.
    const control = session();
    await put(d, { type: 'USER_PROCESS', pid: control.pid, line: 'pts/73', id: 's/73', user: 'root', tvSec: nowSec() });
    await killed(control);
    await until('the control is reaped', () => entryOn(d.utmpFile, 'pts/73')?.typeName === 'DEAD_PROCESS');
    const e = entryOn(d.utmpFile, 'pts/72');
    assert.deepEqual([e?.typeName, e?.pid, e?.user], ['USER_PROCESS', second.pid, 'daemon']);
    await until('the control logout is in wtmp', () => fileEntries(d.wtmpFile).length === before + 1);
    await sleepMs(200);
    assert.equal(fileEntries(d.wtmpFile).length, before + 1, 'only the control was logged out');
    await killed(second);
    await until('the second session is reaped', () => entryOn(d.utmpFile, 'pts/72')?.typeName === 'DEAD_PROCESS');
  });

  test('pid reuse does not fool the reaper: an entry whose pid now names a younger process is reaped at put', async () => {
    const young = session();
    // Written (by its time) well before that process started: the pid was someone else's.
    await put(d, { type: 'LOGIN_PROCESS', pid: young.pid, line: 'tty9', id: '9', user: 'LOGIN', tvSec: nowSec() - 60 });
    await until('the stale entry is reaped', () => entryOn(d.utmpFile, 'tty9')?.typeName === 'DEAD_PROCESS');
    assert.equal(young.exitCode, null, 'the younger process runs on, untouched');
  });

  test('a writer in another pid namespace (unshare --pid --fork --mount-proc) is left alone', async () => {
    // Inside, the session's pid is made high (ns_last_pid) so that in our namespace it names
    // no process: were its pid read as ours, the entry would be reaped at once.
    let inner = 32000;
    while (existsSync(`/proc/${inner + 1}`)) inner -= 97;
    const script = join(d.dir, 'inside.mjs');
    writeFileSync(
      script,
      `import { UtmpSession } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'client', 'index.js'))};\n` +
        `const s = await UtmpSession.connect({ path: ${JSON.stringify(d.utmpSocket)} });\n` +
        `await s.put({ type: 'USER_PROCESS', pid: Number(process.argv[2]), line: 'pts/74', id: 's/74', user: 'root', tvSec: Math.floor(Date.now() / 1000) });\n` +
        's.close();\n',
    );
    const sh = `echo ${inner} > /proc/sys/kernel/ns_last_pid; sleep 300 & p=$!; ${JSON.stringify(process.execPath)} ${JSON.stringify(script)} $p; s=$?; kill -9 $p; exit $s`;
    const r = await run('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-c', sh]);
    assert.equal(r.code, 0, r.stderr);
    const e = entryOn(d.utmpFile, 'pts/74');
    assert.deepEqual([e?.typeName, e?.pid], ['USER_PROCESS', inner + 1]);
    // A control from our namespace, reaped at put: the foreign entry's turn came before it.
    await put(d, { type: 'USER_PROCESS', pid: await deadPid(), line: 'pts/75', id: 's/75', user: 'root', tvSec: nowSec() });
    await until('the control is reaped', () => entryOn(d.utmpFile, 'pts/75')?.typeName === 'DEAD_PROCESS');
    await sleepMs(200);
    assert.equal(entryOn(d.utmpFile, 'pts/74')?.typeName, 'USER_PROCESS', 'the container session stays');
  });
});

describe('utmpsd reaps after dropping root', () => {
  test('utmpsd --user nobody: a root session killed with -9 is still reaped (namespace read from NSpid)', async () => {
    const d = await startUtmpsd({ format: 'glibc', extra: ['--user', 'nobody', '--group', '43'] });
    try {
      const sleeper = session();
      await put(d, { type: 'USER_PROCESS', pid: sleeper.pid, line: 'pts/76', id: 's/76', user: 'root', tvSec: nowSec() });
      await sleepMs(200);
      assert.equal(entryOn(d.utmpFile, 'pts/76')?.typeName, 'USER_PROCESS');
      await killed(sleeper);
      await until('reaped by the unprivileged server', () => entryOn(d.utmpFile, 'pts/76')?.typeName === 'DEAD_PROCESS');
      await until('its logout in wtmp', () => fileEntries(d.wtmpFile).length === 1);
    } finally {
      await d.stop();
    }
  });
});

describe('utmpsd at start', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** A glibc utmp file holding these entries, in a fresh state directory. */
  async function stateWith(entries: EntryInput[]): Promise<string> {
    const dir = await makeDir('rp-');
    dirs.push(dir);
    writeFileSync(join(dir, 'utmp'), Buffer.concat(entries.map((e) => buildRecord(e, GLIBC_LAYOUT))), { mode: 0o644 });
    return dir;
  }

  async function scenario(): Promise<{ entries: EntryInput[]; live: ChildProcess & { pid: number }; young: ChildProcess & { pid: number } }> {
    const live = session();
    const young = session();
    const btime = procBootTime();
    await sleepMs(50);
    const t = nowSec();
    const dead = await deadPid();
    return {
      live,
      young,
      entries: [
        { type: 'USER_PROCESS', pid: dead, line: 'pts/81', id: 's/81', user: 'root', tvSec: t },
        { type: 'USER_PROCESS', pid: young.pid, line: 'pts/82', id: 's/82', user: 'root', tvSec: t - 60 },
        { type: 'USER_PROCESS', pid: dead, line: 'pts/83', id: 's/83', user: 'root', tvSec: btime - 10 },
        { type: 'INIT_PROCESS', pid: live.pid, line: 'tty3', id: '3', tvSec: t + 1 },
        { type: 'BOOT_TIME', line: '~', id: '~~', user: 'reboot', tvSec: btime },
      ],
    };
  }

  test('entries of dead processes and of reused pids are reaped at start; entries from before the boot and live ones stay', async () => {
    const { entries, live } = await scenario();
    const dir = await stateWith(entries);
    const { child, stderr } = await spawnUtmpsd(utmpsdArgs(dir, { format: 'glibc' }));
    try {
      const utmp = join(dir, 'utmp');
      await until('two entries reaped at start', () => fileEntries(join(dir, 'wtmp')).length === 2);
      const types = Object.fromEntries(fileEntries(utmp).map((e) => [e.line, e.typeName]));
      assert.deepEqual(types, { 'pts/81': 'DEAD_PROCESS', 'pts/82': 'DEAD_PROCESS', 'pts/83': 'USER_PROCESS', tty3: 'INIT_PROCESS', '~': 'BOOT_TIME' });
      assert.deepEqual(fileEntries(join(dir, 'wtmp')).map((e) => [e.typeName, e.line]).sort(), [['DEAD_PROCESS', 'pts/81'], ['DEAD_PROCESS', 'pts/82']]);
      // The log line follows the wtmp append.
      await until('the reuse is logged', () => /its process is gone \(pid reused\)/.test(stderr()));
      // The live one found at start is watched from then on.
      await killed(live);
      await until('the getty entry found at start is reaped once its process dies', () => entryOn(utmp, 'tty3')?.typeName === 'DEAD_PROCESS');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  test('--no-reap leaves every entry as it is', async () => {
    const { entries, live } = await scenario();
    const dir = await stateWith(entries);
    const before = readFileSync(join(dir, 'utmp'));
    const { child } = await spawnUtmpsd(utmpsdArgs(dir, { format: 'glibc', extra: ['--no-reap'] }));
    try {
      await killed(live);
      const d = { utmpSocket: join(dir, '.utmpd-socket') };
      await put(d, { type: 'USER_PROCESS', pid: await deadPid(), line: 'pts/84', id: 's/84', user: 'root', tvSec: nowSec() });
      await sleepMs(300);
      assert.ok(readFileSync(join(dir, 'utmp')).subarray(0, before.length).equals(before), 'nothing rewritten');
      assert.equal(entryOn(join(dir, 'utmp'), 'pts/84')?.typeName, 'USER_PROCESS');
      assert.equal(fileEntries(join(dir, 'wtmp')).length, 0);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  test('--reap-with proc: without pidfds, the /proc check reaps a killed session', async () => {
    const dir = await stateWith([]);
    const { child } = await spawnUtmpsd(utmpsdArgs(dir, { format: 'glibc', extra: ['--reap-with', 'proc', '--reap-poll', '100'] }));
    try {
      const sleeper = session();
      await put({ utmpSocket: join(dir, '.utmpd-socket') }, { type: 'USER_PROCESS', pid: sleeper.pid, line: 'pts/85', id: 's/85', user: 'root', tvSec: nowSec() });
      await sleepMs(300);
      assert.equal(entryOn(join(dir, 'utmp'), 'pts/85')?.typeName, 'USER_PROCESS');
      await killed(sleeper);
      await until('reaped by the /proc check', () => entryOn(join(dir, 'utmp'), 'pts/85')?.typeName === 'DEAD_PROCESS');
      await until('its logout in wtmp', () => fileEntries(join(dir, 'wtmp')).length === 1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});

describe('the pidfd budget', () => {
  test('past maxPidfds, processes are checked in /proc instead, and still reaped', async () => {
    const dir = await makeDir('rp-');
    const utmp = await UtmpFile.open(join(dir, 'utmp'), { layout: GLIBC_LAYOUT });
    const wtmp = await WtmpFile.open(join(dir, 'wtmp'), { layout: GLIBC_LAYOUT });
    const reaper = await Reaper.start({ utmp, wtmp, log: new Logger('test', 'quiet'), maxPidfds: 1, pollMs: 100 });
    try {
      const peer = { uid: 0, gid: 0, pid: process.pid };
      const sleepers = [session(), session()];
      for (const [i, p] of sleepers.entries()) {
        const record = buildRecord({ type: 'USER_PROCESS', pid: p.pid, line: `pts/9${i}`, id: `b${i}`, user: 'root', tvSec: nowSec() });
        await utmp.putline(newCursor(), record);
        reaper.written(record, peer);
      }
      assert.deepEqual(reaper.stats(), { watched: 2, pidfds: 1, polled: 1, reaped: 0 });
      for (const p of sleepers) await killed(p);
      await until('both reaped', () => reaper.stats().reaped === 2);
      assert.deepEqual(fileEntries(join(dir, 'utmp')).map((e) => e.typeName), ['DEAD_PROCESS', 'DEAD_PROCESS']);
      assert.deepEqual(reaper.stats(), { watched: 0, pidfds: 0, polled: 0, reaped: 2 });
    } finally {
      await reaper.close();
      await Promise.all([utmp.close(), wtmp.close()]);
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('utmps reap', () => {
  test('utmps reap ends the stale sessions in one pass; --dry-run only prints them', async () => {
    const d = await startUtmpsd({ format: 'glibc', extra: ['--no-reap'] });
    try {
      const live = session();
      const young = session();
      await sleepMs(50);
      const t = nowSec();
      const dead = await deadPid();
      await put(d, { type: 'USER_PROCESS', pid: dead, line: 'pts/91', id: 's/91', user: 'root', host: 'h.example', tvSec: t });
      await put(d, { type: 'LOGIN_PROCESS', pid: young.pid, line: 'tty7', id: '7', user: 'LOGIN', tvSec: t - 60 });
      await put(d, { type: 'USER_PROCESS', pid: live.pid, line: 'pts/92', id: 's/92', user: 'root', tvSec: t });
      await put(d, { type: 'USER_PROCESS', pid: dead, line: 'pts/93', id: 's/93', user: 'root', tvSec: procBootTime() - 5 });
      const sockets = ['-U', d.utmpSocket, '-W', d.wtmpSocket];
      const before = readFileSync(d.utmpFile);

      const dry = await utmps(['reap', '-n', ...sockets]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(dry.stdout.trim().split('\n'), [
        `would reap: USER_PROCESS pid ${dead} line "pts/91" id "s/91" user "root" (exited)`,
        `would reap: LOGIN_PROCESS pid ${young.pid} line "tty7" id "7" user "LOGIN" (pid reused)`,
      ]);
      assert.ok(readFileSync(d.utmpFile).equals(before), '--dry-run changes nothing');

      const r = await utmps(['reap', ...sockets]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim().split('\n').length, 2, r.stdout);
      const types = Object.fromEntries(fileEntries(d.utmpFile).map((e) => [e.line, [e.typeName, e.user]]));
      assert.deepEqual(types, {
        'pts/91': ['DEAD_PROCESS', ''],
        tty7: ['DEAD_PROCESS', ''],
        'pts/92': ['USER_PROCESS', 'root'],
        'pts/93': ['USER_PROCESS', 'root'],
      });
      assert.deepEqual(fileEntries(d.wtmpFile).map((e) => [e.typeName, e.line, e.user]), [
        ['DEAD_PROCESS', 'pts/91', ''],
        ['DEAD_PROCESS', 'tty7', ''],
      ]);
      // Nothing left to do: a second pass writes nothing.
      const again = await utmps(['reap', ...sockets]);
      assert.deepEqual([again.code, again.stdout], [0, '']);
      assert.equal(fileEntries(d.wtmpFile).length, 2);

      const bad = await utmps(['reap', '--bogus']);
      assert.equal(bad.code, 100);
    } finally {
      await d.stop();
    }
  });
});
