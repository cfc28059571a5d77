// btmp (issue 12, items 1, 2 and 6): failed logins are root's alone. Over both transports
// (utmpsd, and utmps-btmpd under the real s6-ipcserver): root appends, reads and follows;
// nobody, a member of the system group utmp, and a peer with the daemon's own group (which
// may write utmp) are answered EPERM for every append and read, with the same bytes whether
// btmp is missing, empty or full; the file is created 0600 even where every other file the
// daemons create is 0644 (glibc layout, --file-mode 0644); a rotated btmp is replaced by a
// fresh 0600 one; utmps-write -b and updwtmpx('.../btmp') reach it. util-linux lastb reads
// the file as the oracle.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readBtmp, updwtmpx } from '../../src/index.js';
import { type Daemons, makeDir, startDaemons } from '../helpers/daemons.js';
import { record } from '../helpers/fuzz-hardening.js';
import { BIN } from '../helpers/paths.js';
import { type Chunk, type Credentials, replayEachAs, setprivArgs } from '../helpers/raw-client.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { spawnUtmpsd, utmpsdArgs } from '../helpers/utmpsd.js';

const GLIBC_RECORD = 384;
const UTMP_GID = Number(spawnSync('getent', ['group', 'utmp'], { encoding: 'utf8' }).stdout.split(':')[2]);

/** Everyone who is not root, as the daemons see them. The test daemons run as root, gid 0. */
const REFUSED: Record<string, Credentials> = {
  nobody: { uid: 65534, gid: 65534 },
  'a member of the group utmp': { uid: 65534, gid: UTMP_GID, groups: [UTMP_GID] },
  "a peer with the daemon's group (it may write utmp)": { uid: 65534, gid: 0 },
};

/** A read request of PROTOCOL-EXTENSIONS.md, by hand: flags, limit, since, until, user, line. */
function readRequest(flags: number, limit = 0): string {
  const body = Buffer.alloc(85);
  body[0] = flags;
  body.writeUInt32BE(limit, 1);
  body.writeBigInt64BE(-(1n << 63n), 5);
  body.writeBigInt64BE((1n << 63n) - 1n, 13);
  return `52${body.toString('hex')}`;
}

/** A failed login as login(1) and sshd write it: LOGIN_PROCESS with the name typed. */
function failed(user: string, line: string, tvSec: number): Buffer {
  return record({ type: 6, user, line, id: '', host: '203.0.113.7', tvSec });
}

const REQUESTS: Record<string, string> = {
  'append of a failed login': `2b${failed('mallory', 'ssh:notty', 1_700_000_100).toString('hex')}`,
  'history read': readRequest(0),
  'newest-first read of one record': readRequest(1, 1),
  'follow read': readRequest(2),
  'live-only read': readRequest(6),
};

