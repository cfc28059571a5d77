// utmps ship against real receivers: rsyslog (the Debian package, started here on
// 127.0.0.1 with imudp and imtcp only, writing to a temp file; it never touches /dev/log
// or /var/log), a journald-protocol datagram listener (python3), a TCP sink that goes
// away and comes back, and JSON lines on stdout.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { MESSAGE_IDS } from '../../src/format/ship.js';
import { buildRecord, convertRecord, type EntryInput, GLIBC_LAYOUT, UTMPS_LAYOUT } from '../../src/record/index.js';
import { appendWtmp } from '../../src/client/index.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { startUtmpsd } from '../helpers/utmpsd.js';
import { makeTempDir } from '../helpers/support.js';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function login(prefix: string, i: number): Buffer {
  return buildRecord({ type: 'USER_PROCESS', user: `${prefix}${i}`, line: `pts/${i % 500}`, id: `${i % 10000}`, pid: 1000 + i, host: 'client.example', tvSec: 1_700_000_000 + i });
}

function logins(prefix: string, from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = from; i < to; i++) parts.push(login(prefix, i));
  return Buffer.concat(parts);
}

/** A free port on 127.0.0.1 for both TCP and UDP, as far as one can tell without keeping it. */
async function freePort(): Promise<number> {
  for (;;) {
    const s = createServer();
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    const port = (s.address() as { port: number }).port;
    s.close();
    const u = createSocket('udp4');
    const ok = await new Promise<boolean>((resolve) => {
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => resolve(true));
    });
    u.close();
    if (ok) return port;
  }
}

