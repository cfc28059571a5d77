// The systemd units of examples/systemd. systemd is not PID 1 on the machines these
// tests run on, so the units cannot be started by systemd itself. What is checked instead:
// - the unit files say what docs/SERVICES.md promises (sockets, names, modes, sandbox);
// - `systemd-analyze verify` accepts them (with ExecStart pointed at this checkout's
//   bin/utmpsd, since /usr/local/bin/utmpsd is not installed here), and the offline
//   `systemd-analyze security` review rates the service well;
// - systemd-sysusers and systemd-tmpfiles, run on a temp root, create the account, the
//   state directory and wtmp as the units expect, ours winning over systemd's var.conf;
// - socket activation for real: systemd-socket-activate listens on both sockets, names
//   them (in the order wtmpd:utmpd, so that only the names can be right), and on the first connection executes utmpsd as an unprivileged
//   user (setpriv standing in for User=), with NOTIFY_SOCKET pointing at a listener that
//   must receive READY=1 (Type=notify); then a utmps-write round trip, read back through
//   the client library, and a clean exit 0 on SIGTERM.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UtmpSession } from '../../src/client/index.js';
import { accountIds, onPath, run } from '../helpers/commands.js';
import { btmpRefused, btmpRoundTrip } from '../helpers/btmp-service.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { processesUnder } from '../helpers/processes.js';

const UNITS = join(ROOT, 'examples', 'systemd');
const UTMPSD = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');
const HANG_GUARD_MS = 30_000;
const SERVICE_USER = 'nobody';
const RECORD = 400;
const USER_PROCESS = 7;

async function missing(...programs: string[]): Promise<string | false> {
  for (const p of programs) if (!(await onPath(p))) return `${p} is not installed`;
  return false;
}

