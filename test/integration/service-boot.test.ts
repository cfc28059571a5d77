// The boot and shutdown records and the rest of a deployment, under the real managers:
// - OpenRC: examples/openrc/utmps-boot after utmpsd, then after the classic pair
//   (utmps-utmpd, utmps-wtmpd), all run by the real openrc-run and supervise-daemon
//   (Debian's openrc package), from a temp init.d with its conf.d;
// - s6: examples/s6/utmpsd with its log/ service under the real s6-svscan, the
//   examples/s6/utmps-boot script for stages 2 and 3, and examples/logrotate/utmps run by
//   the real logrotate, whose postrotate must make the supervised utmpsd reopen wtmp.
// The daemons write the glibc layout so that coreutils who and util-linux last -x judge.
// OpenRC keeps its state in /run/openrc: run this file under the service lock.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { buildRecord, decodeEntry, type EntryInput, GLIBC_LAYOUT, type UtmpEntry } from '../../src/record/index.js';
import { accountIds, onPath, run } from '../helpers/commands.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { processesUnder, killUnder } from '../helpers/processes.js';

const HANG_GUARD_MS = 30_000;
const SERVICE_USER = 'nobody';
/** Debian's utmp group: nobody's own group is shared, which utmpsd refuses. */
const UTMP_GID = 43;
const BTIME = BigInt(/^btime (\d+)$/m.exec(await readFile('/proc/stat', 'latin1'))![1]);
const ENV = { PATH: [BIN, dirname(process.execPath), '/usr/lib/execline/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':'), TZ: 'UTC', LC_ALL: 'C' };

function records(path: string, data: Buffer): UtmpEntry[] {
  const out: UtmpEntry[] = [];
  for (let at = 0; at + GLIBC_LAYOUT.size <= data.length; at += GLIBC_LAYOUT.size) out.push(decodeEntry(data.subarray(at, at + GLIBC_LAYOUT.size), GLIBC_LAYOUT));
  assert.equal(data.length % GLIBC_LAYOUT.size, 0, `${path} holds whole glibc records`);
  return out;
}

async function lastLines(wtmp: string): Promise<string[]> {
  const r = await run('last', ['-x', '-w', '-f', wtmp], { env: ENV });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('wtmp begins'));
}

/** A login as a login program writes it: utmp entry, then the same record in wtmp. */
async function login(sockets: { utmp: string; wtmp: string }, input: EntryInput): Promise<void> {
  const record = buildRecord(input);
  const session = await UtmpSession.connect({ path: sockets.utmp, timeoutMs: 10_000 });
  try {
    await session.put(record);
  } finally {
    session.close();
  }
  await appendWtmp(record, { path: sockets.wtmp, timeoutMs: 10_000 });
}



async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A process that is gone: its pid is what a stale entry holds. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

async function openrcSkip(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const p of ['openrc-run', 'supervise-daemon', 'who', 'last']) if (!(await onPath(p))) return `${p} is not installed (Debian package openrc)`;
  if (!(await accountIds(SERVICE_USER))) return `no account '${SERVICE_USER}'`;
  return false;
}

/** The server scripts of one shape, and their conf.d settings for a temp root. */
const SHAPES: Record<string, { servers: string[]; conf: (root: string, state: string, wtmp: string) => Record<string, Record<string, string>> }> = {
  utmpsd: {
    servers: ['utmpsd'],
    conf: (_root, state, wtmp) => ({
      utmpsd: { utmps_state_dir: state, utmps_wtmp: wtmp, utmps_user: SERVICE_USER, utmps_group: String(UTMP_GID), utmps_format: 'glibc', utmps_bindir: BIN },
    }),
  },
  'the classic pair': {
    servers: ['utmps-utmpd', 'utmps-wtmpd'],
    conf: (root, state) => {
      const common = { utmps_state_dir: state, utmps_user: SERVICE_USER, utmps_group: String(UTMP_GID), utmps_format: 'glibc', utmps_bindir: BIN };
      return {
        'utmps-utmpd': { ...common, utmps_access_dir: join(root, 'access', 'utmpd') },
        'utmps-wtmpd': { ...common, utmps_log_dir: root, utmps_access_dir: join(root, 'access', 'wtmpd') },
      };
    },
  },
};

