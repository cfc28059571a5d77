// The state directory belongs to the service account after the first start, and utmpsd
// starts again as root. Everything privileged it does there goes through descriptors, so
// an account that swaps names in the directory for symbolic links (the service account,
// compromised) changes nothing outside it. utmpsd refuses a state directory, or a file in
// it, that someone else could have planted or could still swap (exit 111, one clear line);
// it creates the directory 0755 and its files with their exact mode whatever the umask.
// Configuration that would open the files to unrelated accounts is refused (exit 100).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { UTMPSD_JS } from '../../fuzz/target.js';
import { append, procStatus, PYTHON, record, scratchDir, status, talk } from '../helpers/fuzz-hardening.js';

/** The service account of these tests: nobody, with the utmp group (nobody's own is shared). */
const SERVICE = { uid: 65534, gid: 43 };
const AS_SERVICE = ['setpriv', `--reuid=${SERVICE.uid}`, `--regid=${SERVICE.gid}`, '--clear-groups'];
const USER_ARGS = ['--user', 'nobody', '--group', String(SERVICE.gid)];
const NAMES = ['utmp', 'wtmp', 'btmp', '.utmpd-socket', '.wtmpd-socket', '.btmpd-socket'] as const;
const SECRET = Buffer.from('root-only file outside the state directory\n');
const LOGIN = record({ type: 7, id: 'sd', line: 'pts/9', user: 'root', host: 'statedir' });

interface Started {
  /** 'ready' once the notification newline came; otherwise the exit code. */
  outcome: 'ready' | number | null;
  child: ChildProcess;
  stderr: () => string;
}

/** Starts utmpsd and waits until it is ready or has exited. */
async function start(args: string[], shell?: string): Promise<Started> {
  const full = [UTMPSD_JS, ...args, '--notify-fd', '3'];
  const child = shell
    ? spawn('sh', ['-c', `${shell}; exec "$0" "$@"`, process.execPath, ...full], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, full, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  const outcome = await new Promise<'ready' | number | null>((resolve) => {
    (child.stdio[3] as Readable).on('data', (c: Buffer) => {
      if (c.includes(10)) resolve('ready');
    });
    child.once('exit', (code) => resolve(code));
  });
  if (outcome !== 'ready' && child.exitCode === null) await once(child, 'exit');
  return { outcome, child, stderr: () => log };
}

async function stop(s: Started): Promise<number | null> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return s.child.exitCode;
  const exited = once(s.child, 'exit');
  s.child.kill('SIGTERM');
  return ((await exited) as [number | null])[0];
}

/** One run to completion, for the refusals. */
function run(args: string[], shell?: string): { status: number | null; stderr: string } {
  const r = shell
    ? spawnSync('sh', ['-c', `${shell}; exec "$0" "$@"`, process.execPath, UTMPSD_JS, ...args], { encoding: 'utf8', timeout: 20_000 })
    : spawnSync(process.execPath, [UTMPSD_JS, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr };
}

/** Root-owned 0600 files (and their directory) that an attacker would like changed. */
function makeTargets(dir: string): void {
  for (const name of NAMES) writeFileSync(join(dir, name.replace(/^\./, '')), SECRET, { mode: 0o600 });
}

function assertTargetsUntouched(dir: string): void {
  const st = statSync(dir);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o755], 'the targets directory is unchanged');
  assert.deepEqual(readdirSync(dir).sort(), NAMES.map((n) => n.replace(/^\./, '')).sort(), 'nothing was created in it');
  for (const name of readdirSync(dir)) {
    const f = statSync(join(dir, name));
    assert.deepEqual([f.uid, f.gid, f.mode & 0o7777], [0, 0, 0o600], `${name} outside the state directory kept its owner and mode`);
    assert.ok(readFileSync(join(dir, name)).equals(SECRET), `${name} kept its content`);
  }
}

async function withDirs(fn: (state: string, targets: string) => Promise<void>): Promise<void> {
  const s = await scratchDir('hs-');
  const t = await scratchDir('ht-');
  try {
    makeTargets(t.dir);
    await fn(join(s.dir, 'state'), t.dir);
  } finally {
    await s.remove();
    await t.remove();
  }
}

