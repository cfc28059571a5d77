// utmps-write, spawned against fake daemons. The 13 command lines that made
// test/vectors/varied-wtmp.bin must send exactly those records.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { decodeEntry } from '../../src/record/index.js';
import { cat, toHex } from '../helpers/bytes.js';
import { FakeServer, type Script, status } from '../helpers/fake-server.js';
import { BIN, VECTORS } from '../helpers/paths.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(BIN, 'utmps-write'), ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function start(t: { after(fn: () => Promise<void>): void }, script: Script): Promise<FakeServer> {
  const server = await FakeServer.start(script);
  t.after(() => server.close());
  return server;
}

const wtmpd = (answer = 0): Script => () => ({ bytes: status(answer), close: true });

/** Splits a shell command line: words, with '...' quoting only (all the file uses). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}

const COMMANDS = readFileSync(join(VECTORS, 'varied-wtmp.commands.txt'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('utmps-write '))
  .map((l) => words(l).slice(1));
const VARIED = readFileSync(join(VECTORS, 'varied-wtmp.bin'));

describe('the varied-wtmp command lines send the varied-wtmp.bin records byte for byte', () => {
  assert.equal(COMMANDS.length, 13);
  assert.equal(VARIED.length, 13 * 400);
  COMMANDS.forEach((args, i) => {
    test(`record ${i}: ${args.slice(4).join(' ').slice(0, 60)}`, async (t) => {
      const server = await start(t, wtmpd());
      const result = await run(args.map((a) => (a === 'SOCKET' ? server.path : a)));
      assert.equal(result.stderr, '');
      assert.equal(result.code, 0);
      assert.equal(toHex(server.received[0]), toHex(cat('+', VARIED.subarray(i * 400, (i + 1) * 400))));
    });
  });
});

test('without -T the time is now in UTC (not 37 s ahead), user and pid default', async (t) => {
  const server = await start(t, wtmpd());
  const before = Date.now();
  const result = await run(['-w', '-W', server.path, 'ts/9', 'user_process', 'pts/9']);
  const after = Date.now();
  assert.equal(result.code, 0, result.stderr);
  const entry = decodeEntry(server.received[0].subarray(1));
  const ms = Number(entry.tvSec) * 1000 + entry.tvUsec / 1000;
  // Generous: the window is the whole spawn, plus a second of slack; TAI would be +37 s.
  assert.ok(ms >= before - 1000 && ms <= after + 1000, `record time ${ms} outside [${before}, ${after}]`);
  assert.equal(entry.user, userInfo().username);
  assert.equal(entry.typeName, 'USER_PROCESS');
  assert.ok(entry.pid > 0 && entry.pid !== process.pid);
});

test('-u writes the record to utmpd with one putline, -u -w to both', async (t) => {
  const utmpd = await start(t, () => status(0));
  const wtmp = await start(t, wtmpd());
  const args = ['-u', '-w', '-U', utmpd.path, '-W', wtmp.path, '-T', '@400000006553f10000000000', '-p', '5', '-l', 'x', 'si', 'INIT_PROCESS', 'console'];
  const result = await run(args);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(utmpd.requests.map((r) => r.command), ['E']);
  assert.deepEqual(utmpd.requests[0].bytes.subarray(1), wtmp.requests[0].bytes.subarray(1));
});

test('the socket paths come from the environment when no -U/-W is given', async (t) => {
  const utmpd = await start(t, () => status(0));
  const wtmp = await start(t, wtmpd());
  const env = { ...process.env, UTMPS_UTMPD_SOCKET: utmpd.path, UTMPS_WTMPD_SOCKET: wtmp.path };
  const result = await run(['-uw', '-l', 'x', 'ts/1', 'DEAD_PROCESS', 'pts/1'], env);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(utmpd.requests.length, 1);
  assert.equal(wtmp.requests.length, 1);
});

test('EPERM from utmpd: exit 111 and the upstream message', async (t) => {
  const utmpd = await start(t, () => status(1));
  const result = await run(['-u', '-U', utmpd.path, '-l', 'nobody', 'n1', 'USER_PROCESS', 'pts/5']);
  assert.equal(result.code, 111);
  assert.equal(result.stderr, 'utmps-write: fatal: unable to write utmp entry: Operation not permitted\n');
});

test('EPERM from wtmpd: exit 111 and the upstream message with the socket path', async (t) => {
  const wtmp = await start(t, wtmpd(1));
  const result = await run(['-w', '-W', wtmp.path, '-l', 'root', 'n1', 'USER_PROCESS', 'pts/5']);
  assert.equal(result.code, 111);
  assert.equal(result.stderr, `utmps-write: fatal: unable to write wtmp entry via wtmpd at ${wtmp.path}: Operation not permitted\n`);
});

test('a daemon that never answers: -t bounds the wait, exit 111', async (t) => {
  const wtmp = await start(t, () => 'hang');
  const result = await run(['-w', '-W', wtmp.path, '-t', '100', '-l', 'x', 'n1', 'USER_PROCESS', 'pts/5']);
  assert.equal(result.code, 111);
  assert.match(result.stderr, /^utmps-write: fatal: unable to write wtmp entry via wtmpd at .*: Connection timed out\n$/);
});

test('no daemon at the path: exit 111', async () => {
  const result = await run(['-u', '-U', '/tmp/no/such/socket', '-l', 'x', 'n1', 'USER_PROCESS', 'pts/5']);
  assert.equal(result.code, 111);
  assert.equal(result.stderr, 'utmps-write: fatal: unable to write utmp entry: No such file or directory\n');
});

describe('usage errors exit 100', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['no -u nor -w', ['id', 'USER_PROCESS', 'pts/0'], /^utmps-write: usage: utmps-write \[ -u \]/],
    ['too few arguments', ['-w', 'id', 'USER_PROCESS'], /usage:/],
    ['too many arguments', ['-w', 'id', 'USER_PROCESS', 'pts/0', 'extra'], /usage:/],
    ['an unknown option', ['-w', '-x', 'id', 'USER_PROCESS', 'pts/0'], /usage:/],
    ['a long option', ['--wtmp', 'id', 'USER_PROCESS', 'pts/0'], /usage:/],
    ['an option without its value', ['-w', 'id', 'USER_PROCESS', 'pts/0', '-l'], /usage:/],
    ['an unknown type', ['-w', 'id', 'USER', 'pts/0'], /^utmps-write: fatal: invalid type: USER\n$/],
    ['a bad IP address', ['-w', '-i', '192.0.2.300', 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid IP address: 192\.0\.2\.300\n$/],
    ['a user name of 33 bytes', ['-w', '-l', 'u'.repeat(33), 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid user: /],
    ['an id of 5 bytes', ['-w', '-l', 'x', 'ts/10', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid id: /],
    ['a line of 33 bytes', ['-w', '-l', 'x', 'id', 'USER_PROCESS', 'p'.repeat(33)], /^utmps-write: fatal: invalid line: /],
    ['a host of 257 bytes', ['-w', '-l', 'x', '-h', 'h'.repeat(257), 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid host: /],
    ['a short TAI64N label', ['-w', '-T', '@4000000065', 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid TAI64N label: /],
    ['a label without @', ['-w', '-T', '400000006553f10000000000', 'id', 'USER_PROCESS', 'pts/0'], /invalid TAI64N label/],
    ['nanoseconds past 999999999', ['-w', '-T', '@400000006553f1003b9aca00', 'id', 'USER_PROCESS', 'pts/0'], /invalid TAI64N label/],
    ['a negative pid', ['-w', '-p', '-1', 'id', 'USER_PROCESS', 'pts/0'], /usage:|invalid pid/],
    ['a pid that is not a number', ['-w', '-p', '12x', 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid pid: 12x\n$/],
    ['a bad timeout', ['-w', '-t', 'soon', 'id', 'USER_PROCESS', 'pts/0'], /^utmps-write: fatal: invalid timeout: soon\n$/],
  ];
  for (const [what, args, message] of cases) {
    test(what, async () => {
      const result = await run(['-W', '/tmp/never/used', ...args]);
      assert.equal(result.code, 100, result.stderr);
      assert.match(result.stderr, message);
    });
  }
});
