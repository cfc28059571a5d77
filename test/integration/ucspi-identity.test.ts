// Where the UCSPI daemons get the peer's identity: the superserver's environment, else the
// Unix socket on stdin (inetd, systemd Accept=yes), else nowhere: exit 100.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../helpers/paths.js';

const UTMPD = join(BIN, 'utmps-utmpd');

function withoutIpcEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.IPCREMOTEEUID;
  delete env.IPCREMOTEEGID;
  return env;
}

test('no IPCREMOTEEUID and stdin not a socket: exit 100 with a clear message', () => {
  const dir = mkdtempSync('/tmp/ui-');
  try {
    const r = spawnSync(UTMPD, [], { cwd: dir, env: withoutIpcEnv(), stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 100);
    assert.match(r.stderr, /^utmps-utmpd: fatal: unable to identify the client: IPCREMOTEEUID\/IPCREMOTEEGID are not set and stdin is not a Unix socket/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed IPCREMOTEEUID is a usage error', () => {
  const dir = mkdtempSync('/tmp/ui-');
  try {
    const env = { ...process.env, IPCREMOTEEUID: 'root', IPCREMOTEEGID: '0' };
    const r = spawnSync(UTMPD, [], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 100);
    assert.match(r.stderr, /IPCREMOTEEUID is not a valid id: 'root'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no IPCREMOTEEUID but stdin is a Unix socket: the socket says who the peer is', async () => {
  const dir = mkdtempSync('/tmp/ui-');
  try {
    // Node gives a child Unix socketpairs for 'pipe' stdio: the peer is this (root) process,
    // so a putline is allowed and answered 00, and a rewind too.
    const child = spawn(UTMPD, [], { cwd: dir, env: withoutIpcEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    const record = Buffer.alloc(400);
    record.writeInt16LE(7, 0);
    record.write('pts/9', 8);
    record.write('ts/9', 40);
    record.write('root', 44);
    let out = Buffer.alloc(0);
    child.stdout.on('data', (c: Buffer) => (out = Buffer.concat([out, c])));
    child.stdin.write(Buffer.concat([Buffer.of(0x45), record, Buffer.of(0x72)]));
    child.stdin.end();
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.deepEqual([...out], [0, 0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