interface Ship {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function ship(args: string[], env: NodeJS.ProcessEnv = {}): Ship {
  const child = spawn(join(BIN, 'utmps'), ['ship', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stderr: () => err, exited };
}

async function stopShip(s: Ship, signal: NodeJS.Signals): Promise<number | null> {
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  return s.exited;
}

describe('utmps ship to a real rsyslog', { skip: existsSync(RSYSLOGD) ? false : 'rsyslogd is not installed' }, () => {
  let dir = '';
  let remove = async (): Promise<void> => {};
  let rsyslog: ChildProcess | undefined;
  let udpPort = 0;
  let tcpPort = 0;
  const out = (): string => (existsSync(join(dir, 'out.log')) ? readFileSync(join(dir, 'out.log'), 'utf8') : '');

  before(async () => {
    ({ dir, remove } = await makeTempDir());
    udpPort = await freePort();
    tcpPort = await freePort();
    // Only network inputs: no imuxsock (/dev/log), no imklog; everything into one file, with
    // the structured data kept.
    writeFileSync(
      join(dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${dir}")`,
        'module(load="imudp")',
        'module(load="imtcp")',
        // A large receive buffer: a burst must not overflow it on a loaded machine.
        `input(type="imudp" address="127.0.0.1" port="${udpPort}" rcvbufSize="4m")`,
        `input(type="imtcp" address="127.0.0.1" port="${tcpPort}")`,
        'template(name="keep" type="string" string="%msgid% %structured-data% %msg%\\n")',
        `*.* action(type="omfile" file="${dir}/out.log" template="keep")`,
        '',
      ].join('\n'),
    );
    rsyslog = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Ready when TCP connects and a UDP probe has been filed.
    await until('rsyslog listening on TCP', () => false, 0).catch(() => undefined);
    for (let i = 0; ; i++) {
      const up = await new Promise<boolean>((resolve) => {
        const c: Socket = createConnection({ host: '127.0.0.1', port: tcpPort });
        c.once('connect', () => {
          c.destroy();
          resolve(true);
        });
        c.once('error', () => resolve(false));
      });
      if (up) break;
      if (i > 200) throw new Error('rsyslog did not listen');
      await sleep(25);
    }
    const u = createSocket('udp4');
    await until('rsyslog filing a UDP probe', () => {
      u.send('<14>1 - - probe - ready - probe', udpPort, '127.0.0.1');
      return out().includes('ready');
    });
    u.close();
  });

  after(async () => {
    if (rsyslog && rsyslog.exitCode === null) {
      rsyslog.kill('SIGTERM');
      await once(rsyslog, 'exit');
    }
    await remove();
  });

  /** How many times rsyslog filed each login of this prefix. */
  function counts(prefix: string): Map<number, number> {
    const m = new Map<number, number>();
    const re = new RegExp(`^login \\[utmp@32473 event="login" user="${prefix}(\\d+)"`);
    for (const line of out().split('\n')) {
      const hit = re.exec(line);
      if (hit) m.set(Number(hit[1]), (m.get(Number(hit[1])) ?? 0) + 1);
    }
    return m;
  }

  for (const proto of ['udp', 'tcp'] as const) {
    test(`${proto}: every login filed once across kill -9 and restart (at most one batch again), rotation while running and rotation while stopped`, async () => {
      const prefix = `${proto}u`;
      const wtmp = join(dir, `${proto}-wtmp`);
      const cursor = join(dir, `${proto}-cursor`);
      const port = proto === 'udp' ? udpPort : tcpPort;
      const args = ['--to', `${proto}://127.0.0.1:${port}`, '-f', wtmp, '--cursor-file', cursor, '--batch', '8', '--poll', '20'];
      writeFileSync(wtmp, logins(prefix, 0, 100));

      // Appends keep coming while ship is killed and restarted.
      let appended = 100;
      const appender = (async () => {
        while (appended < 300) {
          appendFileSync(wtmp, logins(prefix, appended, appended + 5));
          appended += 5;
          await sleep(10);
        }
      })();
      let s = ship(args);
      await until('the first logins filed', () => counts(prefix).size >= 60);
      await stopShip(s, 'SIGKILL');
      const seenAtKill = counts(prefix).size;
      s = ship(args);
      await appender;
      await until('300 logins filed', () => counts(prefix).size >= 300);

      // Rotation while running: the old file is finished, the new one shipped from its start.
      renameSync(wtmp, `${wtmp}.1`);
      writeFileSync(wtmp, logins(prefix, 300, 400));
      await until('400 logins filed', () => counts(prefix).size >= 400);
      assert.equal(await stopShip(s, 'SIGTERM'), 0);
      assert.match(s.stderr(), /was rotated: shipping the new file from its start/);
      assert.match(s.stderr(), /sent \d+ to .*dropped 0, unsent 0; cursor at offset 39600 of /);

      // Rotation while stopped: appends ship never saw, then the file rotated under it.
      appendFileSync(wtmp, logins(prefix, 400, 450));
      renameSync(wtmp, `${wtmp}.1`);
      writeFileSync(wtmp, logins(prefix, 450, 500));
      s = ship(args);
      await until('500 logins filed', () => counts(prefix).size >= 500);
      assert.equal(await stopShip(s, 'SIGTERM'), 0);
      assert.match(s.stderr(), /was rotated: finishing .*-wtmp\.1 from offset 40000 first/);

      const c = counts(prefix);
      assert.equal(c.size, 500, 'every login filed');
      const twice = [...c].filter(([, n]) => n > 1).map(([i]) => i);
      assert.ok(twice.every((i) => c.get(i) === 2), 'nothing filed three times');
      // Only kill -9 can repeat, and only the batch sent but not yet in the cursor.
      assert.ok(twice.length <= 8, `at most one batch repeated, got ${twice.length}: ${twice}`);
      assert.ok(twice.every((i) => i < Math.max(seenAtKill + 64, 300)), 'repeats only around the kill');
      assert.ok(c.size - twice.length >= 492);
      for (let i = 300; i < 500; i++) assert.equal(c.get(i), 1, `login ${i} (after the clean stops) exactly once`);
    });
  }
});

/**
 * A Unix datagram socket bound at sock, printing "ready" and then each datagram as a hex
 * line; with readWhenTold it reads nothing until a line arrives on its stdin.
 */
function datagramListener(sock: string, options: { readWhenTold?: boolean } = {}): ChildProcess {
  const script = [
    'import socket, sys',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind(sys.argv[1])',
    "print('ready', flush=True)",
    ...(options.readWhenTold ? ['sys.stdin.readline()'] : []),
    'while True:',
    '    print(s.recv(1 << 20).hex(), flush=True)',
  ].join('\n');
  return spawn('python3', ['-c', script, sock], { stdio: [options.readWhenTold ? 'pipe' : 'ignore', 'pipe', 'inherit'] });
}

describe('utmps ship to journal', () => {
  test('native protocol datagrams: the fields, the binary form for a value with a newline, MESSAGE_ID per kind (glibc-layout file)', async () => {
    const { dir, remove } = await makeTempDir();
    const sock = join(dir, 'journal');
    const listener = datagramListener(sock);
    let lines = '';
    listener.stdout!.on('data', (c: Buffer) => (lines += c.toString()));
    try {
      await until('the listener', () => lines.includes('ready'));
      const inputs: EntryInput[] = [
        { type: 'BOOT_TIME', user: 'reboot', line: '~', host: '6.1.0', tvSec: 1_700_000_000 },
        { type: 'USER_PROCESS', user: 'alice', line: 'pts/1', id: 'ts/1', pid: 77, host: 'evil\nMESSAGE=forged', tvSec: 1_700_000_001 },
        { type: 'DEAD_PROCESS', line: 'pts/1', id: 'ts/1', pid: 77, tvSec: 1_700_000_002 },
        { type: 'RUN_LVL', user: 'shutdown', line: '~', pid: 0x30, tvSec: 1_700_000_003 },
        { type: 'LOGIN_PROCESS', user: 'LOGIN', line: 'tty1', pid: 5, tvSec: 1_700_000_004 },
      ];
      const wtmp = join(dir, 'wtmp');
      writeFileSync(wtmp, Buffer.concat(inputs.map((e) => convertRecord(buildRecord(e), UTMPS_LAYOUT, GLIBC_LAYOUT))));
      const s = ship(['--to', 'journal', '-f', wtmp, '--no-follow'], { UTMPS_JOURNAL_SOCKET: sock });
      assert.equal(await s.exited, 0, s.stderr());
      await until('5 datagrams', () => lines.trim().split('\n').length >= 6);
      const datagrams = lines.trim().split('\n').slice(1).map((h) => Buffer.from(h, 'hex'));
      // Parsed by hand: NAME=value\n, or NAME\n + 64-bit LE length + value + \n.
      const parse = (d: Buffer): Map<string, Buffer[]> => {
        const m = new Map<string, Buffer[]>();
        const add = (k: string, v: Buffer): void => void m.set(k, [...(m.get(k) ?? []), v]);
        for (let i = 0; i < d.length; ) {
          const nl = d.indexOf(0x0a, i);
          const head = d.toString('latin1', i, nl);
          if (head.includes('=')) {
            add(head.slice(0, head.indexOf('=')), d.subarray(i + head.indexOf('=') + 1, nl));
            i = nl + 1;
          } else {
            const n = Number(d.readBigUInt64LE(nl + 1));
            add(head, d.subarray(nl + 9, nl + 9 + n));
            i = nl + 10 + n;
          }
        }
        return m;
      };
      const fields = datagrams.map(parse);
      const one = (m: Map<string, Buffer[]>, k: string): string => {
        assert.equal(m.get(k)?.length, 1, `one ${k}`);
        return m.get(k)![0].toString('latin1');
      };
      assert.deepEqual(
        fields.map((m) => one(m, 'MESSAGE_ID')),
        [MESSAGE_IDS.boot, MESSAGE_IDS.login, MESSAGE_IDS.logout, MESSAGE_IDS.shutdown, MESSAGE_IDS.other],
      );
      const alice = fields[1];
      assert.equal(one(alice, 'UTMP_USER'), 'alice');
      assert.equal(one(alice, 'UTMP_LINE'), 'pts/1');
      assert.equal(one(alice, 'UTMP_HOST'), 'evil\nMESSAGE=forged');
      assert.equal(one(alice, 'UTMP_TYPE'), 'USER_PROCESS');
      assert.equal(one(alice, 'UTMP_PID'), '77');
      assert.equal(one(alice, 'MESSAGE'), 'alice logged in on pts/1 from evil\\x0aMESSAGE=forged');
      assert.equal(one(alice, 'PRIORITY'), '6');
      assert.equal(one(alice, 'SYSLOG_IDENTIFIER'), 'utmps');
      assert.ok(datagrams[1].includes(Buffer.concat([Buffer.from('UTMP_HOST\n'), Buffer.from([19, 0, 0, 0, 0, 0, 0, 0])])), 'the binary form');
      assert.equal(one(fields[0], 'MESSAGE'), 'system boot (kernel 6.1.0)');
      assert.equal(one(fields[0], 'PRIORITY'), '5');
      assert.equal(one(fields[3], 'MESSAGE'), 'shutdown');
    } finally {
      listener.kill('SIGKILL');
      await remove();
    }
  });
});

describe('utmps ship to a datagram receiver that stops reading', () => {
  test('ship waits without blocking (SIGTERM ends it, the rest unsent after the cursor); once the receiver reads, the next run delivers the rest once', async () => {
    const { dir, remove } = await makeTempDir();
    const sock = join(dir, 'journal');
    // Reads only once told to on stdin: until then its queue fills.
    const listener = datagramListener(sock, { readWhenTold: true });
    let lines = '';
    listener.stdout!.on('data', (c: Buffer) => (lines += c.toString()));
    try {
      await until('the listener', () => lines.includes('ready'));
      const wtmp = join(dir, 'wtmp');
      const cursor = join(dir, 'cursor');
      writeFileSync(wtmp, logins('d', 0, 300));
      const args = ['--to', 'journal', '-f', wtmp, '--cursor-file', cursor, '--batch', '4', '--drain-timeout', '200'];
      let s = ship(args, { UTMPS_JOURNAL_SOCKET: sock });
      await until('the full queue reported', () => s.stderr().includes('is not keeping up (its queue is full): waiting'));
      // A send that blocked would hold SIGTERM off for good: give it 10 s, then kill -9.
      const guard = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
      const code = await stopShip(s, 'SIGTERM');
      clearTimeout(guard);
      assert.equal(code, 0, 'SIGTERM was handled while the receiver did not read');
      const m = /sent (\d+) to journal:\/\/.*, dropped 0, unsent (\d+)/.exec(s.stderr());
      assert.ok(m, s.stderr());
      const sent = Number(m[1]);
      assert.ok(sent < 300 && Number(m[2]) > 0, s.stderr());
      listener.stdin!.write('go\n');
      s = ship([...args, '--no-follow'], { UTMPS_JOURNAL_SOCKET: sock });
      assert.equal(await s.exited, 0, s.stderr());
      await until('300 datagrams at least', () => lines.trim().split('\n').length - 1 >= 300);
      await sleep(100);
      const users = lines
        .trim()
        .split('\n')
        .slice(1)
        .map((h) => /UTMP_USER=d(\d+)\n/.exec(Buffer.from(h, 'hex').toString('latin1'))![1])
        .map(Number);
      // The datagram in flight when SIGTERM came may have been queued already: at most that one twice.
      const distinct = new Set(users);
      assert.equal(distinct.size, 300, 'every record delivered');
      assert.ok(users.length - distinct.size <= 4, `at most one batch again, got ${users.length - distinct.size}`);
    } finally {
      listener.kill('SIGKILL');
      await remove();
    }
  });
});

/** A TCP syslog sink reading RFC 6587 octet-counted frames. */
class Sink {
  server: Server | null = null;
  readonly messages: string[] = [];
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = createServer((s) => {
      this.sockets.add(s);
      let buf = Buffer.alloc(0);
      s.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        for (;;) {
          const sp = buf.indexOf(0x20);
          if (sp < 0) break;
          const n = Number(buf.toString('latin1', 0, sp));
          assert.ok(Number.isInteger(n) && n > 0, 'an octet count');
          if (buf.length < sp + 1 + n) break;
          this.messages.push(buf.toString('utf8', sp + 1, sp + 1 + n));
          buf = buf.subarray(sp + 1 + n);
        }
      });
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
    });
    this.server.listen(this.port, '127.0.0.1');
    await once(this.server, 'listening');
  }

  async stop(): Promise<void> {
    const closed = new Promise((r) => this.server!.close(r));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  users(prefix: string): number[] {
    const re = new RegExp(`user="${prefix}(\\d+)"`);
    return this.messages.map((m) => re.exec(m)).filter((m) => m !== null).map((m) => Number(m![1]));
  }
}

