// The OpenRC init scripts of examples/openrc. OpenRC is not installed on the machines
// these tests run on (Debian's package would replace parts of sysvinit), so openrc-run and
// supervise-daemon are not available. What is checked instead:
// - syntax: `sh -n` and `dash -n`, and shellcheck where installed;
// - a stub harness that sources each script as openrc-run would, with stand-ins for the
//   OpenRC helpers (checkpath does what the scripts ask of it), records depend() and the
//   variables openrc-run reads, then plays supervise-daemon: start_pre, chdir to
//   $directory, `eval` of command_args, and exec of $command as $command_user. The
//   services then run for real in a temp dir: readiness (READY=1 on NOTIFY_SOCKET for
//   notify=socket:ready; start_post's wait for the socket for the s6-ipcserver pair), a
//   utmps-write round trip read back through the client library, owners and modes, and
//   exit 0 on SIGTERM.
// The stand-ins are not OpenRC: its own variable handling and supervise-daemon's options
// are checked only as far as these scripts use them.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UtmpSession } from '../../src/client/index.js';
import { type Outcome, accountIds, run, which } from '../helpers/commands.js';
import { btmpRefused, btmpRoundTrip } from '../helpers/btmp-service.js';
import { asRoot, followRequest, hold, userRecord } from '../helpers/lockout.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { processesUnder } from '../helpers/processes.js';

const SCRIPTS = join(ROOT, 'examples', 'openrc');
const NAMES = ['utmpsd', 'utmps-utmpd', 'utmps-wtmpd', 'utmps-btmpd', 'utmps-boot'] as const;
type Name = (typeof NAMES)[number];
const HANG_GUARD_MS = 30_000;
const SERVICE_USER = 'nobody';
const RECORD = 400;
const USER_PROCESS = 7;

/**
 * openrc-run in miniature. $1 is the init script, $2 the phase:
 * - describe: run depend(), then print the variables openrc-run reads;
 * - start: start_pre, then what supervise-daemon does (chdir, eval, exec as the user);
 * - post: start_post, if the script has one.
 * Every helper call is written to $HARNESS_LOG as one line.
 */
const HARNESS = String.raw`
set -u
note() { printf '%s\n' "$*" >> "$HARNESS_LOG"; }
for helper in need use want after before provide keyword; do
	eval "$helper() { note $helper \"\$@\"; }"
done
ebegin() { :; }
eend() { return "\${1:-0}"; }
einfo() { :; }
ewarn() { note ewarn "$@"; }
eerror() { note eerror "$@"; }
checkpath() {
	note checkpath "$@"
	_kind= _mode= _owner=
	while [ $# -gt 1 ]; do
		case $1 in
		-d | -f) _kind=$1 ;;
		-m) _mode=$2; shift ;;
		-o) _owner=$2; shift ;;
		*) note eerror "checkpath: unexpected $1"; return 1 ;;
		esac
		shift
	done
	if [ "$_kind" = -d ]; then mkdir -p -- "$1"; elif [ ! -e "$1" ]; then : > "$1"; fi || return 1
	if [ -n "$_mode" ]; then chmod "$_mode" "$1" || return 1; fi
	if [ -n "$_owner" ]; then chown "$_owner" "$1" || return 1; fi
}
. "$1"
case $2 in
describe)
	depend
	note supervisor "$supervisor"
	note command "$command"
	note command_args "$command_args"
	note command_user "\${command_user:-}"
	note directory "\${directory:-}"
	note notify "\${notify:-}"
	;;
start)
	start_pre || exit 1
	if [ -n "\${directory:-}" ]; then cd "$directory" || exit 1; fi
	eval "set -- $command_args"
	exec setpriv --reuid="\${command_user%%:*}" --regid="\${command_user#*:}" --init-groups "$command" "$@"
	;;
post)
	if command -v start_post > /dev/null; then start_post; fi
	;;
esac
`.replaceAll('\\${', '${');