/** A unit file as section -> key -> every value given (keys may repeat). */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section && eq > 0, `a key=value line inside a section: ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

async function readUnit(name: string): Promise<Unit> {
  return parseUnit(await readFile(join(UNITS, name), 'utf8'));
}

function values(unit: Unit, section: string, key: string): string[] {
  return unit.get(section)?.get(key) ?? [];
}

function one(unit: Unit, section: string, key: string): string | undefined {
  const all = values(unit, section, key);
  assert.ok(all.length <= 1, `${key} is set once`);
  return all[0];
}


const ANALYZE_SKIP = await missing('systemd-analyze');
const TMPFILES_SKIP = await missing('systemd-sysusers', 'systemd-tmpfiles');

describe('examples/systemd unit files', () => {
  test('the sockets: all three paths, named utmpd, wtmpd and btmpd, mode 0666, one service', async () => {
    for (const [file, path, name] of [
      ['utmps-utmpd.socket', '/run/utmps/.utmpd-socket', 'utmpd'],
      ['utmps-wtmpd.socket', '/run/utmps/.wtmpd-socket', 'wtmpd'],
      ['utmps-btmpd.socket', '/run/utmps/.btmpd-socket', 'btmpd'],
    ]) {
      const unit = await readUnit(file);
      assert.equal(one(unit, 'Socket', 'ListenStream'), path, file);
      assert.equal(one(unit, 'Socket', 'FileDescriptorName'), name, file);
      assert.equal(one(unit, 'Socket', 'SocketMode'), '0666', file);
      assert.equal(one(unit, 'Socket', 'Service'), 'utmpsd.service', file);
      assert.deepEqual(values(unit, 'Install', 'WantedBy'), ['sockets.target'], file);
      // A socket unit's default dependencies already order it before sockets.target.
      assert.deepEqual(values(unit, 'Unit', 'Before'), [], `${file}: no redundant Before=`);
    }
  });

  test('utmps-boot.service: a oneshot that stays active, boot at start and shutdown at stop, after utmpsd', async () => {
    const unit = await readUnit('utmps-boot.service');
    assert.equal(one(unit, 'Service', 'Type'), 'oneshot');
    assert.equal(one(unit, 'Service', 'RemainAfterExit'), 'yes');
    assert.match(one(unit, 'Service', 'ExecStart') ?? '', /^\/\S+\/utmps boot$/);
    assert.match(one(unit, 'Service', 'ExecStop') ?? '', /^\/\S+\/utmps shutdown$/);
    // After= the server: started once it serves, stopped (ExecStop) before it is.
    assert.ok(one(unit, 'Unit', 'Requires')?.split(/\s+/).includes('utmpsd.service'));
    assert.ok(one(unit, 'Unit', 'After')?.split(/\s+/).includes('utmpsd.service'));
    assert.equal(one(unit, 'Unit', 'RequiresMountsFor'), '/var/log/wtmp');
    assert.equal(one(unit, 'Unit', 'ConditionVirtualization'), '!container');
    // Root's uid is what utmpsd checks; no capability is needed, and /proc/stat must stay visible.
    assert.deepEqual(values(unit, 'Service', 'User'), []);
    assert.equal(one(unit, 'Service', 'CapabilityBoundingSet'), '');
    assert.deepEqual(values(unit, 'Service', 'ProcSubset'), []);
    assert.deepEqual(values(unit, 'Install', 'WantedBy'), ['multi-user.target']);
  });

  test('the service: Type=notify, the three sockets, an unprivileged user', async () => {
    const unit = await readUnit('utmpsd.service');
    assert.equal(one(unit, 'Service', 'Type'), 'notify');
    assert.equal(one(unit, 'Service', 'NotifyAccess'), 'main');
    assert.deepEqual(one(unit, 'Service', 'Sockets')?.split(/\s+/).sort(), ['utmps-btmpd.socket', 'utmps-utmpd.socket', 'utmps-wtmpd.socket']);
    for (const key of ['Requires', 'After']) assert.match(one(unit, 'Unit', key) ?? '', /(^| )utmps-btmpd\.socket( |$)/, key);
    assert.equal(one(unit, 'Service', 'User'), 'utmp');
    const exec = one(unit, 'Service', 'ExecStart') ?? '';
    assert.match(exec, /^\/\S+\/utmpsd /, 'ExecStart names utmpsd by an absolute path');
    assert.match(exec, / --state-dir \/run\/utmps /);
    assert.match(exec, / --wtmp-file \/var\/log\/wtmp --btmp-file \/var\/log\/btmp$/);
    assert.doesNotMatch(exec, /--user/, 'systemd drops privileges, not utmpsd');
    assert.equal(one(unit, 'Unit', 'RequiresMountsFor'), '/var/log/wtmp');
  });

  test('the sandbox: the settings docs/SERVICES.md lists, and none that would break node', async () => {
    const unit = await readUnit('utmpsd.service');
    const expected: Record<string, string> = {
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateNetwork: 'yes',
      RestrictAddressFamilies: 'AF_UNIX',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      LockPersonality: 'yes',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(one(unit, 'Service', key), value, key);
    assert.deepEqual(one(unit, 'Service', 'ReadWritePaths')?.split(/\s+/).sort(), ['/run/utmps', '/var/log']);
    assert.ok(values(unit, 'Service', 'SystemCallFilter').includes('@system-service'));
    // V8 needs writable-then-executable memory; a user namespace would hide peer uids.
    assert.deepEqual(values(unit, 'Service', 'MemoryDenyWriteExecute'), []);
    assert.deepEqual(values(unit, 'Service', 'PrivateUsers'), []);
  });

  test('systemd-analyze verify accepts the units', { skip: ANALYZE_SKIP }, async () => {
    // ExecStart must name an existing executable for verify; here that is bin/utmpsd.
    const dir = await mkdtemp('/tmp/sdv-');
    try {
      for (const file of ['utmpsd.service', 'utmps-utmpd.socket', 'utmps-wtmpd.socket', 'utmps-btmpd.socket', 'utmps-boot.service']) {
        const text = await readFile(join(UNITS, file), 'utf8');
        await writeFile(join(dir, file), text.replaceAll('/usr/local/bin/utmpsd', join(BIN, 'utmpsd')).replaceAll('/usr/local/bin/utmps ', `${join(BIN, 'utmps')} `));
      }
      const r = await run('systemd-analyze', ['verify', '--man=no', 'utmpsd.service', 'utmps-utmpd.socket', 'utmps-wtmpd.socket', 'utmps-btmpd.socket', 'utmps-boot.service'], { cwd: dir });
      assert.equal(r.code, 0, `systemd-analyze verify:\n${r.stderr}`);
      assert.doesNotMatch(r.stderr, /utmp/, `no complaint about our units:\n${r.stderr}`);

      const s = await run('systemd-analyze', ['security', '--offline=true', 'utmpsd.service'], { cwd: dir });
      assert.equal(s.code, 0, `systemd-analyze security:\n${s.stderr}`);
      const level = /Overall exposure level for utmpsd\.service: ([0-9.]+)/.exec(s.stdout);
      assert.ok(level, s.stdout);
      assert.ok(Number(level[1]) < 2, `exposure ${level[1]} stays low`);
      const b = await run('systemd-analyze', ['security', '--offline=true', 'utmps-boot.service'], { cwd: dir });
      const bootLevel = /Overall exposure level for utmps-boot\.service: ([0-9.]+)/.exec(b.stdout);
      assert.ok(bootLevel, b.stdout);
      assert.ok(Number(bootLevel[1]) < 2, `utmps-boot runs as root yet its exposure ${bootLevel[1]} stays low`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('sysusers and tmpfiles create the account, /run/utmps, wtmp and btmp (0600) as the service expects', { skip: TMPFILES_SKIP }, async () => {
    const root = await mkdtemp('/tmp/sdr-');
    try {
      for (const dir of ['etc/sysusers.d', 'etc/tmpfiles.d', 'usr/lib/tmpfiles.d', 'run', 'var/log']) await mkdir(join(root, dir), { recursive: true });
      await copyFile('/etc/passwd', join(root, 'etc/passwd'));
      await copyFile('/etc/group', join(root, 'etc/group'));
      await copyFile(join(UNITS, 'utmps-sysusers.conf'), join(root, 'etc/sysusers.d/utmps.conf'));
      await copyFile(join(UNITS, 'utmps-tmpfiles.conf'), join(root, 'etc/tmpfiles.d/utmps.conf'));
      // systemd's own lines for wtmp (root:utmp 0664) and btmp (0660), which ours must override.
      await writeFile(join(root, 'usr/lib/tmpfiles.d/var.conf'), 'f /var/log/wtmp 0664 root utmp -\nf /var/log/btmp 0660 root utmp -\n');

      const u = await run('systemd-sysusers', [`--root=${root}`]);
      assert.equal(u.code, 0, u.stderr);
      const passwd = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith('utmp:'));
      const group = (await readFile(join(root, 'etc/group'), 'utf8')).split('\n').find((l) => l.startsWith('utmp:'));
      assert.ok(passwd && group, 'an account and a group named utmp');
      const [, , uid, gid] = passwd.split(':');
      assert.equal(gid, group.split(':')[2], "the account's group is utmp");

      const t = await run('systemd-tmpfiles', [`--root=${root}`, '--create']);
      assert.equal(t.code, 0, t.stderr);
      for (const [path, mode] of [
        ['run/utmps', 0o755],
        ['var/log/wtmp', 0o640],
        ['var/log/btmp', 0o600],
      ] as const) {
        const st = await stat(join(root, path));
        assert.equal(st.mode & 0o7777, mode, `${path} mode`);
        assert.equal(String(st.uid), uid, `${path} owner`);
        assert.equal(String(st.gid), gid, `${path} group`);
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

const PY_NOTIFY_LISTENER = [
  'import os, socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'os.chmod(sys.argv[1], 0o666)',
  "print('bound', flush=True)",
  'while True:',
  "    print(s.recv(4096).decode('utf-8', 'replace').replace('\\n', ' '), flush=True)",
].join('\n');

/** Lines a child writes to stdout, and a way to wait for one. */
class Lines {
  readonly all: string[] = [];
  #partial = '';
  #waiters: Array<() => void> = [];

  constructor(child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => {
      const parts = (this.#partial + c.toString()).split('\n');
      this.#partial = parts.pop()!;
      this.all.push(...parts);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  async waitFor(test: (line: string) => boolean, what: string): Promise<string> {
    const deadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      const line = this.all.find(test);
      if (line !== undefined) return line;
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}; saw: ${JSON.stringify(this.all)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100).unref();
      });
    }
  }
}

async function waitForSocket(path: string): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  for (;;) {
    try {
      if ((await stat(path)).isSocket()) return;
    } catch {
      // not there yet
    }
    assert.ok(Date.now() < deadline, `${path} never appeared`);
    await sleep(20);
  }
}

function text(record: Buffer, at: number, size: number): string {
  const field = record.subarray(at, at + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('latin1');
}

const ACTIVATION_SKIP =
  process.getuid?.() !== 0
    ? 'needs root, to run utmpsd as another user the way User= does'
    : (await missing('systemd-socket-activate', 'setpriv', 'python3')) || ((await accountIds(SERVICE_USER)) ? false : `no account '${SERVICE_USER}'`);

describe('socket activation of utmpsd by systemd-socket-activate', { skip: ACTIVATION_SKIP }, () => {
  let root: string;
  let state: string;
  let wtmp: string;
  let btmp: string;
  let utmpdSocket: string;
  let wtmpdSocket: string;
  let btmpdSocket: string;
  let listener: ChildProcess | undefined;
  let notifications: Lines;
  let activator: ChildProcess | undefined;
  let activatorLog = '';
  let service: { uid: number; gid: number };

  before(async () => {
    service = (await accountIds(SERVICE_USER))!;
    root = await mkdtemp('/tmp/ssa-');
    await chmod(root, 0o755);
    // What systemd-tmpfiles does with utmps-tmpfiles.conf.
    state = join(root, 'run', 'utmps');
    await mkdir(state, { recursive: true, mode: 0o755 });
    await chown(state, service.uid, service.gid);
    await mkdir(join(root, 'log'), { mode: 0o755 });
    wtmp = join(root, 'log', 'wtmp');
    await writeFile(wtmp, '', { mode: 0o644 });
    await chown(wtmp, service.uid, service.gid);
    btmp = join(root, 'log', 'btmp');
    await writeFile(btmp, '', { mode: 0o600 });
    await chown(btmp, service.uid, service.gid);
    // Outside the state directory, as the socket units' paths are root's, not utmpsd's.
    utmpdSocket = join(root, 'utmpd.sock');
    wtmpdSocket = join(root, 'wtmpd.sock');
    btmpdSocket = join(root, 'btmpd.sock');

    const notify = join(root, 'notify.sock');
    listener = spawn('python3', ['-c', PY_NOTIFY_LISTENER, notify], { stdio: ['ignore', 'pipe', 'inherit'] });
    notifications = new Lines(listener);
    await notifications.waitFor((l) => l === 'bound', 'the notification listener');

    activator = spawn(
      'systemd-socket-activate',
      [
        // Not in SERVICE_NAMES order: only the names can tell utmpsd which is which.
        '-l', wtmpdSocket, '-l', btmpdSocket, '-l', utmpdSocket, '--fdname=wtmpd:btmpd:utmpd', '-E', `NOTIFY_SOCKET=${notify}`,
        'setpriv', `--reuid=${SERVICE_USER}`, `--regid=${service.gid}`, '--init-groups',
        process.execPath, UTMPSD, '--state-dir', state, '--wtmp-file', wtmp, '--btmp-file', btmp,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    activator.stdout!.on('data', (c: Buffer) => (activatorLog += c.toString()));
    activator.stderr!.on('data', (c: Buffer) => (activatorLog += c.toString()));
    await waitForSocket(wtmpdSocket);
    await waitForSocket(utmpdSocket);
    await waitForSocket(btmpdSocket);
    // SocketMode=0666, which systemd-socket-activate has no option for.
    await chmod(utmpdSocket, 0o666);
    await chmod(wtmpdSocket, 0o666);
    await chmod(btmpdSocket, 0o666);
  });

  after(async () => {
    for (const child of [activator, listener]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
    }
    if (root) {
      for (const { pid } of await processesUnder(root)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await rm(root, { recursive: true, force: true });
    }
  });

  test('the first connection starts utmpsd, which serves a round trip on the passed sockets', async () => {
    const write = await run(process.execPath, [join(BIN, 'utmps-write'), '-u', '-w', '-U', utmpdSocket, '-W', wtmpdSocket, '-p', String(process.pid), '-l', 'svctest', 'sa1', 'USER_PROCESS', 'pts/60']);
    assert.equal(write.code, 0, `utmps-write: ${write.stderr}\n${activatorLog}`);

    const session = await UtmpSession.connect({ path: utmpdSocket, timeoutMs: 10_000 });
    try {
      const mine = (await session.readAll()).filter((r) => r.entry.line === 'pts/60');
      assert.equal(mine.length, 1);
      assert.equal(mine[0].entry.user, 'svctest');
      assert.equal(mine[0].entry.typeName, 'USER_PROCESS');
    } finally {
      session.close();
    }
    const bytes = await readFile(wtmp);
    assert.equal(bytes.length, RECORD);
    assert.equal(bytes.readInt16LE(0), USER_PROCESS);
    assert.equal(text(bytes, 8, 32), 'pts/60');
    assert.equal(text(bytes, 44, 32), 'svctest');
  });

  test('it sent READY=1 with its own pid on NOTIFY_SOCKET (Type=notify, NotifyAccess=main)', async () => {
    const line = await notifications.waitFor((l) => l.includes('READY=1'), 'READY=1');
    // systemd-socket-activate executes the command in its own process: that pid is utmpsd.
    assert.match(line, new RegExp(`(^| )MAINPID=${activator!.pid}( |$)`));
  });

  test("btmp on the passed btmpd socket: root's failed login goes in and reads back, anyone else gets EPERM, btmp stays 0600", async () => {
    await btmpRoundTrip(btmpdSocket, btmp, 'sdfail');
    const refused = await btmpRefused(btmpdSocket, btmp, 4242, service.gid);
    assert.match(refused.stderr, /Operation not permitted/);
    assert.equal((await stat(btmp)).mode & 0o7777, 0o600);
  });

  test('it used the inherited sockets and created none of its own', async () => {
    assert.deepEqual((await readdir(state)).sort(), ['utmp']);
  });

  test('it runs as the service user: only its group may write utmp, and it owns utmp', async () => {
    const as = (gid: number) =>
      run('setpriv', [`--reuid=4242`, `--regid=${gid}`, '--clear-groups', process.execPath, join(BIN, 'utmps-write'), '-u', '-U', utmpdSocket, '-l', 'svctest', 'sa2', 'USER_PROCESS', 'pts/61']);
    const stranger = await as(4242);
    assert.notEqual(stranger.code, 0);
    assert.match(stranger.stderr, /Operation not permitted/);
    const member = await as(service.gid);
    assert.equal(member.code, 0, member.stderr);
    const st = await stat(join(state, 'utmp'));
    assert.equal(st.uid, service.uid);
    assert.equal(st.mode & 0o7777, 0o640);
  });

  test('SIGTERM: utmpsd exits 0, and nothing started here is left', async () => {
    const exited = once(activator!, 'exit');
    activator!.kill('SIGTERM');
    const [code, signal] = (await exited) as [number | null, string | null];
    assert.deepEqual({ code, signal }, { code: 0, signal: null }, activatorLog);
    const listenerExited = once(listener!, 'exit');
    listener!.kill('SIGTERM');
    await listenerExited;
    assert.deepEqual(await processesUnder(root), []);
  });
});
