// utmpsd as a server: limits, graceful stop under load, rotation, stale sockets,
// privilege drop and readiness. The protocol itself is tested over both transports by
// the other integration tests.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { buildRecord, GLIBC_LAYOUT, RECORD_SIZE } from '../../src/record/index.js';
import { makeDir } from '../helpers/daemons.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { firstLine, stop } from '../helpers/support.js';
import { spawnUtmpsd, startUtmpsd, UTMPSD, utmpsdArgs } from '../helpers/utmpsd.js';

const HOLD = join(ROOT, 'dist', 'test', 'helpers', 'hold-connections.js');
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function records(path: string): Buffer[] {
  const data = readFileSync(path);
  assert.equal(data.length % RECORD_SIZE, 0, `${path} holds only whole records`);
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += RECORD_SIZE) out.push(data.subarray(i, i + RECORD_SIZE));
  return out;
}

function userRecord(i: number, user = 'root'): Buffer {
  return buildRecord({ type: 'USER_PROCESS', pid: 1000 + i, line: `pts/${i}`, id: i.toString(36).slice(-4), user, host: `h${i}`, tvSec: 1_700_000_000 + i });
}

async function holdAs(prefix: string[], socket: string, n: number) {
  const child = spawn(prefix[0], [...prefix.slice(1), process.execPath, HOLD, socket, String(n)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const outcomes = JSON.parse(await firstLine(child)) as string[];
  return { outcomes, release: () => stop(child) };
}

describe('utmpsd', () => {
  test('connection limits refuse exactly the excess, per uid and in total', async () => {
    const d = await startUtmpsd({ extra: ['--max-connections', '6', '--max-per-uid', '3'] });
    try {
      chmodSync(d.dir, 0o755);
      const nobody = await holdAs(NOBODY, d.utmpSocket, 5);
      assert.deepEqual(nobody.outcomes, ['ok', 'ok', 'ok', 'closed', 'closed']);
      // Root is exempt from the per-uid cap but not from the total: 3 + 3 = 6.
      const root = await holdAs(['env'], d.utmpSocket, 4);
      assert.deepEqual(root.outcomes, ['ok', 'ok', 'ok', 'closed']);
      await nobody.release();
      // Freed slots are usable again, and the refusals were logged with the uid.
      const again = await holdAs(['env'], d.utmpSocket, 2);
      assert.deepEqual(again.outcomes, ['ok', 'ok']);
      await Promise.all([root.release(), again.release()]);
      assert.match(d.stderr(), /refused a connection from uid 65534 .*maximum of 3 connections/);
      assert.match(d.stderr(), /refused a connection from uid 0 .*maximum of 6 connections/);
    } finally {
      await d.stop();
    }
  });

  test('SIGTERM under load: exit 0 and every acknowledged record is on disk', async () => {
    const d = await startUtmpsd();
    const ackedWtmp: Buffer[] = [];
    const ackedUtmp = new Map<string, Buffer>();
    let stopping = false;
    const wtmpWorker = async (w: number): Promise<void> => {
      for (let i = 0; !stopping || i % 7 !== 0; i++) {
        const rec = userRecord(w * 100_000 + i);
        try {
          await appendWtmp(rec, { path: d.wtmpSocket, timeoutMs: 5000 });
          ackedWtmp.push(rec);
        } catch {
          return; // refused or closed: the server is going away
        }
      }
    };
    const utmpWorker = async (w: number): Promise<void> => {
      let session: UtmpSession;
      try {
        session = await UtmpSession.connect({ path: d.utmpSocket, timeoutMs: 5000 });
      } catch {
        return;
      }
      try {
        for (let i = 0; ; i++) {
          const rec = userRecord(w * 100_000 + (i % 50));
          await session.put(rec);
          ackedUtmp.set(rec.subarray(40, 44).toString('hex'), rec);
        }
      } catch {
        // the server ended our session after answering the request in flight
      } finally {
        session.close();
      }
    };
    const workers = [0, 1, 2, 3].map(wtmpWorker).concat([4, 5, 6, 7].map(utmpWorker));
    while (ackedWtmp.length < 40 || ackedUtmp.size < 40) await new Promise((r) => setTimeout(r, 5));
    stopping = true;
    const code = await d.signal('SIGTERM');
    await Promise.all(workers);
    try {
      assert.equal(code, 0);
      const onDisk = new Set(records(d.wtmpFile).map((r) => r.toString('hex')));
      for (const rec of ackedWtmp) assert.ok(onDisk.has(rec.toString('hex')), 'an acknowledged wtmp record is missing');
      const utmp = new Map(records(d.utmpFile).map((r) => [r.subarray(40, 44).toString('hex'), r]));
      for (const [id, rec] of ackedUtmp) assert.ok(utmp.get(id)?.equals(rec), `utmp entry ${id} lost its acknowledged value`);
      assert.ok(!existsSync(d.utmpSocket) && !existsSync(d.wtmpSocket), 'sockets removed on exit');
    } finally {
      await rm(d.dir, { recursive: true, force: true });
    }
  });

  test('log rotation: a renamed wtmp, and SIGHUP, make the next append go to a fresh file', async () => {
    const d = await startUtmpsd();
    try {
      await appendWtmp(userRecord(1), { path: d.wtmpSocket });
      renameSync(d.wtmpFile, `${d.wtmpFile}.1`);
      await appendWtmp(userRecord(2), { path: d.wtmpSocket });
      assert.deepEqual(records(`${d.wtmpFile}.1`), [userRecord(1)]);
      assert.deepEqual(records(d.wtmpFile), [userRecord(2)]);
      // SIGHUP: reopen even though nothing looks different to a stat.
      renameSync(d.wtmpFile, `${d.wtmpFile}.2`);
      d.child.kill('SIGHUP');
      await waitFor(() => d.stderr().includes('SIGHUP'));
      await appendWtmp(userRecord(3), { path: d.wtmpSocket });
      assert.deepEqual(records(`${d.wtmpFile}.2`), [userRecord(2)]);
      assert.deepEqual(records(d.wtmpFile), [userRecord(3)]);
    } finally {
      await d.stop();
    }
  });

  test('a stale socket is replaced; a live one is refused with a clear error', async () => {
    const dir = await makeDir('us-');
    try {
      const first = await spawnUtmpsd(utmpsdArgs(dir));
      const second = spawnSync(process.execPath, [UTMPSD, ...utmpsdArgs(dir).slice(0, 2)], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(second.status, 111);
      assert.match(second.stderr, /utmpsd: fatal: unable to start: another server is already listening on .*\.utmpd-socket/);
      const gone = once(first.child, 'exit');
      first.child.kill('SIGKILL');
      await gone;
      assert.ok(existsSync(join(dir, '.utmpd-socket')), 'a killed server leaves its socket behind');
      const third = await spawnUtmpsd(utmpsdArgs(dir));
      await appendWtmp(userRecord(4), { path: join(dir, '.wtmpd-socket') });
      assert.equal(records(join(dir, 'wtmp')).length, 1);
      const exited = once(third.child, 'exit');
      third.child.kill('SIGTERM');
      assert.deepEqual((await exited)[0], 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('--user: no root privilege left after start-up, files handed over, group writers allowed', async () => {
    const d = await startUtmpsd({ extra: ['--user', 'nobody', '--group', '43'] });
    try {
      chmodSync(d.dir, 0o755);
      const status = readFileSync(`/proc/${d.child.pid}/status`, 'utf8');
      const field = (name: string): string => status.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))![1].trim();
      assert.deepEqual(field('Uid').split(/\s+/), ['65534', '65534', '65534', '65534']);
      assert.deepEqual(field('Gid').split(/\s+/), ['43', '43', '43', '43']);
      assert.equal(field('Groups'), '43');
      for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.match(field(cap), /^0+$/, `${cap} is empty`);
      for (const file of [d.utmpFile, d.wtmpFile]) {
        const st = statSync(file);
        assert.deepEqual([st.uid, st.gid], [65534, 43], `${file} is owned by the service user`);
      }
      const write = (prefix: string[], line: string) =>
        spawnSync(prefix[0], [...prefix.slice(1), join(BIN, 'utmps-write'), '-u', '-U', d.utmpSocket, '-l', 'x', line.slice(-2), 'USER_PROCESS', line], {
          encoding: 'utf8',
        });
      assert.equal(write(['setpriv', '--reuid=65534', '--regid=43', '--clear-groups'], 'pts/43').status, 0);
      const other = write(NOBODY, 'pts/44');
      assert.equal(other.status, 111);
      assert.match(other.stderr, /Operation not permitted/);
      assert.equal(write(['env'], 'pts/45').status, 0, 'root may write');
      const session = await UtmpSession.connect({ path: d.utmpSocket });
      const lines = (await session.readAll()).map((r) => r.entry.line);
      await session.close();
      assert.deepEqual(lines, ['pts/43', 'pts/45']);
    } finally {
      await d.stop();
    }
  });

  test('sd_notify: READY=1 once listening, STOPPING=1 on SIGTERM', async () => {
    const dir = await makeDir('us-');
    const notifySocket = join(dir, 'notify');
    const listener = spawn('python3', [
      '-c',
      [
        'import socket, sys',
        's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
        's.bind(sys.argv[1])',
        "print('bound', flush=True)",
        'for _ in range(2):',
        "    print(s.recv(4096).decode().replace(chr(10), ' '), flush=True)",
      ].join('\n'),
      notifySocket,
    ]);
    try {
      let out = '';
      listener.stdout.on('data', (c: Buffer) => (out += c.toString()));
      await waitFor(() => out.includes('bound'));
      const server = await spawnUtmpsd(utmpsdArgs(dir), { env: { ...process.env, NOTIFY_SOCKET: notifySocket } });
      await waitFor(() => out.includes('READY=1'));
      assert.match(out, new RegExp(`READY=1 MAINPID=${server.child.pid}`));
      const exited = once(server.child, 'exit');
      server.child.kill('SIGTERM');
      assert.equal((await exited)[0], 0);
      await waitFor(() => out.includes('STOPPING=1'));
    } finally {
      await stop(listener);
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses a wtmp in the other layout instead of corrupting it', async () => {
    const dir = await makeDir('us-');
    try {
      const glibc = Buffer.concat([1, 2, 3].map((i) => buildRecord({ type: 'USER_PROCESS', user: 'u', line: `pts/${i}`, tvSec: 1_700_000_000 + i }, GLIBC_LAYOUT)));
      writeFileSync(join(dir, 'wtmp'), glibc);
      const r = spawnSync(process.execPath, [UTMPSD, '--state-dir', dir], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 111);
      assert.match(r.stderr, /wtmp looks like a glibc-layout file .*use --format glibc/);
      assert.ok(readFileSync(join(dir, 'wtmp')).equals(glibc), 'the file is untouched');
      const ok = await spawnUtmpsd([...utmpsdArgs(dir), '--format', 'glibc']);
      const exited = once(ok.child, 'exit');
      ok.child.kill('SIGTERM');
      assert.equal((await exited)[0], 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad options are usage errors (exit 100) with a clear message', () => {
    for (const args of [['--format', 'bsd'], ['--max-connections', '0'], ['--timeout', 'soon'], ['--bogus']]) {
      const r = spawnSync(process.execPath, [UTMPSD, '--state-dir', '/nonexistent/x', ...args], { encoding: 'utf8' });
      assert.equal(r.status, 100, args.join(' '));
      assert.match(r.stderr, /^utmpsd: fatal: /);
    }
  });
});

async function waitFor(cond: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

