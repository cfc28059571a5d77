// The s6 service directories of examples/s6, run for real: copied into a temp scan
// directory, their paths moved there through each service's env/ (docs/SERVICES.md),
// supervised by s6-svscan and s6-supervise. Each setup must report readiness through its
// notification-fd, serve a utmps-write round trip read back through the client library,
// run as the service user with the documented owners and modes, and stop with exit 0.
// Every process started here (the tree, the supervisors, the daemons) is gone at the end.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UtmpSession } from '../../src/client/index.js';
import { type Outcome, accountIds, onPath, run } from '../helpers/commands.js';
import { btmpRefused, btmpRoundTrip } from '../helpers/btmp-service.js';
import { asRoot, followRequest, hold, userRecord } from '../helpers/lockout.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { processesUnder } from '../helpers/processes.js';

const EXAMPLES = join(ROOT, 'examples', 's6');
/** A hang guard for every command and wait, never a timing assertion. */
const HANG_GUARD_MS = 30_000;
/** The unprivileged account the services run as here (`utmp` on a real system). */
const SERVICE_USER = 'nobody';
const RECORD = 400;
const USER_PROCESS = 7;

/** Why these tests cannot run here, or false. */
async function cannotRun(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root: the services start as root and drop to a service user';
  for (const p of ['s6-svscan', 's6-supervise', 's6-svscanctl', 's6-svok', 's6-svwait', 's6-svc', 's6-svstat', 's6-ipcserver', 's6-envuidgid', 'execlineb', 'setpriv']) {
    if (!(await onPath(p))) return `${p} is not installed (Debian packages s6, execline, util-linux)`;
  }
  if (!(await accountIds(SERVICE_USER))) return `no account '${SERVICE_USER}' to run the services as`;
  return false;
}

const SKIP = await cannotRun();
/** The group utmpsd runs with (Debian's utmp group). */
const UTMP_GID = 43;
const SERVICE = SKIP ? { uid: -1, gid: -1 } : (await accountIds(SERVICE_USER))!;


/** A temp root (mode 0755, so that the service user can reach its files) and scan dir. */
interface Workspace {
  root: string;
  scan: string;
  /** The whole environment of the tree: nothing from the test's may steer the run scripts. */
  env: NodeJS.ProcessEnv;
}

