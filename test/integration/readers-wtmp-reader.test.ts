// The block reader (src/store/wtmp-reader.ts) on real files: newest first and oldest first,
// both layouts, torn tails, detection, and a bounded buffer whatever the file size.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildRecord, convertRecord, GLIBC_LAYOUT, UTMPS_LAYOUT } from '../../src/record/index.js';
import { WtmpReader } from '../../src/store/wtmp-reader.js';
import { toHex } from '../helpers/bytes.js';

let dir: string;
before(async () => {
  dir = await mkdtemp('/tmp/ur-');
});
after(() => rm(dir, { recursive: true, force: true }));

/** n distinct utmps records: record i has pid i and time 1700000000 + i. */
function recordsOf(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    buildRecord({ type: i % 3 === 0 ? 'DEAD_PROCESS' : 'USER_PROCESS', pid: i, line: `pts/${i % 50}`, user: `u${i % 7}`, tvSec: 1700000000 + i, tvUsec: i % 1000 }),
  );
}

async function fileOf(name: string, recs: Buffer[], layout = UTMPS_LAYOUT, tail = Buffer.alloc(0)): Promise<string> {
  const path = join(dir, name);
  const bytes = layout === UTMPS_LAYOUT ? recs : recs.map((r) => convertRecord(r, UTMPS_LAYOUT, GLIBC_LAYOUT));
  await writeFile(path, Buffer.concat([...bytes, tail]));
  return path;
}

describe('WtmpReader', () => {
  for (const layout of [UTMPS_LAYOUT, GLIBC_LAYOUT]) {
    for (const n of [0, 1, 63, 64, 65, 1000, 20000]) {
      test(`${layout.name}, ${n} records: newest first and oldest first give every record once`, async () => {
        const recs = recordsOf(n);
        const path = await fileOf(`${layout.name}-${n}`, recs, layout);
        const r = WtmpReader.open(path);
        try {
          if (n > 0) assert.equal(r.layout, layout, r.detection?.reason); // an empty file has no layout to find
          assert.equal(r.count, n);
          const back: string[] = [];
          for (const rec of r.newestFirst()) back.push(toHex(rec));
          assert.deepEqual(back, recs.map(toHex).reverse());
          const fwd: string[] = [];
          for (const { buf, count, first } of r.blocksForward(777)) {
            assert.equal(first, fwd.length);
            for (let i = 0; i < count; i++) fwd.push(toHex(buf.subarray(i * 400, (i + 1) * 400)));
          }
          assert.deepEqual(fwd, recs.map(toHex));
          assert.equal(r.first() === null ? null : toHex(r.first()!), n === 0 ? null : toHex(recs[0]));
        } finally {
          r.close();
        }
      });
    }
  }

  test('blocks grow from small to a bounded size, and the buffer is reused', async () => {
    const path = await fileOf('grow', recordsOf(40000));
    const r = WtmpReader.open(path);
    try {
      const sizes: number[] = [];
      const buffers = new Set<ArrayBufferLike>();
      for (const { count, buf } of r.blocksBackward()) {
        sizes.push(count);
        buffers.add(buf.buffer);
      }
      // 1,024 records (400 KB) at most: a full `last` stays within its memory bound.
      assert.deepEqual(sizes.slice(0, 8), [64, 128, 256, 512, 1024, 1024, 1024, 1024]);
      assert.ok(Math.max(...sizes) <= 1024);
      assert.equal(sizes.reduce((a, b) => a + b, 0), 40000);
      assert.ok(buffers.size <= 9, `${buffers.size} buffers for ${sizes.length} blocks`);
    } finally {
      r.close();
    }
  });

  test('a torn tail is ignored; records count from the start', async () => {
    const recs = recordsOf(10);
    for (const layout of [UTMPS_LAYOUT, GLIBC_LAYOUT]) {
      const path = await fileOf(`torn-${layout.name}`, recs, layout, Buffer.alloc(100, 0x41));
      const r = WtmpReader.open(path, { layout });
      try {
        assert.equal(r.count, 10);
        assert.deepEqual([...r.newestFirst()].map(toHex), recs.map(toHex).reverse());
      } finally {
        r.close();
      }
    }
  });

  test('the layout can be forced, and detection says why it chose', async () => {
    const path = await fileOf('forced', recordsOf(24)); // 9600 bytes: both sizes divide
    const r = WtmpReader.open(path);
    assert.equal(r.layout, UTMPS_LAYOUT);
    assert.match(r.detection!.reason, /fits utmps and glibc/);
    r.close();
    const g = WtmpReader.open(path, { layout: GLIBC_LAYOUT });
    assert.equal(g.count, 25);
    assert.equal(g.detection, null);
    g.close();
  });

  test('anything but a regular file is refused', async () => {
    assert.throws(() => WtmpReader.open(dir), (e: NodeJS.ErrnoException) => e.code === 'EISDIR' || e.code === 'EINVAL');
    assert.throws(() => WtmpReader.open('/dev/null'), (e: NodeJS.ErrnoException) => e.code === 'EINVAL');
  });
});