describe('utmps ship to a TCP target that goes away and comes back', () => {
  for (const mode of ['wait', 'drop'] as const) {
    test(`--when-full ${mode}: reconnects with backoff; ${mode === 'wait' ? 'nothing lost, nothing twice' : 'the queue stays bounded, drops are counted and reported'}`, async () => {
      const { dir, remove } = await makeTempDir();
      const sink = new Sink(await freePort());
      await sink.start();
      const wtmp = join(dir, 'wtmp');
      const cursor = join(dir, 'cursor');
      writeFileSync(wtmp, logins('r', 0, 20));
      const s = ship(['--to', `tcp://127.0.0.1:${sink.port}`, '-f', wtmp, '--cursor-file', cursor, '--buffer', '30', '--batch', '10', '--poll', '20', '--when-full', mode]);
      try {
        await until('20 messages', () => sink.messages.length >= 20);
        await sink.stop();
        await sleep(100);
        appendFileSync(wtmp, logins('r', 20, 220));
        if (mode === 'drop') await until('a drop reported', () => s.stderr().includes('dropping the oldest'));
        else await until('a failed connect reported', () => s.stderr().includes('unable to connect'));
        await sleep(300);
        await sink.start();
        await until('the cursor at the last record', () => existsSync(cursor) && JSON.parse(readFileSync(cursor, 'utf8')).offset === 219 * 400);
        assert.equal(await stopShip(s, 'SIGTERM'), 0);
        const m = /dropped (\d+), unsent 0/.exec(s.stderr());
        assert.ok(m, s.stderr());
        const dropped = Number(m[1]);
        const got = sink.users('r');
        assert.equal(new Set(got).size, got.length, 'nothing twice');
        assert.ok(got.includes(219), 'the newest record delivered');
        assert.match(s.stderr(), /connected to tcp:\/\/127\.0\.0\.1:\d+ again/);
        if (mode === 'wait') {
          assert.equal(dropped, 0);
          assert.deepEqual(got, Array.from({ length: 220 }, (_, i) => i), 'every record, in order');
        } else {
          assert.ok(dropped > 0, 'the queue overflowed while the sink was away');
          assert.equal(got.length + dropped, 220, 'each record delivered or counted as dropped');
          assert.ok(got.length - 20 >= 30, 'the queue held its 30');
          assert.match(s.stderr(), new RegExp(`takes messages again: \\d+ dropped meanwhile \\(${dropped} in all\\)`));
        }
      } finally {
        await stopShip(s, 'SIGKILL');
        if (sink.server?.listening) await sink.stop();
        await remove();
      }
    });
  }
});