// The attacker, run as the service account. It watches the state directory with inotify
// and, at each sign of the daemon on one of the six names (a file opened, a socket
// created or moved in, an owner or mode changed), renames a symbolic link to a root-owned file outside over the name, so that a
// privileged call by path that follows would land there; 50 ms later it puts the real file
// back, so that the next start finds it again. In 'steal' mode it also renames away any
// directory the daemon creates and plants a link to the targets directory in its place.
// It stops when its stdin closes and prints what it did.
const PY_RACER = String.raw`
import ctypes, json, os, select, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
IN_ATTRIB, IN_OPEN, IN_MOVED_TO, IN_CREATE, IN_ISDIR = 0x4, 0x20, 0x80, 0x100, 0x40000000
state, targets, mode = sys.argv[1], sys.argv[2], sys.argv[3]
names = ['utmp', 'wtmp', 'btmp', '.utmpd-socket', '.wtmpd-socket', '.btmpd-socket']
fd = libc.inotify_init1(os.O_NONBLOCK)
if fd < 0 or libc.inotify_add_watch(fd, state.encode(), IN_ATTRIB | IN_OPEN | IN_MOVED_TO | IN_CREATE) < 0:
    sys.exit('inotify: errno %d' % ctypes.get_errno())
swaps = stolen = 0
restore = {}
ours = {name: 0 for name in names}  # our own renames onto a name, whose events we skip
def swap(name):
    global swaps
    path, keep = os.path.join(state, name), os.path.join(state, '.racer-keep' + name)
    try:
        if not os.path.islink(path) and not os.path.lexists(keep):
            os.rename(path, keep)
            restore[name] = time.monotonic() + 0.05
    except FileNotFoundError:
        pass
    tmp = os.path.join(state, '.racer-tmp')
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(os.path.join(targets, name.lstrip('.')), tmp)
    ours[name] += 1
    os.rename(tmp, path)
    swaps += 1
def put_back(name):
    try:
        ours[name] += 1
        os.rename(os.path.join(state, '.racer-keep' + name), os.path.join(state, name))
    except FileNotFoundError:
        ours[name] -= 1
print('watching', flush=True)
while True:
    ready, _, _ = select.select([fd, sys.stdin], [], [], 0.01)
    if sys.stdin in ready and not os.read(sys.stdin.fileno(), 100):
        break
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            data = b''
        at, hit = 0, set()
        while at < len(data):
            _, mask, _, n = struct.unpack_from('iIII', data, at)
            name = data[at + 16:at + 16 + n].rstrip(b'\0').decode()
            at += 16 + n
            if name.startswith('.racer'):
                continue
            if mask & IN_ISDIR and mask & IN_CREATE and mode == 'steal':
                try:
                    os.rename(os.path.join(state, name), os.path.join(state, '.racer-stolen' + str(stolen)))
                    os.symlink(targets, os.path.join(state, name))
                    stolen += 1
                except OSError:
                    pass
            elif name in names and mask & IN_MOVED_TO and ours[name] > 0:
                ours[name] -= 1
            elif name in names:
                hit.add(name)
        for name in hit:
            swap(name)
    now = time.monotonic()
    for name, when in list(restore.items()):
        if when <= now:
            put_back(name)
            del restore[name]
for name in list(restore):
    put_back(name)
print(json.dumps({'swaps': swaps, 'stolen': stolen}), flush=True)
`;

interface Racer {
  done(): Promise<{ swaps: number; stolen: number }>;
}

async function startRacer(state: string, targets: string, mode: 'files' | 'steal'): Promise<Racer> {
  const child = spawn(AS_SERVICE[0], [...AS_SERVICE.slice(1), PYTHON, '-c', PY_RACER, state, targets, mode], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => out.includes('watching') && resolve());
    child.once('exit', (code) => reject(new Error(`racer exited ${code}: ${err}`)));
  });
  return {
    async done() {
      const exited = once(child, 'exit');
      child.stdin.end();
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, err);
      return JSON.parse(out.split('\n').filter(Boolean).at(-1)!) as { swaps: number; stolen: number };
    },
  };
}

