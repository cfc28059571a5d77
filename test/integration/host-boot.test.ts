// utmps boot and utmps shutdown on glibc-layout files, judged by the real tools: coreutils
// who reads utmp, util-linux last -x reads wtmp. The records themselves are checked field
// by field against docs/HOST.md, and against what the real systemd-update-utmp writes when
// it can be run (in a private mount namespace, so the machine's files are never touched).
// All output with TZ=UTC LC_ALL=C.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { buildRecord, decodeEntry, type EntryInput, GLIBC_LAYOUT, type UtmpEntry } from '../../src/record/index.js';
import { kill } from '../helpers/daemon-common.js';
import { BIN } from '../helpers/paths.js';
import { spawnUtmpsd, startUtmpsd, type Utmpsd, utmpsdArgs } from '../helpers/utmpsd.js';
import { READER_ENV as ENV, type Run, run } from '../helpers/readers.js';


function utmps(d: { utmpSocket: string; wtmpSocket: string }, ...args: string[]): Promise<Run> {
  return run(process.execPath, [join(BIN, 'utmps'), ...args], { ...ENV, UTMPS_UTMPD_SOCKET: d.utmpSocket, UTMPS_WTMPD_SOCKET: d.wtmpSocket });
}

const BTIME = BigInt(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))![1]);
const KERNEL = release();

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `who -b`'s time column for a time in seconds (TZ=UTC, C locale: "Dec  2 05:39"). */
function whoTime(seconds: bigint): string {
  const t = new Date(Number(seconds) * 1000);
  const hm = t.toISOString().slice(11, 16);
  return `${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${hm}`;
}

function records(path: string): UtmpEntry[] {
  const data = readFileSync(path);
  const out: UtmpEntry[] = [];
  for (let at = 0; at + GLIBC_LAYOUT.size <= data.length; at += GLIBC_LAYOUT.size) out.push(decodeEntry(data.subarray(at, at + GLIBC_LAYOUT.size), GLIBC_LAYOUT));
  return out;
}

/** last -x lines that start with a user name, without the "wtmp begins" trailer. */
async function lastLines(wtmp: string): Promise<string[]> {
  const r = await run('last', ['-x', '-w', '-f', wtmp]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('wtmp begins'));
}

function sleeper(): ChildProcess {
  return spawn('sleep', ['600'], { stdio: 'ignore' });
}