test('SIGTERM while the TCP target is away: the queue counted as unsent, the cursor left before it, the next run sends it once', async () => {
  const { dir, remove } = await makeTempDir();
  const sink = new Sink(await freePort());
  await sink.start();
  const wtmp = join(dir, 'wtmp');
  const cursor = join(dir, 'cursor');
  writeFileSync(wtmp, logins('t', 0, 10));
  const args = ['--to', `tcp://127.0.0.1:${sink.port}`, '-f', wtmp, '--cursor-file', cursor, '--poll', '20', '--drain-timeout', '300'];
  let s = ship(args);
  try {
    await until('10 messages', () => sink.messages.length >= 10);
    await sink.stop();
    await sleep(100);
    appendFileSync(wtmp, logins('t', 10, 15));
    await until('a failed connect reported', () => s.stderr().includes('unable to connect'));
    assert.equal(await stopShip(s, 'SIGTERM'), 0);
    assert.match(s.stderr(), /sent 10 to tcp:\/\/127\.0\.0\.1:\d+, dropped 0, unsent 5; cursor at offset 3600 of /);
    assert.equal(JSON.parse(readFileSync(cursor, 'utf8')).offset, 3600);
    await sink.start();
    s = ship([...args, '--no-follow']);
    assert.equal(await s.exited, 0, s.stderr());
    await until('15 messages', () => sink.messages.length >= 15);
    assert.deepEqual(sink.users('t'), Array.from({ length: 15 }, (_, i) => i));
  } finally {
    await stopShip(s, 'SIGKILL');
    if (sink.server?.listening) await sink.stop();
    await remove();
  }
});