/** What a refused start may say while names are being swapped under it: all clear, all fatal. */
const CLEAR_REFUSAL =
  /^utmpsd: fatal: unable to start: (unable to open \S+: it is a symbolic link, which is never followed|\S+ exists and is not a socket; refusing to replace it|\S+ was removed while utmpsd opened it; refusing to use it|unable to bind \S+: the private directory \S+ was replaced \(.*\); refusing to continue)$/m;

async function restartsUnderRace(mode: 'files' | 'steal', restarts: number, note: (m: string) => void): Promise<void> {
  await withDirs(async (state, targets) => {
    // The first start creates the directory and hands it to the service account.
    const first = await start(['--state-dir', state, ...USER_ARGS]);
    assert.equal(first.outcome, 'ready', first.stderr());
    assert.equal(await stop(first), 0);
    assert.equal(statSync(state).uid, SERVICE.uid, 'the service account owns the state directory');

    const racer = await startRacer(state, targets, mode);
    const outcomes: string[] = [];
    const refusals: { code: number | null; stderr: string }[] = [];
    try {
      for (let i = 0; i < restarts; i++) {
        const s = await start(['--state-dir', state, ...USER_ARGS]);
        if (s.outcome === 'ready') {
          outcomes.push('served');
          assert.equal(await stop(s), 0, s.stderr());
        } else {
          refusals.push({ code: s.outcome, stderr: s.stderr() });
          outcomes.push('refused');
        }
      }
    } finally {
      const did = await racer.done();
      note(`${did.swaps} swaps, ${did.stolen} private directories stolen; restarts: ${outcomes.join(' ')}`);
      assert.ok(did.swaps >= restarts, `the racer swapped names at every start (${did.swaps} swaps)`);
    }
    assertTargetsUntouched(targets);
    for (const r of refusals) {
      assert.equal(r.code, 111, r.stderr);
      assert.match(r.stderr, CLEAR_REFUSAL);
    }

    // Once the racer is gone, the next start serves (after the attacker's leftovers that
    // would be refused as unsafe are cleared by the administrator).
    for (const name of readdirSync(state)) {
      const p = join(state, name);
      if (lstatSync(p).isSymbolicLink() || name.startsWith('.racer')) spawnSync('rm', ['-rf', '--', p]);
    }
    const again = await start(['--state-dir', state, ...USER_ARGS]);
    try {
      assert.equal(again.outcome, 'ready', again.stderr());
      assert.equal(status(await talk(join(state, '.wtmpd-socket'), append(LOGIN))), 0);
    } finally {
      await stop(again);
    }
    assertTargetsUntouched(targets);
  });
}

describe('state directory: a service account swapping names while root restarts utmpsd', () => {
  test('inotify racer swapping utmp, wtmp and both sockets for links over 8 restarts: nothing outside changes', (t) =>
    restartsUnderRace('files', 8, (m) => t.diagnostic(m)));

  test('inotify racer also stealing the private bind directory over 6 restarts: nothing outside changes', (t) =>
    restartsUnderRace('steal', 6, (m) => t.diagnostic(m)));

  test('a link planted at a socket name is replaced by the socket, never followed', () =>
    withDirs(async (state, targets) => {
      mkdirSync(state, { mode: 0o755 });
      chownSync(state, SERVICE.uid, SERVICE.gid);
      symlinkSync(join(targets, 'utmpd-socket'), join(state, '.utmpd-socket'));
      symlinkSync(join(targets, 'wtmpd-socket'), join(state, '.wtmpd-socket'));
      symlinkSync(join(targets, 'btmpd-socket'), join(state, '.btmpd-socket'));
      const s = await start(['--state-dir', state, ...USER_ARGS]);
      try {
        assert.equal(s.outcome, 'ready', s.stderr());
        for (const name of ['.utmpd-socket', '.wtmpd-socket', '.btmpd-socket']) {
          const st = lstatSync(join(state, name));
          assert.ok(st.isSocket(), `${name} is a socket now`);
          assert.equal(st.mode & 0o777, 0o666, `${name} is 0666`);
        }
        assert.deepEqual(readdirSync(state).sort(), ['.btmpd-socket', '.utmpd-socket', '.wtmpd-socket', 'btmp', 'utmp', 'wtmp'], 'no private directory left behind');
        assert.equal(status(await talk(join(state, '.wtmpd-socket'), append(LOGIN))), 0);
      } finally {
        await stop(s);
      }
      assertTargetsUntouched(targets);
    }));
});

