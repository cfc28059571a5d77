// The README's quick start, as a new user runs it: the run command starts the server and
// says where its sockets are; the next lines write a login and read it back.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/paths.js';

function codeBlocks(markdown: string): string[][] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1].split('\n').filter((l) => l.trim() !== ''));
}

test("the README's run command starts utmpsd, and its next lines write and read a login", async () => {
  const stateDir = join(ROOT, '.utmps');
  // The quick start runs in this checkout, as a user runs it: a server already there (or
  // its leftovers) is in the way, and this test must then fail, never skip.
  assert.ok(
    !existsSync(join(stateDir, '.utmpd-socket')),
    `${stateDir} has a socket: stop the server from \`npm start\` (or remove ${stateDir}) and run this test again`,
  );
  const blocks = codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const runLine = blocks[0].find((l) => l.includes('npm start'));
  assert.equal(runLine, 'npm install && npm start', 'the quick start sets up and runs the main job');
  assert.deepEqual(blocks[1], ['npm test'], 'the second command runs the tests');
  // npm install has run (we are its test); start the main job exactly as `npm start` does.
  const server = spawn('npm', ['start'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr.on('data', (c: Buffer) => (log += c.toString()));
  server.stdout.on('data', (c: Buffer) => (log += c.toString()));
  try {
    for (let i = 0; i < 400 && !log.includes('ready:'); i++) await new Promise((r) => setTimeout(r, 25));
    assert.match(log, /utmpsd: info: ready: utmp service on .*\.utmps\/\.utmpd-socket, wtmp service on .*\.utmps\/\.wtmpd-socket/);
    // The next block, without the endless --follow line, as one shell script.
    const script = blocks[2].filter((l) => !l.includes('--follow')).join('\n');
    const r = spawnSync('bash', ['-e', '-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.ok(lines.some((l) => /^root\s+pts\/1\s+.*\(example\.net\)$/.test(l)), `who shows the login:\n${r.stdout}`);
    // "gone - no logout" where the session has no audit login uid, as util-linux last says.
    assert.ok(
      lines.some((l) => /^root\s+pts\/1\s+example\.net\s+.*(still logged in|gone - no logout)$/.test(l)),
      `last shows it:\n${r.stdout}`,
    );
  } finally {
    const exited = new Promise((r) => server.once('exit', r));
    process.kill(-server.pid!, 'SIGINT');
    await exited;
    rmSync(stateDir, { recursive: true, force: true });
  }
});