/** Logs a session in as a login program does: utmp entry, then the same record in wtmp. */
async function login(d: Utmpsd, input: EntryInput): Promise<void> {
  const record = buildRecord(input);
  const session = await UtmpSession.connect({ path: d.utmpSocket });
  try {
    await session.put(record);
  } finally {
    session.close();
  }
  await appendWtmp(record, { path: d.wtmpSocket });
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function server(): Promise<Utmpsd> {
  const d = await startUtmpsd({ format: 'glibc' });
  cleanups.push(() => d.stop());
  return d;
}

describe('utmps boot after a power loss', () => {
  test('power loss: kill -9 the server and the sessions, restart, boot; who -b shows the boot, who shows no stale entry, last -x shows reboot and crash', async () => {
    const d = await server();
    const previousBoot = BTIME - 3600n;
    const alice = sleeper();
    const bob = sleeper();
    cleanups.push(() => kill(alice, 'SIGKILL'), () => kill(bob, 'SIGKILL'));
    // The previous boot: its records, two sessions left open, one closed properly, a getty.
    await login(d, { type: 'BOOT_TIME', line: '~', id: '~~', user: 'reboot', host: KERNEL, tvSec: previousBoot - 60n });
    await login(d, { type: 'USER_PROCESS', pid: alice.pid, line: 'pts/71', id: 's/71', user: 'alice', host: '192.0.2.7', tvSec: previousBoot });
    await login(d, { type: 'USER_PROCESS', pid: bob.pid, line: 'pts/72', id: 's/72', user: 'bob', tvSec: previousBoot + 10n });
    await login(d, { type: 'USER_PROCESS', pid: 4242, line: 'pts/73', id: 's/73', user: 'carol', tvSec: previousBoot + 20n });
    await login(d, { type: 'DEAD_PROCESS', pid: 4242, line: 'pts/73', id: 's/73', tvSec: previousBoot + 80n });
    await login(d, { type: 'LOGIN_PROCESS', pid: 4343, line: 'tty1', id: 'tty1', user: 'LOGIN', tvSec: previousBoot + 30n });
    const session = await UtmpSession.connect({ path: d.utmpSocket });
    await session.put({ type: 'INIT_PROCESS', pid: 4444, line: 'tty2', id: 'tty2', tvSec: previousBoot + 31n });
    session.close();
    const before = await run('who', [d.utmpFile]);
    assert.match(before.stdout, /^alice +pts\/71/m);

    // Power loss: nobody writes anything.
    await kill(d.child, 'SIGKILL');
    await kill(alice, 'SIGKILL');
    await kill(bob, 'SIGKILL');
    const wtmpBefore = records(d.wtmpFile).length;

    const restarted = await spawnUtmpsd(utmpsdArgs(d.dir, { format: 'glibc' }));
    cleanups.push(() => kill(restarted.child));
    const boot = await utmps(d, 'boot', '-v');
    assert.equal(boot.code, 0, boot.stderr);
    assert.match(boot.stderr, /4 stale utmp entries marked dead/);

    const whoB = await run('who', ['-b', d.utmpFile]);
    assert.equal(whoB.stdout.trim(), `system boot  ${whoTime(BTIME)}`);
    const who = await run('who', [d.utmpFile]);
    assert.equal(who.code, 0);
    assert.equal(who.stdout, '', 'no stale entry is shown as logged in');
    const whoR = await run('who', ['-r', d.utmpFile]);
    assert.match(whoR.stdout, /run-level 3 /);
    // Exactly one BOOT_TIME and one RUN_LVL: the previous boot's was replaced, not added to.
    const utmp = records(d.utmpFile);
    assert.equal(utmp.filter((e) => e.typeName === 'BOOT_TIME').length, 1);
    assert.equal(utmp.filter((e) => e.typeName === 'RUN_LVL').length, 1);
    assert.deepEqual(utmp.filter((e) => ['USER_PROCESS', 'LOGIN_PROCESS', 'INIT_PROCESS'].includes(e.typeName)), []);

    // wtmp got the two host records and no logout for the stale sessions.
    const wtmp = records(d.wtmpFile);
    assert.deepEqual(wtmp.slice(wtmpBefore).map((e) => `${e.typeName} ${e.user}`), ['BOOT_TIME reboot', 'RUN_LVL runlevel']);

    const last = await lastLines(d.wtmpFile);
    assert.match(last[0], /^runlevel +\(to lvl 3\)/);
    assert.match(last[1], new RegExp(`^reboot +system boot +${KERNEL.replace(/[.]/g, '\\.')} .* still running`));
    assert.match(last.find((l) => l.startsWith('alice'))!, /pts\/71 .* - crash /);
    assert.match(last.find((l) => l.startsWith('bob'))!, /pts\/72 .* - crash /);
    assert.doesNotMatch(last.find((l) => l.startsWith('carol'))!, /crash|down|still/, 'a session that logged out keeps its logout time');
  });

  test('--keep-current marks dead only the entries older than the kernel boot time', async () => {
    const d = await server();
    const current = sleeper();
    cleanups.push(() => kill(current, 'SIGKILL'));
    await login(d, { type: 'USER_PROCESS', pid: 4545, line: 'pts/81', id: 's/81', user: 'old', tvSec: BTIME - 5n });
    // A live session of this boot: its time is after its process started, or utmpsd's reaper
    // would take the pid for a reused one and end the session itself.
    await login(d, { type: 'USER_PROCESS', pid: current.pid, line: 'pts/82', id: 's/82', user: 'now', tvSec: BigInt(Math.floor(Date.now() / 1000)) });
    const r = await utmps(d, 'boot', '--keep-current', '--no-runlevel');
    assert.equal(r.code, 0, r.stderr);
    const who = await run('who', [d.utmpFile]);
    assert.match(who.stdout, /^now +pts\/82/m);
    assert.doesNotMatch(who.stdout, /^old/m);
    assert.deepEqual(records(d.utmpFile).filter((e) => e.typeName === 'RUN_LVL'), [], '--no-runlevel writes none');
  });

  test('only root (or the daemon group) may record a boot: nobody is refused with exit 1', async () => {
    const d = await server();
    await chmod(d.dir, 0o755); // nobody must reach the sockets to be refused by the server
    await login(d, { type: 'USER_PROCESS', pid: 4646, line: 'pts/83', id: 's/83', user: 'dave', tvSec: BTIME - 5n });
    const r = await run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, join(BIN, 'utmps'), 'boot'], {
      ...ENV,
      UTMPS_UTMPD_SOCKET: d.utmpSocket,
      UTMPS_WTMPD_SOCKET: d.wtmpSocket,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^utmps: fatal: unable to mark stale utmp entries dead: /);
    assert.match((await run('who', [d.utmpFile])).stdout, /^dave/m, 'nothing was changed');
  });
});