describe('utmps ship -', () => {
  test('JSON lines on stdout, one per record, no raw control character', async () => {
    const { dir, remove } = await makeTempDir();
    try {
      const wtmp = join(dir, 'wtmp');
      writeFileSync(
        wtmp,
        Buffer.concat([
          buildRecord({ type: 'USER_PROCESS', user: 'mallory', line: 'pts/9', host: 'x\r\nroot logged in\x1b[2J\u009b', tvSec: 1_700_000_000 }),
          buildRecord({ type: 'DEAD_PROCESS', line: 'pts/9', tvSec: 1_700_000_001 }),
        ]),
      );
      const child = spawn(join(BIN, 'utmps'), ['ship', '--to', '-', '-f', wtmp, '--no-follow'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      const [code] = (await once(child, 'exit')) as [number];
      assert.equal(code, 0);
      const text = Buffer.concat(chunks).toString('utf8');
      assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(text), 'no raw control');
      const lines = text.trimEnd().split('\n');
      assert.equal(lines.length, 2);
      const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(a.event, 'login');
      assert.equal(a.message, 'mallory logged in on pts/9 from x\\x0d\\x0aroot logged in\\x1b[2J\\xc2\\x9b');
      assert.equal(b.event, 'logout');
      assert.equal(b.message, 'logout on pts/9');
    } finally {
      await remove();
    }
  });
});

describe('utmps ship: exit codes', () => {
  test('100 for usage errors, 111 for an unreadable file or a malformed cursor', async () => {
    const { dir, remove } = await makeTempDir();
    try {
      const code = async (args: string[]): Promise<number | null> => ship(args).exited;
      assert.equal(await code([]), 100, 'no --to');
      assert.equal(await code(['--to', 'http://x:1']), 100);
      assert.equal(await code(['--to', 'journal', '--format', 'json']), 100);
      assert.equal(await code(['--to', '-', '--buffer', '0']), 100);
      assert.equal(await code(['--to', '-', '-f', join(dir, 'missing'), '--no-follow']), 111);
      writeFileSync(join(dir, 'wtmp'), logins('x', 0, 1));
      writeFileSync(join(dir, 'cursor'), '{"version":1}');
      assert.equal(await code(['--to', '-', '-f', join(dir, 'wtmp'), '--cursor-file', join(dir, 'cursor'), '--no-follow']), 111);
    } finally {
      await remove();
    }
  });
});

describe('utmps ship -W (through the wtmpd socket)', () => {
  test('the cursor is time and hash: a restart ships each record once, records of the cursor second included', async () => {
    const d = await startUtmpsd();
    const { dir, remove } = await makeTempDir();
    const cursor = join(dir, 'cursor');
    const rec = (i: number, sec: number): Buffer => buildRecord({ type: 'USER_PROCESS', user: `s${i}`, line: `pts/${i}`, id: `${i}`, pid: 100 + i, tvSec: sec });
    const lines: string[] = [];
    const run = (): Ship & { lines: string[] } => {
      const s = ship(['--to', '-', '-W', d.wtmpSocket, '--cursor-file', cursor]);
      const mine: string[] = [];
      let buf = '';
      s.child.stdout!.removeAllListeners('data');
      s.child.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        mine.push(...parts);
        lines.push(...parts);
      });
      return Object.assign(s, { lines: mine });
    };
    try {
      // Records 28..31 share one second: the cursor lands inside that second.
      for (let i = 0; i < 30; i++) await appendWtmp(rec(i, i >= 28 ? 1_700_000_028 : 1_700_000_000 + i), { path: d.wtmpSocket });
      let s = run();
      await until('30 records', () => s.lines.length >= 30);
      assert.equal(await stopShip(s, 'SIGTERM'), 0);
      for (let i = 30; i < 50; i++) await appendWtmp(rec(i, i < 32 ? 1_700_000_028 : 1_700_000_000 + i), { path: d.wtmpSocket });
      s = run();
      await until('50 records in all', () => lines.length >= 50);
      await sleep(200);
      assert.equal(await stopShip(s, 'SIGTERM'), 0);
      const users = lines.map((l) => (JSON.parse(l) as { user: string }).user);
      assert.deepEqual(users, Array.from({ length: 50 }, (_, i) => `s${i}`), 'every record once, in order');
      assert.doesNotMatch(s.stderr(), /not found/);
    } finally {
      await d.stop();
      await remove();
    }
  });
});