/** What each refused peer saw for each request. */
async function refusedConversations(socket: string): Promise<Record<string, Chunk[]>> {
  const seen: Record<string, Chunk[]> = {};
  const requests = Object.entries(REQUESTS);
  for (const [who, creds] of Object.entries(REFUSED)) {
    // One connection per request, all from one process running as `who`.
    const plans = requests.map(([, hex]): Chunk[] => [
      { dir: 'C>S', hex },
      { dir: 'S>C', hex: '01' },
      { dir: 'S>C', event: 'EOF' },
    ]);
    const seens = await replayEachAs(creds, socket, plans);
    requests.forEach(([what], i) => (seen[`${who}: ${what}`] = seens[i]));
  }
  return seen;
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: '/', env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const UTMPS_WRITE = join(BIN, 'utmps-write');

async function rootRecords(socket: string): Promise<{ user: string; line: string; live: boolean }[]> {
  const out = [];
  for await (const { record: r, live } of readBtmp({ path: socket })) out.push({ user: r.entry.user, line: r.entry.line, live });
  return out;
}

function mode(path: string): string {
  return `0${(statSync(path).mode & 0o777).toString(8)}`;
}

for (const kind of TRANSPORTS) {
  describe(`btmp is root's alone (${kind})`, () => {
    let d: Daemons;
    let refusedBefore: Record<string, Chunk[]>;

    before(async () => {
      // glibc layout and --file-mode 0644: every other file the daemons create is 0644.
      d = await startDaemons(kind, { format: 'glibc', extra: ['--file-mode', '0644'] });
      await chmod(d.dir, 0o755); // the refused peers must reach the socket
    });

    after(async () => {
      await d?.stop();
    });

    test('before any record: nobody, a utmp group member and the daemon-group peer get 01 (EPERM) and EOF for every append and read; nothing is created or written', async () => {
      refusedBefore = await refusedConversations(d.btmpSocket);
      for (const [name, seen] of Object.entries(refusedBefore)) {
        const hex = REQUESTS[name.slice(name.indexOf(': ') + 2)];
        assert.deepEqual(
          seen,
          [
            { dir: 'C>S', hex },
            { dir: 'S>C', hex: '01' },
            { dir: 'S>C', event: 'EOF' },
          ],
          name,
        );
      }
      if (kind === 'ucspi') assert.ok(!existsSync(d.btmpFile), 'utmps-btmpd opened nothing for a refused peer');
      else assert.equal(statSync(d.btmpFile).size, 0, 'utmpsd wrote nothing');
    });

    test('the same peers cannot append with utmps-write -b (exit 111, EPERM), while the daemon-group peer may still write utmp', async () => {
      for (const [who, creds] of Object.entries(REFUSED)) {
        const out = await run('setpriv', [...setprivArgs(creds), process.execPath, UTMPS_WRITE, '-b', '-B', d.btmpSocket, '-l', 'nobody', 'f1', 'LOGIN_PROCESS', 'ssh:notty']);
        assert.equal(out.code, 111, `${who}: ${out.stderr}`);
        assert.equal(out.stderr, `utmps-write: fatal: unable to write btmp entry via btmpd at ${d.btmpSocket}: Operation not permitted\n`, who);
      }
      const utmp = await run('setpriv', [...setprivArgs(REFUSED["a peer with the daemon's group (it may write utmp)"]), process.execPath, UTMPS_WRITE, '-u', '-U', d.utmpSocket, '-l', 'nobody', 'g1', 'USER_PROCESS', 'pts/3']);
      assert.equal(utmp.code, 0, `the group is privileged for utmp: ${utmp.stderr}`);
      if (kind === 'ucspi') assert.ok(!existsSync(d.btmpFile));
      else assert.equal(statSync(d.btmpFile).size, 0);
    });

    test('root appends with utmps-write -b through $UTMPS_BTMPD_SOCKET and reads back; btmp is 0600 beside a 0644 wtmp; util-linux lastb reads it', async () => {
      const env = { ...process.env, UTMPS_BTMPD_SOCKET: d.btmpSocket };
      for (const [user, line] of [
        ['baduser', 'ssh:notty'],
        ['admin', 'tty2'],
      ]) {
        const out = await run(process.execPath, [UTMPS_WRITE, '-b', '-l', user, '-h', '198.51.100.4', 'x1', 'LOGIN_PROCESS', line], env);
        assert.equal(out.code, 0, out.stderr);
        assert.equal(out.stderr, '');
      }
      const wtmp = await run(process.execPath, [UTMPS_WRITE, '-w', '-W', d.wtmpSocket, '-l', 'someone', 'w1', 'USER_PROCESS', 'pts/1']);
      assert.equal(wtmp.code, 0, wtmp.stderr);
      assert.equal(mode(d.btmpFile), '0600');
      assert.equal(mode(d.wtmpFile), '0644', 'the other log took the 0644 the options ask for');
      assert.equal(statSync(d.btmpFile).size, 2 * GLIBC_RECORD);
      assert.deepEqual(await rootRecords(d.btmpSocket), [
        { user: 'baduser', line: 'ssh:notty', live: false },
        { user: 'admin', line: 'tty2', live: false },
      ]);
      const lastb = spawnSync('lastb', ['-f', d.btmpFile, '-w'], { encoding: 'utf8' });
      assert.equal(lastb.status, 0, lastb.stderr);
      const users = lastb.stdout.split('\n').filter((l) => /^\S/.test(l) && !l.startsWith('btmp begins')).map((l) => l.split(/\s+/).slice(0, 2));
      assert.deepEqual(users, [
        ['admin', 'tty2'],
        ['baduser', 'ssh:notty'],
      ]);
    });

    test('with records in btmp the refused peers see exactly the bytes they saw when it was empty or missing', async () => {
      const before = readFileSync(d.btmpFile);
      assert.deepEqual(await refusedConversations(d.btmpSocket), refusedBefore);
      assert.ok(readFileSync(d.btmpFile).equals(before), 'btmp unchanged');
    });

    test('root follows btmp: a failed login appended while it follows arrives live, once', async () => {
      const stop = new AbortController();
      const got: { user: string; live: boolean }[] = [];
      let appended: Promise<Outcome> | null = null;
      try {
        for await (const { record: r, live } of readBtmp({ path: d.btmpSocket, follow: true, signal: stop.signal })) {
          got.push({ user: r.entry.user, live });
          // The history is the two records above; then the append must come live.
          if (got.length === 2) appended = run(process.execPath, [UTMPS_WRITE, '-b', '-B', d.btmpSocket, '-l', 'eve', 'x2', 'LOGIN_PROCESS', 'ssh:notty']);
          if (live) break;
        }
      } finally {
        stop.abort();
      }
      assert.equal((await appended!).code, 0);
      assert.deepEqual(got, [
        { user: 'baduser', live: false },
        { user: 'admin', live: false },
        { user: 'eve', live: true },
      ]);
    });

    test('rotation: once btmp is renamed away, the next append creates a fresh btmp, 0600, and the old file keeps its records', async () => {
      const old = join(d.dir, 'btmp.1');
      renameSync(d.btmpFile, old);
      const out = await run(process.execPath, [UTMPS_WRITE, '-b', '-B', d.btmpSocket, '-l', 'trudy', 'x3', 'LOGIN_PROCESS', 'tty3']);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(mode(d.btmpFile), '0600');
      assert.deepEqual(await rootRecords(d.btmpSocket), [{ user: 'trudy', line: 'tty3', live: false }]);
      assert.equal(statSync(old).size, 3 * GLIBC_RECORD);
    });

    test("updwtmpx sends a record for a file named btmp to btmpd ($UTMPS_BTMPD_SOCKET), any other file to wtmpd", async () => {
      const saved = { b: process.env.UTMPS_BTMPD_SOCKET, w: process.env.UTMPS_WTMPD_SOCKET };
      process.env.UTMPS_BTMPD_SOCKET = d.btmpSocket;
      process.env.UTMPS_WTMPD_SOCKET = d.wtmpSocket;
      // Paths that are never opened: only the name counts.
      const elsewhere = await mkdtemp('/tmp/btn-');
      try {
        const wtmpBefore = statSync(d.wtmpFile).size;
        await updwtmpx(join(elsewhere, 'btmp'), { type: 'LOGIN_PROCESS', user: 'oscar', line: 'tty4', id: '', pid: 1 });
        await updwtmpx(join(elsewhere, 'wtmp'), { type: 'USER_PROCESS', user: 'peggy', line: 'tty5', id: 'p5', pid: 1 });
        assert.deepEqual((await rootRecords(d.btmpSocket)).map((r) => r.user), ['trudy', 'oscar']);
        const wtmp = readFileSync(d.wtmpFile);
        assert.equal(wtmp.length, wtmpBefore + GLIBC_RECORD, 'one record went to wtmp');
        assert.ok(wtmp.subarray(wtmpBefore).includes(Buffer.from('peggy')));
        assert.ok(!wtmp.includes(Buffer.from('oscar')), 'the failed login stayed out of wtmp');
      } finally {
        await rm(elsewhere, { recursive: true, force: true });
        for (const [key, value] of [
          ['UTMPS_BTMPD_SOCKET', saved.b],
          ['UTMPS_WTMPD_SOCKET', saved.w],
        ] as const) {
          if (value === undefined) delete process.env[key];
          else process.env[key] = value;
        }
      }
    });
  });
}

describe('utmpsd btmp options', () => {
  test('--no-btmp: no btmp socket, no btmp file, and the ready line names two services', async () => {
    const dir = await makeDir('bo-');
    try {
      const { child, stderr } = await spawnUtmpsd([...utmpsdArgs(dir), '--no-btmp', '-v']);
      try {
        assert.ok(existsSync(join(dir, '.wtmpd-socket')));
        assert.ok(!existsSync(join(dir, '.btmpd-socket')));
        assert.ok(!existsSync(join(dir, 'btmp')));
        assert.match(stderr(), /ready: utmp service on \S+, wtmp service on \S+ \(/);
        assert.doesNotMatch(stderr(), /btmp/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an existing btmp keeps its mode (0644 is never changed, let alone widened) and utmpsd warns that others can read it', async () => {
    const dir = await makeDir('bo-');
    try {
      writeFileSync(join(dir, 'btmp'), '', { mode: 0o644 });
      await chmod(join(dir, 'btmp'), 0o644);
      const { child, stderr } = await spawnUtmpsd(utmpsdArgs(dir));
      try {
        assert.equal(mode(join(dir, 'btmp')), '0644');
        assert.match(stderr(), /btmp is mode 0644: users other than its owner can read failed logins/);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("--btmpd-socket '' is a usage error pointing at --no-btmp", () => {
    const r = spawnSync(process.execPath, [join(BIN, 'utmpsd'), '--state-dir', '/nonexistent', '--btmpd-socket', ''], { encoding: 'utf8' });
    assert.equal(r.status, 100);
    assert.match(r.stderr, /^utmpsd: fatal: --btmpd-socket must not be empty \(--no-btmp turns btmp off\)/);
  });
});