describe('utmps boot run twice in one boot', () => {
  test('the second run changes nothing: the sessions opened since stay, wtmp gets no second reboot', async () => {
    const d = await server();
    let r = await utmps(d, 'boot');
    assert.equal(r.code, 0, r.stderr);
    const frank = sleeper();
    cleanups.push(() => kill(frank, 'SIGKILL'));
    await login(d, { type: 'USER_PROCESS', pid: frank.pid, line: 'pts/84', id: 's/84', user: 'frank', tvSec: BigInt(Math.floor(Date.now() / 1000)) });
    const wtmpBefore = records(d.wtmpFile).length;
    r = await utmps(d, 'boot', '-v');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /already recorded/);
    assert.match((await run('who', [d.utmpFile])).stdout, /^frank +pts\/84/m);
    assert.equal(records(d.wtmpFile).length, wtmpBefore);
    // --force records it again, as after a reboot: frank's entry is taken for stale.
    r = await utmps(d, 'boot', '--force');
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await run('who', [d.utmpFile])).stdout, '');
  });
});

describe('utmps shutdown', () => {
  test('clean shutdown: last -x shows shutdown and "down" for the sessions still open, and utmp keeps no USER_PROCESS', async () => {
    const d = await server();
    let r = await utmps(d, 'boot');
    assert.equal(r.code, 0, r.stderr);
    // Live processes for both entries: utmpsd's reaper would end an entry whose pid is gone.
    const erin = sleeper();
    const getty = sleeper();
    cleanups.push(() => kill(erin, 'SIGKILL'), () => kill(getty, 'SIGKILL'));
    const now = BigInt(Math.floor(Date.now() / 1000));
    await login(d, { type: 'USER_PROCESS', pid: erin.pid, line: 'pts/91', id: 's/91', user: 'erin', host: 'example.org', tvSec: now });
    await login(d, { type: 'LOGIN_PROCESS', pid: getty.pid, line: 'tty3', id: 'tty3', user: 'LOGIN', tvSec: now });

    r = await utmps(d, 'shutdown', '-v');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /2 live utmp entries marked dead/);
    assert.equal((await run('who', [d.utmpFile])).stdout, '');
    assert.deepEqual(records(d.utmpFile).filter((e) => ['USER_PROCESS', 'LOGIN_PROCESS', 'INIT_PROCESS'].includes(e.typeName)), []);
    const wtmp = records(d.wtmpFile);
    assert.equal(wtmp.at(-1)!.user, 'shutdown');
    assert.equal(wtmp.filter((e) => e.typeName === 'DEAD_PROCESS').length, 0, 'no logout is written for the sessions');

    let last = await lastLines(d.wtmpFile);
    assert.match(last[0], /^shutdown +system down /);
    assert.match(last.find((l) => l.startsWith('erin'))!, /pts\/91 +example\.org .* - down /);

    // The next boot keeps them "down": the shutdown record sits between them and it.
    // (--force: this machine has not rebooted, so utmp already holds this boot's record.)
    r = await utmps(d, 'boot', '--force');
    assert.equal(r.code, 0, r.stderr);
    last = await lastLines(d.wtmpFile);
    assert.match(last.find((l) => l.startsWith('erin'))!, / - down /);
    assert.match(last.find((l) => l.startsWith('shutdown'))!, /system down/);
  });
});

