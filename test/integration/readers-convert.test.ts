// utmps convert: utmps -> glibc -> utmps is the identity on the vectors (their padding is
// zero), a time outside 32 bits is refused with the record named, OUT is never replaced
// without --force and appears whole or not at all.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildRecord, convertRecord, GLIBC_LAYOUT, UTMPS_LAYOUT } from '../../src/record/index.js';
import { toHex } from '../helpers/bytes.js';
import { BIN, VECTORS } from '../helpers/paths.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function utmps(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(BIN, 'utmps'), ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const vectors = readdirSync(VECTORS)
  .filter((f) => f.endsWith('.bin'))
  .sort()
  .map((f) => ({ name: f, path: join(VECTORS, f), bin: readFileSync(join(VECTORS, f)) }));

let dir: string;
before(async () => {
  dir = await mkdtemp('/tmp/uc-');
});
after(() => rm(dir, { recursive: true, force: true }));

describe('round trips on the vectors', () => {
  for (const v of vectors) {
    test(v.name, async () => {
      const g = join(dir, `${v.name}.glibc`);
      const u = join(dir, `${v.name}.utmps`);
      const a = await utmps('convert', '--from', 'utmps', '--to', 'glibc', v.path, g);
      assert.equal(a.code, 0, a.stderr);
      // The glibc file is what the record codec makes of each record.
      const expected: Buffer[] = [];
      for (let at = 0; at < v.bin.length; at += 400) expected.push(convertRecord(v.bin.subarray(at, at + 400), UTMPS_LAYOUT, GLIBC_LAYOUT));
      assert.equal(toHex(readFileSync(g)), toHex(Buffer.concat(expected)));
      const b = await utmps('convert', '--to', 'utmps', g, u); // --from detected
      assert.equal(b.code, 0, b.stderr);
      assert.equal(toHex(readFileSync(u)), toHex(v.bin));
    });
  }
});

describe('refusals', () => {
  test('a time of 2^31 is refused, naming the record; nothing is written', async () => {
    const input = join(dir, 'y2038');
    const out = join(dir, 'y2038.glibc');
    await writeFile(
      input,
      Buffer.concat([
        buildRecord({ type: 'USER_PROCESS', user: 'a', line: 'pts/1', tvSec: 2 ** 31 - 1 }),
        buildRecord({ type: 'USER_PROCESS', user: 'b', line: 'pts/2', tvSec: 5 }),
        buildRecord({ type: 'USER_PROCESS', user: 'c', line: 'pts/3', tvSec: 2 ** 31 }),
      ]),
    );
    const r = await utmps('convert', '--from', 'utmps', '--to', 'glibc', input, out);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `utmps: fatal: unable to convert record 2 of ${input} (offset 800): time 2147483648.0 does not fit the 32-bit time of the glibc layout\n`,
    );
    assert.ok(!existsSync(out));
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('.y2038')), [], 'a temporary file was left behind');
    // Before 1901 does not fit either.
    await writeFile(input, buildRecord({ type: 'USER_PROCESS', user: 'a', line: 'pts/1', tvSec: -(2 ** 31) - 1 }));
    const neg = await utmps('convert', '--from', 'utmps', '--to', 'glibc', input, out);
    assert.equal(neg.code, 1);
    assert.match(neg.stderr, /record 0 .*time -2147483649\.0 does not fit/);
  });

  test('OUT is kept unless --force', async () => {
    const v = vectors[0];
    const out = join(dir, 'kept');
    await writeFile(out, 'precious');
    const r = await utmps('convert', '--to', 'glibc', v.path, out);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `utmps: fatal: unable to write ${out}: it exists (--force replaces it)\n`);
    assert.equal(readFileSync(out, 'latin1'), 'precious');
    const f = await utmps('convert', '--force', '--to', 'glibc', v.path, out);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(readFileSync(out).length, (v.bin.length / 400) * 384);
  });

  test('usage', async () => {
    assert.equal((await utmps('convert', 'a')).code, 100);
    assert.equal((await utmps('convert', '--from', 'utmps', 'a', 'b')).code, 100); // --to is required
    assert.equal((await utmps('convert', '--to', 'bsd', 'a', 'b')).code, 100);
    const missing = await utmps('convert', '--to', 'glibc', '/nonexistent/in', join(dir, 'x'));
    assert.equal(missing.code, 111);
    assert.equal(missing.stderr, 'utmps: fatal: unable to open /nonexistent/in: No such file or directory\n');
  });
});