async function workspace(prefix: string): Promise<Workspace> {
  const root = await mkdtemp(join('/tmp', prefix));
  await chmod(root, 0o755);
  const scan = join(root, 'scan');
  await mkdir(scan);
  // PATH must reach bin/ (the run scripts find utmpsd and the daemons on PATH) and
  // Debian's execline directory.
  const path = [BIN, dirname(process.execPath), '/usr/lib/execline/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
  return { root, scan, env: { PATH: path } };
}

/** s6-svscan on the workspace's scan directory. */
class SupervisionTree {
  #log = '';
  readonly #child: ChildProcess;
  readonly #exited: Promise<unknown>;

  constructor(readonly ws: Workspace) {
    this.#child = spawn('s6-svscan', [ws.scan], { env: ws.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child.stdout!.on('data', (c: Buffer) => (this.#log += c.toString()));
    this.#child.stderr!.on('data', (c: Buffer) => (this.#log += c.toString()));
    this.#exited = once(this.#child, 'exit');
  }

  /** What the tree and the services (stderr goes to the tree's stdout) said. */
  get log(): string {
    return this.#log;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** s6-svscanctl -t: s6-svscan stops every supervisor (each stops its service), then exits. */
  async terminate(): Promise<number | null> {
    if (this.running) {
      const r = await run('s6-svscanctl', ['-t', this.ws.scan], { env: this.ws.env });
      assert.equal(r.code, 0, `s6-svscanctl -t: ${r.stderr}`);
      await Promise.race([this.#exited, sleep(HANG_GUARD_MS, undefined, { ref: false })]);
    }
    return this.#child.exitCode;
  }

  /** After a failed test: kills s6-svscan itself (cleanup() then takes the rest, by pid). */
  async kill(): Promise<void> {
    if (this.running) {
      this.#child.kill('SIGKILL');
      await this.#exited;
    }
  }
}

async function cleanup(ws: Workspace | undefined, tree: SupervisionTree | undefined): Promise<void> {
  if (!ws) return;
  await tree?.kill();
  for (const p of await processesUnder(ws.root)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(ws.root, { recursive: true, force: true });
}

/** Copies an example service directory into the scan directory, with env/ files. */
async function stage(ws: Workspace, name: string, env: Record<string, string>): Promise<string> {
  const dir = join(ws.scan, name);
  await cp(join(EXAMPLES, name), dir, { recursive: true });
  await mkdir(join(dir, 'env'), { recursive: true });
  for (const [key, value] of Object.entries(env)) await writeFile(join(dir, 'env', key), `${value}\n`);
  // The logger (log/, docs/SERVICES.md) writes into the workspace, as the service user.
  if (await exists(join(dir, 'log'))) {
    await mkdir(join(dir, 'log', 'env'), { recursive: true });
    await writeFile(join(dir, 'log', 'env', 'UTMPS_LOGGER_DIR'), `${join(ws.root, 'logs', name)}\n`);
    await writeFile(join(dir, 'log', 'env', 'UTMPS_USER'), `${env.UTMPS_USER ?? SERVICE_USER}\n`);
  }
  return dir;
}

/** Waits until s6-supervise runs for dir (s6-svwait needs it there to subscribe). */
async function supervised(tree: SupervisionTree, dir: string): Promise<void> {
  for (const start = Date.now(); ; await sleep(50)) {
    if ((await run('s6-svok', [dir], { env: tree.ws.env })).code === 0) return;
    assert.ok(tree.running, `s6-svscan exited: ${tree.log}`);
    assert.ok(Date.now() - start < HANG_GUARD_MS, `no s6-supervise for ${dir}: ${tree.log}`);
  }
}

async function svstat(tree: SupervisionTree, dir: string, fields: string): Promise<string> {
  const r = await run('s6-svstat', ['-o', fields, dir], { env: tree.ws.env });
  assert.equal(r.code, 0, `s6-svstat: ${r.stderr}`);
  return r.stdout.trim();
}

function text(record: Buffer, at: number, size: number): string {
  const field = record.subarray(at, at + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('latin1');
}

/**
 * utmps-write -u -w through the given sockets, then: the record read back from utmp
 * through the client library, and the wtmp file holding exactly that record (decoded by
 * hand at the utmps offsets, PROTOCOL.md section 1).
 */
async function roundTrip(utmpSocket: string, wtmpSocket: string, wtmpFile: string, line: string): Promise<void> {
  const write = await run(process.execPath, [join(BIN, 'utmps-write'), '-u', '-w', '-U', utmpSocket, '-W', wtmpSocket, '-p', String(process.pid), '-l', 'svctest', 'sv1', 'USER_PROCESS', line]);
  assert.equal(write.code, 0, `utmps-write: ${write.stderr}`);

  const session = await UtmpSession.connect({ path: utmpSocket, timeoutMs: 10_000 });
  try {
    const mine = (await session.readAll()).filter((r) => r.entry.line === line);
    assert.equal(mine.length, 1, 'utmp holds the record once');
    assert.equal(mine[0].entry.typeName, 'USER_PROCESS');
    assert.equal(mine[0].entry.user, 'svctest');
    assert.equal(mine[0].entry.id, 'sv1');
  } finally {
    session.close();
  }

  const wtmp = await readFile(wtmpFile);
  assert.equal(wtmp.length, RECORD, 'wtmp holds one record');
  assert.equal(wtmp.readInt16LE(0), USER_PROCESS);
  assert.equal(text(wtmp, 8, 32), line);
  assert.equal(text(wtmp, 40, 4), 'sv1');
  assert.equal(text(wtmp, 44, 32), 'svctest');
}

/** utmps-write -u as another uid and gid: the daemon decides by the peer's credentials. */
function utmpWriteAs(uid: number, gid: number, socket: string, line: string): Promise<Outcome> {
  return run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, join(BIN, 'utmps-write'), '-u', '-U', socket, '-l', 'svctest', 'sv2', 'USER_PROCESS', line]);
}

/**
 * The daemon runs with the service account's gid if and only if a peer with that gid may
 * write utmp and a peer with another unprivileged gid may not (PROTOCOL.md section 3).
 */
async function assertRunsAsServiceGroup(utmpSocket: string, gid = SERVICE.gid): Promise<void> {
  const stranger = await utmpWriteAs(4242, 4242, utmpSocket, 'pts/71');
  assert.notEqual(stranger.code, 0, 'a peer outside the service group may not write utmp');
  assert.match(stranger.stderr, /Operation not permitted/);
  const member = await utmpWriteAs(4242, gid, utmpSocket, 'pts/72');
  assert.equal(member.code, 0, `a peer in the service group may write utmp: ${member.stderr}`);
}

async function assertOwned(path: string, mode: number, what: string, gid = SERVICE.gid): Promise<void> {
  const st = await stat(path);
  assert.equal(st.mode & 0o7777, mode, `${what} mode is ${mode.toString(8)}`);
  assert.equal(st.uid, SERVICE.uid, `${what} belongs to ${SERVICE_USER}`);
  assert.equal(st.gid, gid, `${what} belongs to the service group ${gid}`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** wtmp as Debian ships it, root:root here (root:utmp there) and group-writable. */
async function debianWtmp(path: string): Promise<void> {
  await writeFile(path, '');
  await chmod(path, 0o664);
}

async function bringDown(tree: SupervisionTree, dir: string): Promise<void> {
  assert.equal((await run('s6-svc', ['-d', dir], { env: tree.ws.env })).code, 0);
  const wait = await run('s6-svwait', ['-D', '-t', '10000', dir], { env: tree.ws.env });
  assert.equal(wait.code, 0, `s6-svwait -D: ${wait.stderr}\n${tree.log}`);
  // up, wanted up, exit code, signal: down on purpose, after a clean exit 0.
  assert.equal(await svstat(tree, dir, 'up,wantedup,exitcode,signal'), 'false false 0 NA', tree.log);
}

async function endTree(tree: SupervisionTree): Promise<void> {
  assert.equal(await tree.terminate(), 0, `s6-svscan exit status: ${tree.log}`);
  assert.deepEqual(await processesUnder(tree.ws.root), [], 'no supervisor or daemon is left');
}

describe('examples/s6/utmpsd under s6-svscan', { skip: SKIP }, () => {
  let ws: Workspace | undefined;
  let tree: SupervisionTree;
  let service: string;
  let state: string;
  let wtmp: string;

  before(async () => {
    ws = await workspace('s6u-');
    state = join(ws.root, 'run', 'utmps');
    const logDir = join(ws.root, 'log');
    await mkdir(logDir, { mode: 0o755 });
    wtmp = join(logDir, 'wtmp');
    await debianWtmp(wtmp);
    await writeFile(join(logDir, 'btmp'), '');
    await chmod(join(logDir, 'btmp'), 0o660); // as Debian ships it (root:utmp there)
    // nobody's own group is shared (with _apt), which utmpsd refuses: run with the utmp group.
    service = await stage(ws, 'utmpsd', { UTMPS_STATE_DIR: state, UTMPS_LOG_DIR: logDir, UTMPS_USER: SERVICE_USER, UTMPS_GROUP: String(UTMP_GID) });
    tree = new SupervisionTree(ws);
  });

  after(async () => {
    await cleanup(ws, tree);
  });

  test('comes up and reports readiness through notification-fd 3', async () => {
    await supervised(tree, service);
    const wait = await run('s6-svwait', ['-U', '-t', '10000', service], { env: tree.ws.env });
    assert.equal(wait.code, 0, `s6-svwait -U: ${wait.stderr}\n${tree.log}`);
    assert.equal(await svstat(tree, service, 'up,ready'), 'true true');
  });

  test('serves a round trip: utmps-write -u -w, utmp read back, wtmp on disk', async () => {
    await roundTrip(join(state, '.utmpd-socket'), join(state, '.wtmpd-socket'), wtmp, 'pts/70');
  });

  test('has dropped root for the service user and group, who own the state directory and both files (0640: the utmps layout)', async () => {
    await assertRunsAsServiceGroup(join(state, '.utmpd-socket'), UTMP_GID);
    await assertOwned(state, 0o755, 'the state directory', UTMP_GID);
    await assertOwned(join(state, 'utmp'), 0o640, 'utmp', UTMP_GID);
    await assertOwned(wtmp, 0o640, 'wtmp', UTMP_GID);
    for (const socket of ['.utmpd-socket', '.wtmpd-socket', '.btmpd-socket']) {
      assert.equal((await stat(join(state, socket))).mode & 0o777, 0o666, `${socket} mode`);
    }
  });

  test('btmp: root appends and reads back through .btmpd-socket; btmp is 0600 (tightened from 0660), the service user\'s; anyone else gets EPERM', async () => {
    const btmp = join(dirname(wtmp), 'btmp');
    await btmpRoundTrip(join(state, '.btmpd-socket'), btmp, 'svcfail');
    await assertOwned(btmp, 0o600, 'btmp', UTMP_GID);
    const refused = await btmpRefused(join(state, '.btmpd-socket'), btmp, 4242, UTMP_GID);
    assert.match(refused.stderr, /Operation not permitted/, 'a member of the service group too');
  });

  test('goes down with s6-svc -d: utmpsd exits 0 and removes its sockets', async () => {
    await bringDown(tree, service);
    assert.equal(await exists(join(state, '.utmpd-socket')), false);
    assert.equal(await exists(join(state, '.wtmpd-socket')), false);
    assert.equal(await exists(join(state, '.btmpd-socket')), false);
    assert.equal(await exists(join(state, 'utmp')), true, 'utmp stays');
  });

  test('s6-svscanctl -t ends the tree and leaves no process behind', async () => {
    await endTree(tree);
  });
});

describe('examples/s6/utmps-utmpd, utmps-wtmpd and utmps-btmpd (s6-ipcserver) under s6-svscan', { skip: SKIP }, () => {
  let ws: Workspace | undefined;
  let tree: SupervisionTree;
  let utmpd: string;
  let wtmpd: string;
  let btmpd: string;
  let state: string;
  let wtmp: string;

  before(async () => {
    ws = await workspace('s6c-');
    state = join(ws.root, 'run', 'utmps');
    const logDir = join(ws.root, 'log');
    await mkdir(logDir, { mode: 0o755 });
    wtmp = join(logDir, 'wtmp');
    await debianWtmp(wtmp);
    const env = { UTMPS_STATE_DIR: state, UTMPS_LOG_DIR: logDir, UTMPS_USER: SERVICE_USER };
    utmpd = await stage(ws, 'utmps-utmpd', env);
    wtmpd = await stage(ws, 'utmps-wtmpd', env);
    btmpd = await stage(ws, 'utmps-btmpd', env);
    tree = new SupervisionTree(ws);
  });

  after(async () => {
    await cleanup(ws, tree);
  });

  test('all three come up and report readiness (s6-ipcserver -1 on notification-fd 3)', async () => {
    await supervised(tree, utmpd);
    await supervised(tree, wtmpd);
    await supervised(tree, btmpd);
    const wait = await run('s6-svwait', ['-U', '-a', '-t', '10000', utmpd, wtmpd, btmpd], { env: tree.ws.env });
    assert.equal(wait.code, 0, `s6-svwait -U: ${wait.stderr}\n${tree.log}`);
    assert.equal(await svstat(tree, utmpd, 'up,ready'), 'true true');
    assert.equal(await svstat(tree, wtmpd, 'up,ready'), 'true true');
    assert.equal(await svstat(tree, btmpd, 'up,ready'), 'true true');
  });

  test("utmps-btmpd: root's failed login is appended and read back; btmp is 0600, the service user's; the access rules let no one else in", async () => {
    const btmp = join(dirname(wtmp), 'btmp');
    await btmpRoundTrip(join(state, '.btmpd-socket'), btmp, 'svcfail');
    await assertOwned(btmp, 0o600, 'btmp');
    await btmpRefused(join(state, '.btmpd-socket'), btmp, 4242, 4242);
    await btmpRefused(join(state, '.btmpd-socket'), btmp, 4242, SERVICE.gid);
    assert.deepEqual(await readdir(join(EXAMPLES, 'utmps-btmpd', 'data', 'access', 'uid')), ['0'], 'only uid 0 has a rule');
  });

  test('serve a round trip: utmps-write -u -w, utmp read back, wtmp on disk', async () => {
    await roundTrip(join(state, '.utmpd-socket'), join(state, '.wtmpd-socket'), wtmp, 'pts/70');
  });

  test('run the daemons as the service user, who owns both files (0640: the utmps layout); the state directory stays root\'s', async () => {
    await assertRunsAsServiceGroup(join(state, '.utmpd-socket'));
    // s6-ipcserver binds (and makes its lock file) there as root: the account must not be
    // able to plant links in it.
    const dir = await stat(state);
    assert.deepEqual([dir.uid, dir.gid, dir.mode & 0o7777], [0, 0, 0o755], 'the state directory is root:root 0755');
    await assertOwned(join(state, 'utmp'), 0o640, 'utmp');
    await assertOwned(wtmp, 0o640, 'wtmp');
  });

  // The shipped limits (s6-ipcserver -c, s6-ipcserver-access rules, s6-connlimit): one
  // user cannot lock root out. uid 4242 has no passwd entry; any non-root uid would do.
  test('60 silent connections from one user: only IPCCONNMAX are kept, and root is answered', async () => {
    const perUid = Number(await readFile(join(EXAMPLES, 'utmps-utmpd', 'data', 'access', 'uid', 'default', 'env', 'IPCCONNMAX'), 'utf8'));
    const held = await hold({ uid: 4242, gid: 4242 }, join(state, '.utmpd-socket'), 60);
    try {
      assert.equal(held.open, perUid, `the per-uid cap keeps ${perUid}:\n${tree.log.slice(-2000)}`);
      assert.equal(await asRoot(join(state, '.utmpd-socket'), Buffer.of(0x72), 1), '00', "root's rewind is answered");
    } finally {
      await held.release();
    }
  });

  test("45 wtmp followers from one user whose filter matches nothing: root's append succeeds", async () => {
    const perUid = Number(await readFile(join(EXAMPLES, 'utmps-wtmpd', 'data', 'access', 'uid', 'default', 'env', 'IPCCONNMAX'), 'utf8'));
    const held = await hold({ uid: 4242, gid: 4242 }, join(state, '.wtmpd-socket'), 45, followRequest(), 1);
    try {
      assert.equal(held.open, perUid, 'the per-uid cap keeps only some followers');
      assert.ok(held.outcomes.filter((o) => !o.closed).every((o) => o.received === '03'), 'each kept follower got the end of the history');
      const append = Buffer.concat([Buffer.of(0x2b), userRecord('root', 'pts/99')]);
      assert.equal(await asRoot(join(state, '.wtmpd-socket'), append, 1), '00', "root's append is answered OK");
    } finally {
      await held.release();
    }
  });

  test('go down with s6-svc -d: all exit 0', async () => {
    await bringDown(tree, utmpd);
    await bringDown(tree, wtmpd);
    await bringDown(tree, btmpd);
  });

  test('s6-svscanctl -t ends the tree and leaves no process behind', async () => {
    await endTree(tree);
  });
});