describe('utmps ship to unix:// (a real rsyslog imuxsock on a temp socket)', { skip: existsSync(RSYSLOGD) ? false : 'rsyslogd is not installed' }, () => {
  test('the local syslog(3) form is parsed: facility, severity, tag, pid, message with the structured data', async () => {
    const { dir, remove } = await makeTempDir();
    const sock = join(dir, 'log');
    // SysSock.Use="off": the system socket (/dev/log) is left alone; only the temp one is read.
    writeFileSync(
      join(dir, 'rsyslog.conf'),
      [
        `global(workDirectory="${dir}")`,
        'module(load="imuxsock" SysSock.Use="off")',
        `input(type="imuxsock" Socket="${sock}")`,
        'template(name="t" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname%[%procid%] %msg%\\n")',
        `*.* action(type="omfile" file="${dir}/out.log" template="t")`,
        '',
      ].join('\n'),
    );
    const rsyslog = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
    const out = (): string => (existsSync(join(dir, 'out.log')) ? readFileSync(join(dir, 'out.log'), 'utf8') : '');
    try {
      await until('the socket', () => existsSync(sock));
      const wtmp = join(dir, 'wtmp');
      writeFileSync(
        wtmp,
        Buffer.concat([
          buildRecord({ type: 'BOOT_TIME', user: 'reboot', line: '~', host: '6.1.0', tvSec: 1_700_000_000 }),
          buildRecord({ type: 'USER_PROCESS', user: 'alice', line: 'pts/1', host: 'host.example', pid: 9, tvSec: 1_700_000_001 }),
          buildRecord({ type: 'DEAD_PROCESS', user: 'alice', line: 'pts/1', pid: 9, tvSec: 1_700_000_002 }),
        ]),
      );
      const s = ship(['--to', `unix://${sock}`, '-f', wtmp, '--no-follow']);
      assert.equal(await s.exited, 0, s.stderr());
      await until('3 lines', () => out().trim().split('\n').length >= 3);
      const got = out().trim().split('\n');
      const pid = s.child.pid;
      assert.match(got[0], new RegExp(`^authpriv\\.notice utmps\\[${pid}\\]  ?\\[utmp@32473 event="boot"[^\\]]*\\] system boot \\(kernel 6\\.1\\.0\\)$`));
      assert.match(got[1], new RegExp(`^authpriv\\.info utmps\\[${pid}\\]  ?\\[utmp@32473 event="login" user="alice"[^\\]]*\\] alice logged in on pts/1 from host\\.example$`));
      assert.match(got[2], /^authpriv\.info utmps\[\d+\]  ?\[utmp@32473 event="logout"[^\]]*\] alice logged out of pts\/1$/);
    } finally {
      rsyslog.kill('SIGTERM');
      await once(rsyslog, 'exit');
      await remove();
    }
  });
});

