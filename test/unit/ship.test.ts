// utmps ship's pure parts: the message formats (src/format/ship.ts), the cursor file
// (src/ship/cursor.ts), RFC 6587 framing and the --to URL. Expected bytes are written
// out here, not produced by the code under test.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import {
  formatJournal,
  formatJson,
  formatRfc3164,
  formatRfc5424,
  MESSAGE_IDS,
  readableMessage,
  sdEscape,
  shipRecord,
  type ShipRecord,
} from '../../src/format/ship.js';
import { buildRecord, type EntryInput } from '../../src/record/index.js';
import { type Cursor, CursorError, readCursor, writeCursor } from '../../src/ship/cursor.js';
import { Shipper } from '../../src/ship/shipper.js';
import type { Source, SourceItem } from '../../src/ship/source.js';
import { parseTarget, type Target } from '../../src/ship/target.js';
import { octetCount } from '../../src/ship/tcp.js';
import { makeTempDir } from '../helpers/support.js';

const HASH = 'ab'.repeat(32);
const ID = { hostname: 'vm', appName: 'utmps', procId: 42 };

function rec(input: EntryInput): ShipRecord {
  return shipRecord(buildRecord(input), 0, HASH);
}

const LOGIN = rec({ type: 'USER_PROCESS', user: 'alice', line: 'pts/1', id: 'ts/1', host: 'host.example', pid: 1234, tvSec: 1700000000, tvUsec: 5, address: '192.0.2.1' });

/** Splits a journal native-protocol datagram into [name, value] (parsed by hand here). */
function journalFields(d: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let i = 0;
  while (i < d.length) {
    const nl = d.indexOf(0x0a, i);
    const head = d.toString('latin1', i, nl);
    const eq = head.indexOf('=');
    if (eq >= 0) {
      out.push([head.slice(0, eq), d.subarray(i + eq + 1, nl)]);
      i = nl + 1;
    } else {
      const n = Number(d.readBigUInt64LE(nl + 1));
      out.push([head, d.subarray(nl + 9, nl + 9 + n)]);
      assert.equal(d[nl + 9 + n], 0x0a, 'a binary field ends with a newline');
      i = nl + 10 + n;
    }
  }
  return out;
}