for (const [shape, { servers, conf: serverConf }] of Object.entries(SHAPES)) {
  describe(`OpenRC: utmps-boot after ${shape}, under the real openrc-run and supervise-daemon`, { skip: await openrcSkip() }, () => {
    let root: string;
    let madeSoftlevel = false;
    let sockets: { utmp: string; wtmp: string };
    let utmp: string;
    let wtmp: string;
    const rc = (name: string, ...args: string[]) => run(join(root, 'init.d', name), ['--nodeps', ...args], { env: ENV });

    before(async () => {
      root = await mkdtemp('/tmp/orb-');
      await chmod(root, 0o755);
      await mkdir(join(root, 'init.d'));
      await mkdir(join(root, 'conf.d'));
      await mkdir(join(root, 'run'), { mode: 0o755 }); // checkpath makes the last component only, as /run exists at boot
      for (const name of [...servers, 'utmps-boot']) await cp(join(ROOT, 'examples', 'openrc', name), join(root, 'init.d', name));
      const state = join(root, 'run', 'utmps');
      utmp = join(state, 'utmp');
      wtmp = join(root, 'wtmp');
      sockets = { utmp: join(state, '.utmpd-socket'), wtmp: join(state, '.wtmpd-socket') };
      const conf = (lines: Record<string, string>) => Object.entries(lines).map(([k, v]) => `${k}="${v}"\n`).join('');
      for (const [name, settings] of Object.entries(serverConf(root, state, wtmp))) await writeFile(join(root, 'conf.d', name), conf(settings));
      const where = `-U ${sockets.utmp} -W ${sockets.wtmp}`;
      await writeFile(join(root, 'conf.d', 'utmps-boot'), conf({ utmps_bindir: BIN, utmps_boot_args: `${where} -v`, utmps_shutdown_args: `${where} -v` }));
      // openrc-run refuses to run services before OpenRC has booted; this is what boot leaves.
      await mkdir('/run/openrc', { recursive: true });
      if (!(await exists('/run/openrc/softlevel'))) {
        await writeFile('/run/openrc/softlevel', '');
        madeSoftlevel = true;
      }
    });

    after(async () => {
      for (const name of ['utmps-boot', ...[...servers].reverse()]) await rc(name, 'stop');
      for (const name of ['utmps-boot', ...servers]) await rc(name, 'zap');
      await killUnder(root);
      if (madeSoftlevel) await rm('/run/openrc/softlevel', { force: true });
      await rm(root, { recursive: true, force: true });
    });

    test(`${servers.join(' and ')} start; a session of the previous boot is left in utmp and wtmp`, async () => {
      for (const name of servers) {
        const r = await rc(name, 'start');
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      for (const start = Date.now(); !(await exists(sockets.wtmp)) || !(await exists(sockets.utmp)); await sleep(50)) {
        assert.ok(Date.now() - start < HANG_GUARD_MS, 'the servers made their sockets');
      }
      await login(sockets, { type: 'USER_PROCESS', pid: await deadPid(), line: 'pts/61', id: 'o/61', user: 'oldboot', tvSec: BTIME - 100n });
      assert.match((await run('who', [utmp], { env: ENV })).stdout, /^oldboot/m);
    });

    test('rc start utmps-boot: who -b shows the boot, who shows nobody, last -x shows reboot and crash', async () => {
      const r = await rc('utmps-boot', 'start');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stderr, /1 stale utmp entry marked dead/);
      assert.match((await run('who', ['-b', utmp], { env: ENV })).stdout, /system boot/);
      assert.equal((await run('who', [utmp], { env: ENV })).stdout, '');
      const last = await lastLines(wtmp);
      assert.match(last[0], /^runlevel +\(to lvl 3\)/);
      assert.match(last[1], /^reboot +system boot/);
      assert.match(last.find((l) => l.startsWith('oldboot'))!, / - crash /);
    });

    test('rc stop utmps-boot, before the servers: last -x shows shutdown, and "down" for a session still open', async () => {
      const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
      try {
        await login(sockets, { type: 'USER_PROCESS', pid: sleeper.pid!, line: 'pts/62', id: 'o/62', user: 'current', tvSec: BigInt(Math.floor(Date.now() / 1000)) });
        const r = await rc('utmps-boot', 'stop');
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const last = await lastLines(wtmp);
        assert.match(last[0], /^shutdown +system down/);
        assert.match(last.find((l) => l.startsWith('current'))!, / - down /);
        assert.equal((await run('who', [utmp], { env: ENV })).stdout, '', 'no USER_PROCESS is left in utmp');
      } finally {
        sleeper.kill('SIGKILL');
      }
    });

    test(`rc stop ${servers.join(', ')}: supervise-daemon ends them and nothing is left running`, async () => {
      for (const name of [...servers].reverse()) {
        const r = await rc(name, 'stop');
        assert.equal(r.code, 0, r.stdout + r.stderr);
      }
      for (const start = Date.now(); (await processesUnder(root)).length > 0; await sleep(50)) {
        assert.ok(Date.now() - start < HANG_GUARD_MS, `left running: ${JSON.stringify(await processesUnder(root))}`);
      }
    });
  });
}

