// Issue 8: readers never print control characters raw. nobody appends login records
// naming itself, through utmps-write under setpriv, to a wtmpd our test runs (s6-ipcserver
// + utmps-wtmpd, glibc layout); their host, line and id carry \r, \n, \t, ESC sequences
// and a C1 CSI. `utmps last`, `utmps who FILE` and `utmps dump` must show every one of
// them escaped (src/format/escape.ts), where util-linux last and coreutils who print
// them as they are, and `utmps dump -r` must give the file back byte for byte.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { cleanse } from '../../src/format/dump.js';
import { toHex } from '../helpers/bytes.js';
import { type Daemons, startUcspi } from '../helpers/daemons.js';
import { NOBODY, setprivFor } from '../helpers/fuzz-hardening.js';
import { BIN } from '../helpers/paths.js';

interface Run {
  code: number;
  stdout: Buffer;
  stderr: string;
}

const ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

function run(cmd: string, args: string[], input?: Buffer, env: NodeJS.ProcessEnv = ENV): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { env, encoding: 'buffer', timeout: 30_000, maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
}

const utmps = (args: string[], input?: Buffer, env?: NodeJS.ProcessEnv): Promise<Run> => run(process.execPath, [join(BIN, 'utmps'), ...args], input, env);

/** Bytes a terminal acts on, but the newline that ends each line of output. */
function rawControls(out: Buffer): string[] {
  const found: string[] = [];
  for (const b of out) if ((b < 0x20 && b !== 0x0a) || (b >= 0x7f && b <= 0x9f)) found.push(`0x${b.toString(16)}`);
  return found;
}

function tai(seconds: number): string {
  return `@${(0x4000000000000000n + BigInt(seconds)).toString(16).padStart(16, '0')}00000000`;
}

// What nobody writes: [host, line, id]. The first reads on a terminal as a root login from
// the console; the second adds a line; the third sets the title and clears the screen.
const SPOOFS: Array<[string, string, string]> = [
  ['\rroot     pts/0        192.0.2.1', 'pts/70', 'n70'],
  ['x\nroot     pts/1        10.0.0.1         Tue Nov 14 22:13   still logged in', 'pts/71', 'n71'],
  ['\x1b]0;owned\x07\x1b[2J\x1b[H', 'pts/7\t2', '\x1b[2J'],
  ['csi\u009b2J', 'pts/73', 'n73'],
];

let d: Daemons;

before(async () => {
  d = await startUcspi({ format: 'glibc' });
  // Let nobody reach the wtmpd socket.
  await chmod(d.dir, 0o755);
  await chmod(d.wtmpSocket, 0o666);
  const [cmd, ...pre] = setprivFor(NOBODY);
  for (const [i, [host, line, id]] of SPOOFS.entries()) {
    const w = await run(cmd, [...pre, process.execPath, join(BIN, 'utmps-write'), '-w', '-W', d.wtmpSocket, '-T', tai(1700000000 + i * 60), '-l', 'nobody', '-p', String(4000 + i), '-h', host, id, 'USER_PROCESS', line]);
    assert.equal(w.code, 0, `nobody's append ${i}: ${w.stderr}`);
  }
});

after(() => d?.stop());

describe('no reader prints a control character from a record raw', () => {
  test('the records are in the file as nobody wrote them (util-linux last prints them raw)', async () => {
    const file = await readFile(d.wtmpFile);
    assert.equal(file.length, 384 * SPOOFS.length);
    const theirs = await run('last', ['-f', d.wtmpFile, '-a']);
    assert.ok(theirs.stdout.includes('\rroot'), 'util-linux last shows the carriage return as it is');
    assert.notDeepEqual(rawControls(theirs.stdout), []);
  });

  for (const args of [[], ['-a'], ['-w'], ['-x', '-F', '-a'], ['--time-format', 'iso', '-w']]) {
    for (const lang of ['C', 'C.UTF-8']) {
      test(`utmps last ${args.join(' ')} (LC_ALL=${lang})`, async () => {
        const r = await utmps(['last', '-f', d.wtmpFile, ...args], undefined, { ...ENV, LC_ALL: lang });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(rawControls(r.stdout), []);
        const text = r.stdout.toString('latin1');
        // One line per login, the empty line, and "wtmp begins": no line added.
        assert.equal(text.split('\n').length, SPOOFS.length + 3, text);
        assert.ok(text.includes('\\x0droot     pts/0'), text);
        assert.ok(text.includes('\\x1b]0;owned\\x07\\x1b[2J'), text);
        assert.ok(text.includes('pts/7\\x092'), text);
        assert.ok(!/^root /m.test(text), text);
      });
    }
  }

  for (const args of [[], ['-a'], ['-q'], ['-H', '-u']]) {
    test(`utmps who ${args.join(' ')} FILE`, async () => {
      const r = await utmps(['who', ...args, d.wtmpFile]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(rawControls(r.stdout), []);
      const text = r.stdout.toString('latin1');
      if (!args.includes('-q')) assert.ok(text.includes('(\\x0droot     pts/0'), text);
      // coreutils who prints them raw.
      const theirs = await run('who', [...args, d.wtmpFile]);
      if (!args.includes('-q')) assert.notDeepEqual(rawControls(theirs.stdout), []);
    });
  }

  test('utmps dump: escapes instead of utmpdump\'s ?, and -r reads them back byte for byte', async () => {
    const r = await utmps(['dump', d.wtmpFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(rawControls(r.stdout), []);
    const text = r.stdout.toString('latin1');
    assert.equal(text.split('\n').length, SPOOFS.length + 1);
    assert.ok(text.includes('[\\x1b?2J] [nobody  ] [pts/7\\x092  ] [\\x1b?0;owned\\x07\\x1b?2J\\x1b?H]'), text);
    const back = await utmps(['dump', '-r'], r.stdout);
    assert.equal(back.code, 0, back.stderr);
    // '[', ']' and bytes from 0x80 are '?' in the text (utmpdump's form), so only those differ.
    const file = await readFile(d.wtmpFile);
    const expected = Buffer.from(file);
    for (const [from, to] of [['\x1b[', '\x1b?'], ['\x1b]', '\x1b?'], ['csi\xc2\x9b', 'csi??']]) {
      for (let at = expected.indexOf(from, 0, 'latin1'); at >= 0; at = expected.indexOf(from, at + 1, 'latin1')) expected.write(to, at, 'latin1');
    }
    // A short ut_id comes back space-padded to the 4 columns the text shows, as utmpdump -r writes it.
    for (let at = 0; at < expected.length; at += 384) {
      const id = expected.subarray(at + 40, at + 44);
      const n = id.indexOf(0) < 0 ? 4 : id.indexOf(0);
      const shown = cleanse(id.toString('latin1', 0, n)).length;
      if (shown < 4) id.fill(0x20, n, n + 4 - shown);
    }
    assert.equal(toHex(back.stdout), toHex(expected));
    // And utmpdump shows those controls as '?'.
    const theirs = await run('utmpdump', [d.wtmpFile]);
    assert.equal(theirs.stdout.toString('latin1').split('\n')[0], text.split('\n')[0].replace('\\x0d', '?'));
  });

  test('utmps last --json and who --json keep the bytes, escaped by JSON', async () => {
    const last = JSON.parse((await utmps(['last', '--json', '-f', d.wtmpFile])).stdout.toString('utf8'));
    const hosts = last.files[0].sessions.map((s: { host: string }) => s.host);
    assert.ok(hosts.includes(SPOOFS[0][0]), JSON.stringify(hosts));
  });
});