describe('state directory: refusals (exit 111, one clear line, nothing changed)', () => {
  const cases: { name: string; prepare: (state: string, targets: string) => void; args?: string[]; says: RegExp }[] = [
    {
      name: 'world-writable (0777, owned by nobody: what the red team had accepted)',
      prepare: (state) => {
        mkdirSync(state);
        chownSync(state, 65534, 65534);
        chmodSync(state, 0o777);
      },
      says: /state directory \S+ is writable by group or others \(mode 0777\)/,
    },
    {
      name: 'group-writable (0775, root)',
      prepare: (state) => {
        mkdirSync(state);
        chmodSync(state, 0o775);
      },
      says: /state directory \S+ is writable by group or others \(mode 0775\)/,
    },
    {
      name: 'owned by an account that is not the service account',
      prepare: (state) => {
        mkdirSync(state, { mode: 0o755 });
        chownSync(state, 1, 1);
      },
      says: /state directory \S+ belongs to uid 1, not to root or the service account/,
    },
    {
      name: 'owned by nobody, started without --user (nobody is then no service account)',
      prepare: (state) => {
        mkdirSync(state, { mode: 0o755 });
        chownSync(state, 65534, 65534);
      },
      args: [],
      says: /state directory \S+ belongs to uid 65534/,
    },
    {
      name: 'a symbolic link to a directory',
      prepare: (state, targets) => symlinkSync(targets, state),
      says: /state directory \S+ is a symbolic link, which is never followed/,
    },
    {
      name: 'in a parent others can write without the sticky bit',
      prepare: (state) => {
        mkdirSync(state, { mode: 0o755 });
        chmodSync(join(state, '..'), 0o777);
      },
      says: /the parent of state directory \S+ is writable by group or others without the sticky bit \(mode 0777\)/,
    },
    {
      name: 'utmp with a second hard link (a file linked in from elsewhere)',
      prepare: (state, targets) => {
        mkdirSync(state, { mode: 0o755 });
        linkSync(join(targets, 'utmp'), join(state, 'utmp'));
      },
      says: /\S+\/utmp has 2 hard links/,
    },
    {
      name: 'wtmp owned by an account that is neither root nor the service account',
      prepare: (state) => {
        mkdirSync(state, { mode: 0o755 });
        writeFileSync(join(state, 'wtmp'), '', { mode: 0o640 });
        chownSync(join(state, 'wtmp'), 1, 1);
      },
      says: /\S+\/wtmp belongs to uid 1, not to root or the service account/,
    },
  ];
  for (const c of cases) {
    test(c.name, () =>
      withDirs(async (state, targets) => {
        c.prepare(state, targets);
        const before = lstatSync(state);
        const r = run(['--state-dir', state, ...(c.args ?? USER_ARGS)]);
        assert.equal(r.status, 111, r.stderr);
        assert.match(r.stderr, new RegExp(`^utmpsd: fatal: unable to start: ${c.says.source}`));
        assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
        const after = lstatSync(state);
        assert.deepEqual([after.uid, after.gid, after.mode], [before.uid, before.gid, before.mode], 'the state directory is unchanged');
        assertTargetsUntouched(targets);
      }));
  }
});