describe('ship formats', () => {
  test('readable messages: login, logout, boot, shutdown', () => {
    assert.equal(readableMessage(LOGIN), 'alice logged in on pts/1 from host.example');
    assert.equal(readableMessage(rec({ type: 'USER_PROCESS', user: 'bob', line: 'tty1' })), 'bob logged in on tty1');
    assert.equal(readableMessage(rec({ type: 'DEAD_PROCESS', user: 'alice', line: 'pts/1' })), 'alice logged out of pts/1');
    assert.equal(readableMessage(rec({ type: 'DEAD_PROCESS', line: 'pts/1' })), 'logout on pts/1');
    assert.equal(readableMessage(rec({ type: 'BOOT_TIME', user: 'reboot', line: '~', host: '6.1.0' })), 'system boot (kernel 6.1.0)');
    assert.equal(readableMessage(rec({ type: 'RUN_LVL', user: 'shutdown', line: '~', pid: 0x30 })), 'shutdown');
  });

  test('RFC 5424: PRI, version, the record time with microseconds, MSGID, structured data, message', () => {
    assert.equal(
      formatRfc5424(LOGIN, ID),
      '<86>1 2023-11-14T22:13:20.000005Z vm utmps 42 login [utmp@32473 event="login" user="alice" line="pts/1" host="host.example" ' +
        `type="USER_PROCESS" pid="1234" id="ts/1" addr="192.0.2.1" rec="${'ab'.repeat(8)}"] alice logged in on pts/1 from host.example`,
    );
    const boot = formatRfc5424(rec({ type: 'BOOT_TIME', user: 'reboot', line: '~', tvSec: 1 }), ID);
    assert.match(boot, /^<85>1 1970-01-01T00:00:01\.000000Z /, 'boot is authpriv.notice');
  });

  test('SD-PARAM values escape " \\ and ] (RFC 5424 6.3.3); controls are \\xHH first', () => {
    assert.equal(sdEscape('a"b\\c]d'), 'a\\"b\\\\c\\]d');
    const evil = rec({ type: 'USER_PROCESS', user: 'x"] [y', line: 'pts/2', host: 'h\nfake\x1b[2J' });
    const m = formatRfc5424(evil, ID);
    assert.ok(!/[\x00-\x1f\x7f]/.test(m), 'no raw control in the message');
    assert.ok(m.includes('user="x\\"\\] [y"'), m);
    assert.ok(m.includes('host="h\\\\x0afake\\\\x1b[2J"'), m);
    assert.ok(m.endsWith('x"] [y logged in on pts/2 from h\\x0afake\\x1b[2J'), m);
  });

  test('the local syslog(3) form for /dev/log: <PRI>Mmm dd hh:mm:ss TAG[PID]: [SD] message', () => {
    const m = formatRfc3164(LOGIN, ID);
    assert.match(m, /^<86>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d utmps\[42\]: \[utmp@32473 [^\]]*\] alice logged in on pts\/1 from host\.example$/);
  });

  test('JSON: one object, fields escaped like the syslog forms, the MESSAGE_ID of the kind', () => {
    const j = JSON.parse(formatJson(rec({ type: 'USER_PROCESS', user: 'a\tb', line: 'pts/3' }), 'vm')) as Record<string, unknown>;
    assert.equal(j.user, 'a\\x09b');
    assert.equal(j.event, 'login');
    assert.equal(j.messageId, MESSAGE_IDS.login);
    assert.ok(!formatJson(rec({ type: 'USER_PROCESS', host: '\u009b2J' }), 'vm').includes('\u009b'), 'no raw C1');
  });

  test('journal: KEY=value fields, the binary form for a value with a newline, MESSAGE_ID per kind', () => {
    const d = formatJournal(rec({ type: 'USER_PROCESS', user: 'alice', line: 'pts/1', host: 'evil\nMESSAGE=forged', pid: 7 }));
    const f = new Map(journalFields(d).map(([k, v]) => [k, v.toString('latin1')]));
    assert.equal(f.get('UTMP_HOST'), 'evil\nMESSAGE=forged', 'the exact bytes, length-prefixed');
    assert.equal(f.get('MESSAGE'), 'alice logged in on pts/1 from evil\\x0aMESSAGE=forged');
    assert.equal(f.get('UTMP_USER'), 'alice');
    assert.equal(f.get('UTMP_PID'), '7');
    assert.equal(f.get('UTMP_TYPE'), 'USER_PROCESS');
    assert.equal(f.get('PRIORITY'), '6');
    assert.equal(f.get('SYSLOG_IDENTIFIER'), 'utmps');
    assert.equal(journalFields(d).filter(([k]) => k === 'MESSAGE').length, 1, 'the forged MESSAGE stays inside UTMP_HOST');
    // The binary form, byte for byte.
    const host = Buffer.concat([Buffer.from('UTMP_HOST\n'), Buffer.from([19, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('evil\nMESSAGE=forged\n')]);
    assert.ok(d.includes(host));
    const kinds: Array<[EntryInput, string]> = [
      [{ type: 'USER_PROCESS', user: 'a' }, MESSAGE_IDS.login],
      [{ type: 'DEAD_PROCESS' }, MESSAGE_IDS.logout],
      [{ type: 'BOOT_TIME' }, MESSAGE_IDS.boot],
      [{ type: 'RUN_LVL', user: 'shutdown' }, MESSAGE_IDS.shutdown],
      [{ type: 'LOGIN_PROCESS', user: 'LOGIN' }, MESSAGE_IDS.other],
    ];
    for (const [input, id] of kinds) {
      const fields = new Map(journalFields(formatJournal(rec(input))).map(([k, v]) => [k, v.toString()]));
      assert.equal(fields.get('MESSAGE_ID'), id, String(input.type));
      assert.match(id, /^[0-9a-f]{32}$/);
    }
    assert.equal(new Set(Object.values(MESSAGE_IDS)).size, 5);
  });

  test('RFC 6587 octet counting: the length in octets, a space, the message', () => {
    assert.equal(octetCount([Buffer.from('<86>1 é'), Buffer.from('x')]).toString(), '8 <86>1 é1 x');
  });

  test('--to URLs', () => {
    assert.deepEqual(parseTarget('udp://127.0.0.1:514'), { kind: 'udp', host: '127.0.0.1', port: 514 });
    assert.deepEqual(parseTarget('tcp://[::1]:6514'), { kind: 'tcp', host: '::1', port: 6514 });
    assert.deepEqual(parseTarget('unix:///dev/log'), { kind: 'unix', path: '/dev/log' });
    assert.deepEqual(parseTarget('journal', {}), { kind: 'journal', path: '/run/systemd/journal/socket' });
    assert.deepEqual(parseTarget('journal', { UTMPS_JOURNAL_SOCKET: '/tmp/j' }), { kind: 'journal', path: '/tmp/j' });
    assert.deepEqual(parseTarget('-'), { kind: 'stdout' });
    for (const bad of ['udp://host', 'tcp://:5', 'unix://rel', 'http://x:1', 'nonsense']) assert.throws(() => parseTarget(bad), RangeError, bad);
  });
});

describe('ship cursor', () => {
  const cursor: Cursor = { version: 1, file: '/var/log/wtmp', offset: 800, size: 384, hash: HASH, tvSec: 1700000000, tvUsec: 0 };

  test('written atomically (no temp file left), read back; absent is null; garbage is refused', async () => {
    const { dir, remove } = await makeTempDir();
    try {
      const path = `${dir}/cursor`;
      assert.equal(readCursor(path), null);
      writeCursor(path, cursor);
      writeCursor(path, { ...cursor, offset: 1184 });
      assert.deepEqual(readCursor(path), { ...cursor, offset: 1184 });
      assert.deepEqual(readdirSync(dir), ['cursor'], 'no temporary file left');
      assert.ok(readFileSync(path, 'utf8').endsWith('\n'));
      for (const bad of ['', '{', '[]', JSON.stringify({ ...cursor, hash: 'x' }), JSON.stringify({ ...cursor, size: 12 }), JSON.stringify({ ...cursor, offset: -1 })]) {
        writeFileSync(path, bad);
        assert.throws(() => readCursor(path), CursorError, bad);
      }
      assert.ok(existsSync(path));
    } finally {
      await remove();
    }
  });
});

describe('ship queue', () => {
  /** n items at once, then the end (a --no-follow file). */
  function source(n: number): Source {
    return {
      async *items() {
        const items: SourceItem[] = [];
        for (let i = 0; i < n; i++) {
          const record = rec({ type: 'USER_PROCESS', user: `u${i}`, tvSec: i });
          items.push({ record, cursor: { version: 1, file: 'f', offset: i * 400, size: 400, hash: HASH, tvSec: i, tvUsec: 0 } });
        }
        yield items;
      },
    };
  }

  /** A target that takes nothing until opened, then records what it got. */
  function gatedTarget(): Target & { got: string[][]; open: () => void } {
    let opened: () => void = () => {};
    const gate = new Promise<void>((resolve) => (opened = resolve));
    const got: string[][] = [];
    return {
      name: 'fake',
      got,
      open: () => opened(),
      async send(messages, signal) {
        // Like the real targets: waiting ends when the signal aborts.
        await Promise.race([gate, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
        got.push(messages.map((m) => m.toString()));
      },
      async close() {},
    };
  }

  const format = (i: SourceItem): Buffer => Buffer.from(i.record.user);

  test('drop: the oldest go, the newest --buffer stay, the count is exact and reported', async () => {
    const target = gatedTarget();
    const reports: string[] = [];
    const shipper = new Shipper({ source: source(100), target, format, cursorFile: null, capacity: 10, batch: 4, whenFull: 'drop', drainMs: 1000, report: (m) => reports.push(m) });
    const running = shipper.run(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    target.open();
    const stats = await running;
    const sent = target.got.flat();
    // The whole block was read before the sender ran: only the newest 10 stayed.
    assert.deepEqual(sent, Array.from({ length: 10 }, (_, i) => `u${90 + i}`));
    assert.equal(stats.dropped, 90);
    assert.equal(stats.sent + stats.dropped, 100);
    assert.equal(stats.cursor?.offset, 99 * 400);
    assert.ok(target.got.every((b) => b.length <= 4), 'batches of at most --batch');
    assert.match(reports.join('\n'), /queue full \(10 messages\)[^\n]*dropping the oldest/);
    assert.match(reports.join('\n'), /takes messages again: 90 dropped meanwhile \(90 in all\)/);
  });

  test('wait: nothing dropped, everything in order', async () => {
    const target = gatedTarget();
    const shipper = new Shipper({ source: source(100), target, format, cursorFile: null, capacity: 10, batch: 4, whenFull: 'wait', drainMs: 1000, report: () => {} });
    const running = shipper.run(new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    target.open();
    const stats = await running;
    assert.deepEqual(target.got.flat(), Array.from({ length: 100 }, (_, i) => `u${i}`));
    assert.equal(stats.dropped, 0);
  });

  test('stop with the target closed: after the drain deadline, the rest is unsent and the cursor untouched', async () => {
    const target = gatedTarget();
    const stop = new AbortController();
    const shipper = new Shipper({ source: source(20), target, format, cursorFile: null, capacity: 50, batch: 4, whenFull: 'wait', drainMs: 30, report: () => {} });
    const running = shipper.run(stop.signal);
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    const stats = await running;
    assert.deepEqual(stats, { sent: 0, dropped: 0, unsent: 20, cursor: null });
  });
});