async function s6Skip(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const p of ['s6-svscan', 's6-svscanctl', 's6-svwait', 's6-svok', 's6-svc', 's6-log', 's6-setuidgid', 'execlineb', 'logrotate', 'who', 'last']) {
    if (!(await onPath(p))) return `${p} is not installed (Debian packages s6, execline, logrotate)`;
  }
  if (!(await accountIds(SERVICE_USER))) return `no account '${SERVICE_USER}'`;
  return false;
}

describe('s6: utmpsd with its logger, the utmps-boot script and logrotate, under the real s6-svscan', { skip: await s6Skip() }, () => {
  let root: string;
  let scan: string;
  let service: string;
  let tree: ChildProcess;
  let treeLog = '';
  let state: string;
  let logDir: string;
  let wtmp: string;
  let loggerDir: string;
  const env = () => ({ ...ENV, UTMPS_SERVICES: service, UTMPS_UTMPD_SOCKET: join(state, '.utmpd-socket'), UTMPS_WTMPD_SOCKET: join(state, '.wtmpd-socket') });

  before(async () => {
    root = await mkdtemp('/tmp/s6b-');
    await chmod(root, 0o755);
    scan = join(root, 'scan');
    await mkdir(scan);
    state = join(root, 'run', 'utmps');
    logDir = join(root, 'log');
    await mkdir(logDir, { mode: 0o755 });
    wtmp = join(logDir, 'wtmp');
    loggerDir = join(root, 'logs', 'utmpsd');
    service = join(scan, 'utmpsd');
    await cp(join(ROOT, 'examples', 's6', 'utmpsd'), service, { recursive: true });
    const settings: Record<string, Record<string, string>> = {
      env: { UTMPS_STATE_DIR: state, UTMPS_LOG_DIR: logDir, UTMPS_USER: SERVICE_USER, UTMPS_GROUP: String(UTMP_GID), UTMPS_FORMAT: 'glibc' },
      'log/env': { UTMPS_LOGGER_DIR: loggerDir, UTMPS_USER: SERVICE_USER },
    };
    for (const [dir, values] of Object.entries(settings)) {
      await mkdir(join(service, dir), { recursive: true });
      for (const [k, v] of Object.entries(values)) await writeFile(join(service, dir, k), `${v}\n`);
    }
    tree = spawn('s6-svscan', [scan], { env: { PATH: ENV.PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    tree.stdout!.on('data', (c: Buffer) => (treeLog += c.toString()));
    tree.stderr!.on('data', (c: Buffer) => (treeLog += c.toString()));
  });

  after(async () => {
    if (tree.exitCode === null && tree.signalCode === null) {
      await run('s6-svscanctl', ['-t', scan], { env: ENV });
      await Promise.race([once(tree, 'exit'), sleep(HANG_GUARD_MS, undefined, { ref: false })]);
      tree.kill('SIGKILL');
    }
    await killUnder(root);
    await rm(root, { recursive: true, force: true });
  });

  test('utmpsd and its s6-log logger come up and are ready', async () => {
    for (const start = Date.now(); (await run('s6-svok', [join(service, 'log')], { env: ENV })).code !== 0; await sleep(50)) {
      assert.ok(Date.now() - start < HANG_GUARD_MS, `no supervisor: ${treeLog}`);
    }
    const r = await run('s6-svwait', ['-U', '-t', '10000', service, join(service, 'log')], { env: ENV });
    assert.equal(r.code, 0, `s6-svwait -U: ${r.stderr}\n${treeLog}`);
    const st = await stat(loggerDir);
    assert.equal(st.mode & 0o777, 0o750, 'the log directory is 0750');
    assert.equal(st.uid, (await accountIds(SERVICE_USER))!.uid, 'and the service account owns it');
  });

  test('utmps-boot: a service that is not supervised fails start with 111, a wrong verb is a usage error (100)', async () => {
    const r = await run(join(ROOT, 'examples', 's6', 'utmps-boot'), ['start'], { env: { ...env(), UTMPS_SERVICES: join(root, 'nothing-here') } });
    assert.equal(r.code, 111, r.stderr);
    assert.match(r.stderr, /^utmps-boot: fatal: .* not up and ready/m);
    assert.equal((await run(join(ROOT, 'examples', 's6', 'utmps-boot'), ['restart'], { env: env() })).code, 100);
  });

  test('utmps-boot start waits for the service, then records the boot', async () => {
    await login({ utmp: join(state, '.utmpd-socket'), wtmp: join(state, '.wtmpd-socket') }, {
      type: 'USER_PROCESS', pid: await deadPid(), line: 'pts/63', id: 's/63', user: 'oldboot', tvSec: BTIME - 100n,
    });
    const r = await run(join(ROOT, 'examples', 's6', 'utmps-boot'), ['start'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const utmp = join(state, 'utmp');
    assert.match((await run('who', ['-b', utmp], { env: ENV })).stdout, /system boot/);
    assert.equal((await run('who', [utmp], { env: ENV })).stdout, '');
    assert.match((await lastLines(wtmp)).find((l) => l.startsWith('oldboot'))!, / - crash /);
  });

  test('logrotate with examples/logrotate/utmps: wtmp is rotated, recreated 0640 for the account, and utmpsd told to reopen it', async () => {
    const before = (await readFile(wtmp)).length;
    assert.ok(before > 0);
    // The real file, with the paths, the account and the s6 service directory of this test.
    const conf = (await readFile(join(ROOT, 'examples', 'logrotate', 'utmps'), 'utf8'))
      .replaceAll('/var/log/wtmp', wtmp)
      .replaceAll('/var/log/btmp', join(logDir, 'btmp'))
      .replaceAll('create 0640 utmp utmp', `create 0640 ${SERVICE_USER} utmp`)
      .replaceAll('create 0600 utmp utmp', `create 0600 ${SERVICE_USER} utmp`)
      .replaceAll('/run/service/utmpsd', service);
    await writeFile(join(root, 'logrotate.conf'), conf);
    const r = await run('logrotate', ['-f', '-s', join(root, 'logrotate.state'), join(root, 'logrotate.conf')], { env: ENV });
    assert.equal(r.code, 0, `logrotate: ${r.stdout}${r.stderr}`);
    assert.equal((await readFile(`${wtmp}.1`)).length, before, 'the old records moved to wtmp.1');
    const st = await stat(wtmp);
    assert.equal(st.size, 0);
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(st.uid, (await accountIds(SERVICE_USER))!.uid);
    assert.equal(st.gid, UTMP_GID);
    // The next append lands in the new file: utmpsd got SIGHUP (s6-svc -h) and reopened it.
    const w = await run(process.execPath, [join(BIN, 'utmps-write'), '-w', '-W', join(state, '.wtmpd-socket'), '-l', 'after', 'r1', 'USER_PROCESS', 'pts/64'], { env: ENV });
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(records(wtmp, await readFile(wtmp)).map((e) => e.user), ['after']);
    assert.equal((await readFile(`${wtmp}.1`)).length, before, 'wtmp.1 is left alone');
    // And the logger kept what utmpsd said about it.
    for (const start = Date.now(); ; await sleep(50)) {
      const current = await readFile(join(loggerDir, 'current'), 'utf8').catch(() => '');
      if (/SIGHUP: the next appends reopen/.test(current)) break;
      assert.ok(Date.now() - start < HANG_GUARD_MS, `the logger's current file: ${current}`);
    }
  });

  test('utmps-boot stop records the shutdown while utmpsd still serves', async () => {
    const r = await run(join(ROOT, 'examples', 's6', 'utmps-boot'), ['stop'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    const last = await lastLines(wtmp);
    assert.match(last[0], /^shutdown +system down/);
    assert.match(last.find((l) => l.startsWith('after'))!, / - down /);
  });

  test('s6-svscanctl -t ends the tree, the logger included, and leaves no process behind', async () => {
    const r = await run('s6-svscanctl', ['-t', scan], { env: ENV });
    assert.equal(r.code, 0, r.stderr);
    await Promise.race([once(tree, 'exit'), sleep(HANG_GUARD_MS, undefined, { ref: false })]);
    assert.equal(tree.exitCode, 0, treeLog);
    assert.deepEqual(await processesUnder(root), []);
  });
});