async function harness(script: Name, phase: 'describe' | 'post', env: NodeJS.ProcessEnv): Promise<{ outcome: Outcome; log: string[] }> {
  const dir = await mkdtemp('/tmp/orc-');
  try {
    const log = join(dir, 'log');
    const outcome = await run('sh', ['-c', HARNESS, 'harness', join(SCRIPTS, script), phase], { env: { ...env, HARNESS_LOG: log, RC_SVCNAME: script } });
    let lines: string[] = [];
    try {
      lines = (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '');
    } catch {
      // nothing was logged
    }
    return { outcome, log: lines };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The value a `describe` run printed for a variable. */
function variable(log: string[], name: string): string {
  const line = log.find((l) => l === name || l.startsWith(`${name} `));
  assert.ok(line !== undefined, `${name} was printed`);
  return line.slice(name.length + 1);
}

const BASE_ENV: NodeJS.ProcessEnv = { PATH: process.env.PATH };

describe('examples/openrc: syntax', () => {
  for (const name of NAMES) {
    test(`${name}: sh -n`, async () => {
      const r = await run('sh', ['-n', join(SCRIPTS, name)]);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  test('dash -n (the strictest POSIX shell here)', async (t) => {
    if (!(await which('dash'))) return t.skip('dash is not installed');
    for (const name of NAMES) {
      const r = await run('dash', ['-n', join(SCRIPTS, name)]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    }
  });

  test('shellcheck as POSIX sh', async (t) => {
    if (!(await which('shellcheck'))) return t.skip('shellcheck is not installed (Debian package shellcheck)');
    // SC2034: description, command, command_args... are read by openrc-run, not here.
    const r = await run('shellcheck', ['-s', 'sh', '-e', 'SC2034', ...NAMES.map((n) => join(SCRIPTS, n))]);
    assert.equal(r.code, 0, r.stdout);
  });

  test('every script starts with #!/sbin/openrc-run and is executable', async () => {
    for (const name of NAMES) {
      const path = join(SCRIPTS, name);
      assert.ok((await readFile(path, 'utf8')).startsWith('#!/sbin/openrc-run\n'), name);
      assert.ok((await stat(path)).mode & 0o111, `${name} is executable`);
    }
  });
});

describe('examples/openrc: what openrc-run would read, with the defaults', () => {
  test('utmpsd: supervise-daemon runs /usr/local/bin/utmpsd as utmp:utmp, ready on READY=1', async () => {
    const { outcome, log } = await harness('utmpsd', 'describe', BASE_ENV);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(log.filter((l) => /^(need|after|use|before|provide) /.test(l)), ['need localmount', 'after bootmisc', 'before networking', 'provide utmps']);
    assert.equal(variable(log, 'supervisor'), 'supervise-daemon');
    assert.equal(variable(log, 'command'), '/usr/local/bin/utmpsd');
    assert.equal(variable(log, 'command_args').trim(), '--state-dir /run/utmps --wtmp-file /var/log/wtmp --btmp-file /var/log/btmp --format utmps');
    assert.equal(variable(log, 'command_user'), 'utmp:utmp');
    assert.equal(variable(log, 'notify'), 'socket:ready');
  });

  test('utmps-utmpd: s6-ipcserver in /run/utmps on .utmpd-socket, as utmp:utmp', async () => {
    const { outcome, log } = await harness('utmps-utmpd', 'describe', BASE_ENV);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(log.filter((l) => /^(need|after|use|before|provide) /.test(l)), ['need localmount', 'after bootmisc', 'before networking', 'provide utmps']);
    assert.equal(variable(log, 'supervisor'), 'supervise-daemon');
    assert.equal(variable(log, 'command'), '/usr/bin/s6-ipcserver');
    assert.equal(
      variable(log, 'command_args'),
      '-c 100 -C 100 -- .utmpd-socket /usr/bin/s6-ipcserver-access -v 0 -i /run/utmps-access/utmps-utmpd /usr/bin/s6-connlimit /usr/local/bin/utmps-utmpd -F utmps',
    );
    assert.equal(variable(log, 'command_user'), 'utmp:utmp');
    assert.equal(variable(log, 'directory'), '/run/utmps');
  });

  test('utmps-wtmpd: s6-ipcserver in /var/log on /run/utmps/.wtmpd-socket, file wtmp', async () => {
    const { outcome, log } = await harness('utmps-wtmpd', 'describe', BASE_ENV);
    assert.equal(outcome.code, 0, outcome.stderr);
    // utmps-wtmpd reads utmp to judge non-root appends: the utmp service comes first.
    assert.deepEqual(log.filter((l) => /^(need|after|use|before|provide) /.test(l)), ['need localmount', 'after bootmisc utmps-utmpd', 'before networking', 'provide utmps']);
    assert.equal(
      variable(log, 'command_args'),
      '-c 100 -C 100 -- /run/utmps/.wtmpd-socket /usr/bin/s6-ipcserver-access -v 0 -i /run/utmps-access/utmps-wtmpd /usr/bin/s6-connlimit /usr/local/bin/utmps-wtmpd -F utmps -U /run/utmps/utmp wtmp',
    );
    assert.equal(variable(log, 'command_user'), 'utmp:utmp');
    assert.equal(variable(log, 'directory'), '/var/log');
  });

  test('utmps-btmpd: s6-ipcserver in /var/log on /run/utmps/.btmpd-socket, file btmp, no connlimit (root only)', async () => {
    const { outcome, log } = await harness('utmps-btmpd', 'describe', BASE_ENV);
    assert.equal(outcome.code, 0, outcome.stderr);
    // Failed logins are recorded from the first login prompt on; btmp provides no 'utmps'.
    assert.deepEqual(log.filter((l) => /^(need|after|use|before|provide) /.test(l)), ['need localmount', 'after bootmisc', 'before networking']);
    assert.equal(
      variable(log, 'command_args'),
      '-c 100 -C 100 -- /run/utmps/.btmpd-socket /usr/bin/s6-ipcserver-access -v 0 -i /run/utmps-access/utmps-btmpd /usr/local/bin/utmps-btmpd -F utmps btmp',
    );
    assert.equal(variable(log, 'command_user'), 'utmp:utmp');
    assert.equal(variable(log, 'directory'), '/var/log');
  });
});

async function liveSkip(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root: start_pre runs as root and the services drop to a user';
  for (const p of ['setpriv', 's6-ipcserver', 'python3']) if (!(await which(p))) return `${p} is not installed`;
  if (!(await accountIds(SERVICE_USER))) return `no account '${SERVICE_USER}'`;
  return false;
}

const LIVE_SKIP = await liveSkip();

const PY_NOTIFY_LISTENER = [
  'import os, socket, sys',
  's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
  's.bind(sys.argv[1])',
  'os.chmod(sys.argv[1], 0o666)',
  "print('bound', flush=True)",
  'while True:',
  "    print(s.recv(4096).decode('utf-8', 'replace').replace('\\n', ' '), flush=True)",
].join('\n');

/** Resolves with the first stdout line of child that satisfies test. */
function lineFrom(child: ChildProcess, test: (line: string) => boolean, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), HANG_GUARD_MS);
    const onData = (c: Buffer): void => {
      buffered += c.toString();
      const line = buffered.split('\n').find(test);
      if (line !== undefined) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(line);
      }
    };
    child.stdout!.on('data', onData);
  });
}

/** A service started by the harness, as supervise-daemon would run it. */
interface Started {
  child: ChildProcess;
  log: () => string;
}

function startService(name: Name, env: NodeJS.ProcessEnv, logFile: string): Started {
  const child = spawn('sh', ['-c', HARNESS, 'harness', join(SCRIPTS, name), 'start'], {
    env: { ...env, HARNESS_LOG: logFile, RC_SVCNAME: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  return { child, log: () => log };
}

async function stopService(s: Started | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!s) return null;
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  const exited = once(s.child, 'exit');
  s.child.kill(signal);
  const [code] = (await exited) as [number | null];
  return code;
}


function text(record: Buffer, at: number, size: number): string {
  const field = record.subarray(at, at + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('latin1');
}

async function roundTrip(state: string, wtmp: string, line: string): Promise<void> {
  const utmpSocket = join(state, '.utmpd-socket');
  const write = await run(process.execPath, [join(BIN, 'utmps-write'), '-u', '-w', '-U', utmpSocket, '-W', join(state, '.wtmpd-socket'), '-p', String(process.pid), '-l', 'svctest', 'or1', 'USER_PROCESS', line]);
  assert.equal(write.code, 0, `utmps-write: ${write.stderr}`);
  const session = await UtmpSession.connect({ path: utmpSocket, timeoutMs: 10_000 });
  try {
    const mine = (await session.readAll()).filter((r) => r.entry.line === line);
    assert.equal(mine.length, 1);
    assert.equal(mine[0].entry.user, 'svctest');
    assert.equal(mine[0].entry.typeName, 'USER_PROCESS');
  } finally {
    session.close();
  }
  const bytes = await readFile(wtmp);
  assert.equal(bytes.length, RECORD);
  assert.equal(bytes.readInt16LE(0), USER_PROCESS);
  assert.equal(text(bytes, 8, 32), line);
  assert.equal(text(bytes, 44, 32), 'svctest');
}

async function assertOwned(path: string, mode: number, owner: { uid: number; gid: number }): Promise<void> {
  const st = await stat(path);
  assert.equal(st.mode & 0o7777, mode, `${path} mode`);
  assert.equal(st.uid, owner.uid, `${path} owner`);
  assert.equal(st.gid, owner.gid, `${path} group`);
}

/** A temp root, mode 0755 so that the service user can reach its files, and the settings. */
async function liveRoot(prefix: string, account: { group: string }): Promise<{ root: string; state: string; logDir: string; env: NodeJS.ProcessEnv }> {
  const root = await mkdtemp(join('/tmp', prefix));
  await chmod(root, 0o755);
  const state = join(root, 'run', 'utmps');
  const logDir = join(root, 'log');
  await mkdir(logDir, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    utmps_state_dir: state,
    utmps_log_dir: logDir,
    utmps_wtmp: join(logDir, 'wtmp'),
    utmps_btmp: join(logDir, 'btmp'),
    utmps_user: SERVICE_USER,
    utmps_group: account.group,
    utmps_bindir: BIN,
    utmps_s6_bindir: dirname((await which('s6-ipcserver')) ?? '/usr/bin/s6-ipcserver'),
  };
  return { root, state, logDir, env };
}

async function removeRoot(root: string | undefined): Promise<void> {
  if (!root) return;
  for (const { pid } of await processesUnder(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(root, { recursive: true, force: true });
}

describe('examples/openrc/utmpsd, run by the harness', { skip: LIVE_SKIP }, () => {
  let account: { uid: number; gid: number; group: string };
  let root: string | undefined;
  let state: string;
  let logDir: string;
  let listener: ChildProcess | undefined;
  let service: Started | undefined;

  before(async () => {
    account = (await accountIds(SERVICE_USER))!;
    let env: NodeJS.ProcessEnv;
    ({ root, state, logDir, env } = await liveRoot('oru-', account));
    const notify = join(root, 'notify.sock');
    listener = spawn('python3', ['-c', PY_NOTIFY_LISTENER, notify], { stdio: ['ignore', 'pipe', 'inherit'] });
    await lineFrom(listener, (l) => l === 'bound', 'the notification listener');
    // notify=socket:ready: OpenRC gives the daemon NOTIFY_SOCKET and waits for READY=1.
    const ready = lineFrom(listener, (l) => l.includes('READY=1'), 'READY=1 from utmpsd');
    service = startService('utmpsd', { ...env, NOTIFY_SOCKET: notify }, join(root, 'harness.log'));
    await ready;
  });

  after(async () => {
    await stopService(service, 'SIGKILL');
    if (listener && listener.exitCode === null && listener.signalCode === null) {
      const exited = once(listener, 'exit');
      listener.kill('SIGKILL');
      await exited;
    }
    await removeRoot(root);
  });

  test('start_pre made the state directory and wtmp the service user\'s', async () => {
    await assertOwned(state, 0o755, account);
    await assertOwned(join(logDir, 'wtmp'), 0o640, account);
  });

  test('utmpsd serves a round trip', async () => {
    await roundTrip(state, join(logDir, 'wtmp'), 'pts/50');
    await assertOwned(join(state, 'utmp'), 0o640, account);
  });

  test("btmp: start_pre made it 0600, the service user's; root's failed login goes in and reads back; anyone else gets EPERM", async () => {
    await assertOwned(join(logDir, 'btmp'), 0o600, account);
    await btmpRoundTrip(join(state, '.btmpd-socket'), join(logDir, 'btmp'), 'orcfail');
    const refused = await btmpRefused(join(state, '.btmpd-socket'), join(logDir, 'btmp'), 4242, account.gid);
    assert.match(refused.stderr, /Operation not permitted/);
  });

  test('SIGTERM (supervise-daemon --stop): exit 0', async () => {
    assert.equal(await stopService(service), 0, service!.log());
  });
});

describe('examples/openrc/utmps-utmpd, utmps-wtmpd and utmps-btmpd, run by the harness', { skip: LIVE_SKIP }, () => {
  let account: { uid: number; gid: number; group: string };
  let root: string | undefined;
  let state: string;
  let logDir: string;
  let env: NodeJS.ProcessEnv;
  const services: Started[] = [];

  before(async () => {
    account = (await accountIds(SERVICE_USER))!;
    ({ root, state, logDir, env } = await liveRoot('orc-', account));
    for (const name of ['utmps-utmpd', 'utmps-wtmpd', 'utmps-btmpd'] as const) {
      const mine = { ...env, utmps_access_dir: join(root, 'access', name) };
      services.push(startService(name, mine, join(root, `${name}.log`)));
      // What openrc-run does after supervise-daemon has started the daemon.
      const { outcome, log } = await harness(name, 'post', mine);
      assert.equal(outcome.code, 0, `${name} start_post: ${log.join('\n')}\n${services.at(-1)!.log()}`);
    }
  });

  after(async () => {
    for (const s of services) await stopService(s, 'SIGKILL');
    await removeRoot(root);
  });

  test('start_pre made the state directory and wtmp the service user\'s', async () => {
    await assertOwned(state, 0o755, account);
    await assertOwned(join(logDir, 'wtmp'), 0o640, account);
  });

  test('the pair serves a round trip', async () => {
    await roundTrip(state, join(logDir, 'wtmp'), 'pts/50');
    await assertOwned(join(state, 'utmp'), 0o640, account);
  });

  test("utmps-btmpd: btmp is 0600, the service user's; root's failed login goes in and reads back; the access rules let only root in", async () => {
    await btmpRoundTrip(join(state, '.btmpd-socket'), join(logDir, 'btmp'), 'orcfail');
    await assertOwned(join(logDir, 'btmp'), 0o600, account);
    await btmpRefused(join(state, '.btmpd-socket'), join(logDir, 'btmp'), 4242, 4242);
    await btmpRefused(join(state, '.btmpd-socket'), join(logDir, 'btmp'), 4242, account.gid);
    const rules = join(root!, 'access', 'utmps-btmpd', 'uid');
    assert.deepEqual(await readdir(rules), ['0']);
    assert.deepEqual(await readdir(join(rules, '0')), ['allow']);
  });

  test('start_pre wrote the access rules: root uncapped, every other uid IPCCONNMAX=8', async () => {
    for (const name of ['utmps-utmpd', 'utmps-wtmpd']) {
      const rules = join(root!, 'access', name, 'uid');
      assert.deepEqual((await readdir(rules)).sort(), ['0', 'default']);
      assert.deepEqual(await readdir(join(rules, '0')), ['allow']);
      assert.equal(await readFile(join(rules, 'default', 'env', 'IPCCONNMAX'), 'utf8'), '8\n');
      await assertOwned(join(rules, 'default', 'env', 'IPCCONNMAX'), 0o644, { uid: 0, gid: 0 });
    }
  });

  // uid 4242 has no passwd entry; any non-root uid would do.
  test('60 silent connections from one user: 8 are kept, and root is answered', async () => {
    const held = await hold({ uid: 4242, gid: 4242 }, join(state, '.utmpd-socket'), 60);
    try {
      assert.equal(held.open, 8);
      assert.equal(await asRoot(join(state, '.utmpd-socket'), Buffer.of(0x72), 1), '00', "root's rewind is answered");
    } finally {
      await held.release();
    }
  });

  test("45 wtmp followers from one user whose filter matches nothing: root's append succeeds", async () => {
    const held = await hold({ uid: 4242, gid: 4242 }, join(state, '.wtmpd-socket'), 45, followRequest(), 1);
    try {
      assert.equal(held.open, 8);
      const append = Buffer.concat([Buffer.of(0x2b), userRecord('root', 'pts/98')]);
      assert.equal(await asRoot(join(state, '.wtmpd-socket'), append, 1), '00', "root's append is answered OK");
    } finally {
      await held.release();
    }
  });

  test('SIGTERM (supervise-daemon --stop): all exit 0', async () => {
    for (const s of services) assert.equal(await stopService(s), 0, s.log());
  });

  test('start_post fails, after its bounded wait, when the socket never appears', async () => {
    const empty = join(root!, 'empty');
    await mkdir(empty);
    const { outcome, log } = await harness('utmps-utmpd', 'post', { ...env, utmps_state_dir: empty });
    assert.notEqual(outcome.code, 0);
    assert.ok(log.some((l) => l.startsWith('eerror ')), 'it says why');
  });
});