describe('examples/rsyslog/utmps.conf', { skip: existsSync(RSYSLOGD) ? false : 'rsyslogd is not installed' }, () => {
  test('with its port and paths moved to a temp dir, rsyslog files logins as text and as JSON per host', async () => {
    const { dir, remove } = await makeTempDir();
    const port = await freePort();
    const conf = readFileSync(join(ROOT, 'examples', 'rsyslog', 'utmps.conf'), 'utf8')
      .replaceAll('port="514"', `port="${port}" address="127.0.0.1"`)
      .replaceAll('/var/log/utmps', join(dir, 'logs'));
    assert.ok(!conf.includes('/var/log'), 'nothing left pointing at /var/log');
    writeFileSync(join(dir, 'rsyslog.conf'), `global(workDirectory="${dir}")\n${conf}`);
    const rsyslog = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      const wtmp = join(dir, 'wtmp');
      writeFileSync(
        wtmp,
        Buffer.concat([
          buildRecord({ type: 'USER_PROCESS', user: 'alice', line: 'pts/1', host: 'a "quoted" ]host', pid: 9, tvSec: 1_700_000_001 }),
          buildRecord({ type: 'DEAD_PROCESS', user: 'alice', line: 'pts/1', pid: 9, tvSec: 1_700_000_002 }),
        ]),
      );
      const s = ship(['--to', `tcp://127.0.0.1:${port}`, '-f', wtmp, '--no-follow', '--hostname', 'sender1']);
      assert.equal(await s.exited, 0, s.stderr());
      const jsonFile = join(dir, 'logs', 'sender1.json');
      await until('the JSON file', () => existsSync(jsonFile) && readFileSync(jsonFile, 'utf8').trim().split('\n').length >= 2);
      const events = readFileSync(jsonFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
      assert.deepEqual(
        events.map((e) => [e.host, e.event, e.user, e.line, e.from, e.message]),
        [
          ['sender1', 'login', 'alice', 'pts/1', 'a "quoted" ]host', 'alice logged in on pts/1 from a "quoted" ]host'],
          ['sender1', 'logout', 'alice', 'pts/1', '', 'alice logged out of pts/1'],
        ],
      );
      assert.match(readFileSync(join(dir, 'logs', 'sender1.log'), 'utf8'), /sender1 login \[utmp@32473 event="login" user="alice"/);
    } finally {
      rsyslog.kill('SIGTERM');
      await once(rsyslog, 'exit');
      await remove();
    }
  });
});