/** The fields docs/HOST.md promises, with the time and kernel release left out. */
function shape(e: UtmpEntry): Omit<UtmpEntry, 'tvSec' | 'tvUsec' | 'toJSON'> {
  const { tvSec: _s, tvUsec: _u, ...rest } = e;
  return rest;
}

describe('the host records, field by field', () => {
  test('boot, runlevel and shutdown records match the table in docs/HOST.md', async () => {
    const d = await server();
    let r = await utmps(d, 'boot', '--runlevel', '5');
    assert.equal(r.code, 0, r.stderr);
    r = await utmps(d, 'shutdown');
    assert.equal(r.code, 0, r.stderr);
    const [boot, level, down] = records(d.wtmpFile);
    const common = { line: '~', id: '~~', host: KERNEL, exit: { termination: 0, status: 0 }, session: 0, address: '' };
    assert.deepEqual(shape(boot), { ...common, type: 2, typeName: 'BOOT_TIME', pid: 0, user: 'reboot' });
    assert.equal(boot.tvSec, BTIME);
    assert.equal(boot.tvUsec, 0);
    assert.deepEqual(shape(level), { ...common, type: 1, typeName: 'RUN_LVL', pid: 0x35, user: 'runlevel' });
    assert.deepEqual(shape(down), { ...common, line: '~~', type: 1, typeName: 'RUN_LVL', pid: 0, user: 'shutdown' });
    assert.ok(down.tvSec >= level.tvSec && level.tvSec > BTIME);
    const utmp = records(d.utmpFile);
    assert.deepEqual(utmp.map(shape), [shape(boot), shape(level)], 'utmp gets the boot records, not the shutdown record');
  });

  // systemd-update-utmp writes /run/utmp and /var/log/wtmp by path and asks the service
  // manager over D-Bus for the boot time: run it in a mount namespace where both
  // directories are temp directories, with a private bus that has no systemd on it (it
  // then takes the kernel's boot time from its clocks).
  const SDU = ['/lib/systemd/systemd-update-utmp', '/usr/lib/systemd/systemd-update-utmp'].find((p) => existsSync(p));
  const canRun = SDU !== undefined && existsSync('/usr/bin/dbus-daemon') && existsSync('/usr/bin/unshare') && process.getuid?.() === 0;
  test('they match what the real systemd-update-utmp writes (but for the shutdown line, "~~" as halt)', { skip: canRun ? false : 'needs systemd-update-utmp, dbus-daemon, unshare and root' }, async () => {
    const tmp = await mkdtemp('/tmp/sdu-');
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    await run('mkdir', [join(tmp, 'run'), join(tmp, 'log')]);
    await writeFile(join(tmp, 'run', 'utmp'), '');
    await writeFile(join(tmp, 'log', 'wtmp'), '');
    const script = [
      'set -e',
      `mount --bind ${tmp}/run /run`,
      `mount --bind ${tmp}/log /var/log`,
      `dbus-daemon --session --address=unix:path=${tmp}/bus --fork --print-pid > ${tmp}/dbus.pid`,
      `export DBUS_SYSTEM_BUS_ADDRESS=unix:path=${tmp}/bus`,
      `${SDU} reboot || true`,
      `${SDU} shutdown`,
      `kill "$(cat ${tmp}/dbus.pid)"`,
    ].join('\n');
    const r = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    const theirs = records(join(tmp, 'log', 'wtmp'));
    assert.deepEqual(records(join(tmp, 'run', 'utmp')).map(shape), theirs.map(shape), 'systemd writes both records to both files');
    const [sdBoot, sdDown] = theirs;

    const d = await server();
    assert.equal((await utmps(d, 'boot')).code, 0);
    assert.equal((await utmps(d, 'shutdown')).code, 0);
    const [boot, , down] = records(d.wtmpFile);
    assert.deepEqual(shape(boot), shape(sdBoot));
    assert.deepEqual(shape(down), { ...shape(sdDown), line: '~~' });
    // systemd's boot time is CLOCK_REALTIME minus CLOCK_MONOTONIC, btime with microseconds.
    assert.ok(sdBoot.tvSec - boot.tvSec <= 1n && sdBoot.tvSec - boot.tvSec >= -1n, `${sdBoot.tvSec} vs ${boot.tvSec}`);
  });
});