describe('modes whatever the umask', () => {
  for (const [format, fileMode] of [
    ['utmps', 0o640],
    ['glibc', 0o644],
  ] as const) {
    test(`umask 077, -F ${format}: state directory 0755 (parents too), files ${fileMode.toString(8)}, sockets 0666`, () =>
      withDirs(async (base) => {
        const state = join(base, 'a', 'b');
        const s = await start(['--state-dir', state, '-F', format, ...USER_ARGS], 'umask 077');
        try {
          assert.equal(s.outcome, 'ready', s.stderr());
          for (const dir of [join(base, 'a'), state]) assert.equal(statSync(dir).mode & 0o7777, 0o755, `${dir} is 0755`);
          for (const f of ['utmp', 'wtmp']) {
            const st = statSync(join(state, f));
            assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [fileMode, SERVICE.uid, SERVICE.gid], `${f}: mode and owner`);
          }
          const btmp = statSync(join(state, 'btmp'));
          assert.deepEqual([btmp.mode & 0o7777, btmp.uid, btmp.gid], [0o600, SERVICE.uid, SERVICE.gid], 'btmp: 0600 whatever the layout');
          for (const f of ['.utmpd-socket', '.wtmpd-socket', '.btmpd-socket']) assert.equal(lstatSync(join(state, f)).mode & 0o777, 0o666);
          // Reachable by another user: nobody in its own group appends through the socket.
          const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', PYTHON, '-c', PY_APPEND_NOBODY, join(state, '.wtmpd-socket')], {
            encoding: 'utf8',
            timeout: 20_000,
          });
          assert.equal(r.stdout.trim(), 'connected', r.stderr);
        } finally {
          await stop(s);
        }
      }));
  }
});

const PY_APPEND_NOBODY = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
print('connected')
`;

describe('configuration that would open the files to others', () => {
  test('--user nobody without --group: refused (nogroup is shared with _apt), exit 100', () => {
    const r = run(['--state-dir', '/nonexistent/x', '--user', 'nobody']);
    assert.equal(r.status, 100, r.stderr);
    assert.match(r.stderr, /^utmpsd: fatal: --user nobody: its primary group 65534 \(nogroup\) is shared with .*_apt.*; pass --group GID/);
  });

  test('--user daemon without --group: its own group daemon (1) is used', () =>
    withDirs(async (state) => {
      const s = await start(['--state-dir', state, '--user', 'daemon']);
      try {
        assert.equal(s.outcome, 'ready', s.stderr());
        const st = procStatus(s.child.pid!);
        assert.deepEqual(st.get('Gid')?.split(/\s+/), ['1', '1', '1', '1']);
        assert.deepEqual([statSync(join(state, 'utmp')).uid, statSync(join(state, 'utmp')).gid], [1, 1]);
      } finally {
        await stop(s);
      }
    }));

  test('--file-mode: world-writable modes refused (exit 100), group-writable warned about', () =>
    withDirs(async (state) => {
      for (const mode of ['0666', '0602', '646']) {
        const r = run(['--state-dir', state, '--file-mode', mode]);
        assert.equal(r.status, 100, `${mode}: ${r.stderr}`);
        assert.match(r.stderr, new RegExp(`^utmpsd: fatal: --file-mode ${mode} lets every user forge and erase records`));
      }
      const s = await start(['--state-dir', state, '--file-mode', '0660', ...USER_ARGS]);
      try {
        assert.equal(s.outcome, 'ready', s.stderr());
        assert.match(s.stderr(), /warning: --file-mode 0660: every member of the files' group can forge and erase records/);
        assert.equal(statSync(join(state, 'utmp')).mode & 0o777, 0o660);
      } finally {
        await stop(s);
      }
    }));

  test('--private-reads warns when every user can read wtmp directly, and not with the default mode', () =>
    withDirs(async (state) => {
      const quiet = await start(['--state-dir', state, '--private-reads', ...USER_ARGS]);
      assert.equal(quiet.outcome, 'ready', quiet.stderr());
      assert.equal(await stop(quiet), 0);
      assert.doesNotMatch(quiet.stderr(), /private-reads/);
      chmodSync(join(state, 'wtmp'), 0o644);
      const loud = await start(['--state-dir', state, '--private-reads', ...USER_ARGS]);
      assert.equal(loud.outcome, 'ready', loud.stderr());
      assert.equal(await stop(loud), 0);
      assert.match(loud.stderr(), /warning: --private-reads: \S+\/wtmp is readable by every user \(mode 0644\)/);
    }));
});
