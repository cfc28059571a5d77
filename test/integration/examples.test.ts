// docs/CLIENT.md's examples (examples/client/*.mjs), run as a reader would run them, against
// a real utmpsd. They import 'utmps-ts' by name (the package's self-reference).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/paths.js';
import { setprivArgs } from '../helpers/raw-client.js';
import { startUtmpsd, type Utmpsd } from '../helpers/utmpsd.js';

const EXAMPLES = join(ROOT, 'examples', 'client');
const NOBODY = { uid: 65534, gid: 65534 };

interface Run {
  child: ChildProcess;
  output: () => { out: string; err: string };
  done: Promise<{ code: number | null; out: string; err: string }>;
}

function run(server: Utmpsd, example: string, args: string[] = [], as?: { uid: number; gid: number }): Run {
  const argv = [join(EXAMPLES, example), ...args];
  const [cmd, ...rest] = as ? ['setpriv', ...setprivArgs(as), process.execPath, ...argv] : [process.execPath, ...argv];
  const child = spawn(cmd, rest, {
    cwd: ROOT,
    env: { ...process.env, UTMPS_UTMPD_SOCKET: server.utmpSocket, UTMPS_WTMPD_SOCKET: server.wtmpSocket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  // Generous bound: an example that hangs is killed, and then fails its assertions.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const done = once(child, 'exit').then(([code]) => {
    clearTimeout(killer);
    return { code: code as number | null, out, err };
  });
  return { child, output: () => ({ out, err }), done };
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`gave up waiting for ${what}`);
}

test('the client examples: terminal server, who, last, follow, permissions, deadlines', async (t) => {
  const server = await startUtmpsd();
  t.after(() => server.stop());
  await chmod(server.dir, 0o755); // nobody must reach the sockets

  await t.test('following logins sees what the terminal server records; who shows live sessions', async () => {
    const follow = run(server, 'follow.mjs', ['4', '25']);
    await until('the follower to be listening', () => follow.output().err.includes('following'));
    // Each child runs 3 s: long enough for who to see both sessions.
    const terminals = run(server, 'terminal-server.mjs', ['2', 'sleep', '3']);
    let who = '';
    await until('who to show both sessions', async () => {
      who = (await run(server, 'who.mjs').done).out;
      return who.includes('web/1') && who.includes('web/2');
    });
    assert.match(who, /^root\s+web\/1\s+\d{4}-\d\d-\d\dT[\d:.]+Z \(client\.example\)$/m);
    const served = await terminals.done;
    assert.equal(served.code, 0, served.err);
    const pids = [...served.out.matchAll(/^login (web\/\d) id (w\d) pid (\d+)$/gm)].map((m) => [m[1], m[2], Number(m[3])] as const);
    assert.equal(pids.length, 2, served.out);
    assert.match(served.out, /^logout web\/1 pid \d+ exit 0$/m);

    // The records carry the children's pids, not the server's (login/logwtmp honour pid).
    const followed = await follow.done;
    assert.equal(followed.code, 0, followed.err);
    const records = followed.out.trim().split('\n').map((l) => JSON.parse(l) as { typeName: string; line: string; id: string; pid: number; user: string; time: string });
    assert.equal(records.length, 4, followed.out);
    for (const [line, id, pid] of pids) {
      const login = records.find((r) => r.typeName === 'USER_PROCESS' && r.line === line);
      const logout = records.find((r) => r.typeName === 'DEAD_PROCESS' && r.line === line);
      assert.deepEqual([login?.id, login?.pid, login?.user, logout?.pid], [id, pid, 'root', pid]);
      assert.match(login!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    }
    // Logged out: who shows nothing; last pairs each login with its logout.
    const after = await run(server, 'who.mjs', ['--json']).done;
    assert.deepEqual([after.code, after.out], [0, '']);
    const last = await run(server, 'last.mjs').done;
    assert.equal(last.code, 0, last.err);
    assert.match(last.out, /^root\s+web\/2\s+client\.example\s+\S+Z - \S+Z$/m);
    assert.match(last.out, /^root\s+web\/1\s+client\.example\s+\S+Z - \S+Z$/m);
  });

  await t.test('permissions: refusals name the rule', async () => {
    const r = await run(server, 'permissions.mjs', [], NOBODY).done;
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^utmp write: EPERM: .*utmp writes need root or the group the utmp daemon runs as/m);
    assert.match(r.out, /^wtmp record for root: EPERM: .*must name that user in ut_user/m);
    assert.match(r.out, /^wtmp record for nobody: /m);
  });

  await t.test('deadlines and closing', async () => {
    const r = await run(server, 'deadlines.mjs').done;
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), [
      'deadline: UtmpsError ETIMEDOUT: the deadline of 100 ms passed',
      'the session is closed after its deadline: true',
      'abort: AbortError ABORT_ERR',
      'closed: true',
    ]);
  });
});
