// Hostile files and paths: the utmp or wtmp path is a symbolic link (to a file an attacker
// wants overwritten), a FIFO or a directory; a file holds garbage records or a partial
// tail; a file the daemon may not open. The daemons never follow a link nor open anything
// but a regular file, say clearly what is wrong (utmpsd: exit 111 at start with a message
// naming the path; a UCSPI daemon: the request fails with one clear stderr line), and never
// delete or rewrite records that a valid request did not replace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { UTMPSD_JS } from '../../fuzz/target.js';
import {
  append,
  eventually,
  GETALL,
  NOBODY,
  putline,
  RECORD,
  record,
  recordsOf,
  REWIND,
  scratchDir,
  setprivFor,
  status,
  talk,
  withTarget,
} from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { Errno } from '../../src/errno.js';

const { ELOOP, ESRCH } = Errno;
const PRECIOUS = Buffer.from('the file an attacker wants overwritten\n', 'latin1');

type Hostile = 'symlink' | 'dangling symlink' | 'fifo' | 'directory';
const HOSTILE: readonly Hostile[] = ['symlink', 'dangling symlink', 'fifo', 'directory'];

/** What utmpsd (with the absolute path) and the UCSPI daemons (with 'utmp'/'wtmp') say. */
const WHY: Record<Hostile, string> = {
  symlink: 'it is a symbolic link, which is never followed',
  'dangling symlink': 'it is a symbolic link, which is never followed',
  fifo: 'not a regular file',
  directory: 'EISDIR',
};

/** Makes `path` hostile; the attacker's file is at `target`. */
function plant(kind: Hostile, path: string, target: string): void {
  if (kind === 'symlink') symlinkSync(target, path);
  else if (kind === 'dangling symlink') symlinkSync(`${target}.not-yet`, path);
  else if (kind === 'fifo') spawnSync('mkfifo', ['-m', '0644', path]);
  else mkdirSync(path);
}

function assertUntouched(kind: Hostile, path: string, target: string): void {
  assert.ok(readFileSync(target).equals(PRECIOUS), 'the symlink target is unchanged');
  assert.equal(existsSync(`${target}.not-yet`), false, 'nothing was created through the dangling link');
  const st = lstatSync(path);
  const still = kind.includes('symlink') ? st.isSymbolicLink() : kind === 'fifo' ? st.isFIFO() : st.isDirectory();
  assert.ok(still, `the ${kind} is still there: never removed or replaced`);
}

async function withPlanted(fn: (dir: string, target: string) => Promise<void>): Promise<void> {
  const { dir, remove } = await scratchDir('hf-');
  const attacker = await scratchDir('hx-');
  try {
    const target = join(attacker.dir, 'target');
    writeFileSync(target, PRECIOUS);
    await fn(dir, target);
  } finally {
    await remove();
    await attacker.remove();
  }
}

const ALICE = record({ type: 7, id: 'ts/1', line: 'pts/1', user: 'alice' });
const BOB = record({ type: 7, id: 'ts/3', line: 'pts/3', user: 'bob' });

/** Whole records that are no utmp entry at all: random bytes with a type no search matches. */
function garbage(seed: number): Buffer {
  const rec = Buffer.alloc(RECORD);
  for (let i = 0; i < RECORD; i++) rec[i] = (seed * 131 + i * 29 + ((i * i) % 251)) & 0xff;
  rec.writeInt16LE(0x4747 + seed, 0);
  return rec;
}
const PARTIAL = Buffer.from('a torn record tail', 'latin1');

describe('hostile files: utmpsd refuses to start on them', () => {
  for (const which of ['utmp', 'wtmp'] as const) {
    for (const kind of HOSTILE) {
      test(`${which} is a ${kind}: exit 111 naming the path; nothing followed, created or removed`, () =>
        withPlanted(async (dir, target) => {
          const path = join(dir, which);
          plant(kind, path, target);
          const r = spawnSync(process.execPath, [UTMPSD_JS, '--state-dir', dir], { encoding: 'utf8', timeout: 20_000 });
          assert.equal(r.status, 111, r.stderr);
          assert.match(r.stderr, new RegExp(`^utmpsd: fatal: unable to start: unable to (open|use) ${path}: .*${WHY[kind]}`));
          assertUntouched(kind, path, target);
          assert.equal(existsSync(join(dir, '.utmpd-socket')), false, 'no socket was left behind');
        }));
    }
  }
});

describe('hostile files: the UCSPI daemons fail the request', () => {
  if (!TRANSPORTS.includes('ucspi')) return;
  for (const which of ['utmp', 'wtmp'] as const) {
    for (const kind of HOSTILE) {
      test(`${which} is a ${kind}: no answer, one clear fatal line, nothing followed or removed`, () =>
        withPlanted(async (dir, target) => {
          const path = join(dir, which);
          plant(kind, path, target);
          await withTarget('ucspi', { dir }, async (d) => {
            const o = which === 'utmp' ? await talk(d.utmpSocket, REWIND) : await talk(d.wtmpSocket, append(ALICE));
            assert.equal(o.received.length, 0, 'no answer');
            assert.ok(o.serverEof, 'the connection is closed');
            const line = new RegExp(`utmps-${which}d: fatal: unable to (open|use) ${which}: .*${WHY[kind]}`);
            assert.ok(await eventually(() => line.test(d.stderr())), d.stderr());
            assertUntouched(kind, path, target);
          });
        }));
    }
  }
});

describe('hostile files: utmpsd at run time', () => {
  test('wtmp swapped for a symlink or a FIFO: appends are refused, nothing is followed, old records kept', () =>
    withPlanted(async (dir, target) => {
      await withTarget('utmpsd', { dir }, async (d) => {
        assert.equal(status(await talk(d.wtmpSocket, append(ALICE))), 0);
        renameSync(d.wtmpFile, `${d.wtmpFile}.old`);
        symlinkSync(target, d.wtmpFile);
        assert.equal(status(await talk(d.wtmpSocket, append(BOB))), ELOOP, 'the append is answered ELOOP');
        assert.ok(readFileSync(target).equals(PRECIOUS), 'the symlink target is unchanged');
        assert.match(d.stderr(), new RegExp(`unable to open ${d.wtmpFile}: it is a symbolic link`));
        unlinkSync(d.wtmpFile);
        spawnSync('mkfifo', ['-m', '0644', d.wtmpFile]);
        assert.notEqual(status(await talk(d.wtmpSocket, append(BOB))), 0, 'a FIFO is refused too');
        assert.match(d.stderr(), new RegExp(`unable to use ${d.wtmpFile}: not a regular file`));
        unlinkSync(d.wtmpFile);
        assert.equal(status(await talk(d.wtmpSocket, append(BOB))), 0, 'a regular file again: appends go on');
        assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)), [BOB]);
        assert.deepEqual(recordsOf(readFileSync(`${d.wtmpFile}.old`)), [ALICE], 'the old log is intact');
      });
    }));
});

for (const kind of TRANSPORTS) {
  describe(`garbage records and partial tails are kept (${kind})`, () => {
    test('utmp: a putline writes only its own record; garbage records stay byte for byte', async () => {
      const { dir, remove } = await scratchDir('hg-');
      try {
        const before = Buffer.concat([garbage(1), garbage(2), ALICE, PARTIAL]);
        writeFileSync(join(dir, 'utmp'), before);
        await withTarget(kind, { dir }, async (d) => {
          // Reads return the garbage verbatim.
          const read = await talk(d.utmpSocket, Buffer.concat([REWIND, GETALL]));
          const want = [garbage(1), garbage(2), ALICE].map((r) => Buffer.concat([Buffer.of(0), r]));
          assert.ok(read.received.equals(Buffer.concat([Buffer.of(0), ...want, Buffer.of(ESRCH)])), 'getall returns every whole record as it is');
          // A new entry goes after the last whole record, over the torn tail.
          assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(BOB)]))).received.toString('hex'), '0000');
          assert.deepEqual(recordsOf(readFileSync(d.utmpFile)), [garbage(1), garbage(2), ALICE, BOB]);
          // Replacing an entry replaces that entry only.
          const aliceOut = record({ type: 8, id: 'ts/1', line: 'pts/1' });
          assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(aliceOut)]))).received.toString('hex'), '0000');
          const after = readFileSync(d.utmpFile);
          assert.equal(after.length % RECORD, 0);
          assert.deepEqual(recordsOf(after), [garbage(1), garbage(2), aliceOut, BOB]);
        });
      } finally {
        await remove();
      }
    });

    test('wtmp: an append goes after the last whole record; garbage records stay byte for byte', async () => {
      const { dir, remove } = await scratchDir('hg-');
      try {
        writeFileSync(join(dir, 'wtmp'), Buffer.concat([garbage(3), garbage(4), PARTIAL]));
        await withTarget(kind, { dir }, async (d) => {
          assert.equal(status(await talk(d.wtmpSocket, append(BOB))), 0);
          assert.ok(readFileSync(d.wtmpFile).equals(Buffer.concat([garbage(3), garbage(4), BOB])));
        });
      } finally {
        await remove();
      }
    });
  });
}

describe('files the daemon may not open', () => {
  test('utmpsd running as nobody, utmp owned by root 0644: exit 111 naming the path', async () => {
    const { dir, remove } = await scratchDir('ho-');
    try {
      chownSync(dir, NOBODY.uid, NOBODY.gid);
      writeFileSync(join(dir, 'utmp'), ALICE, { mode: 0o644 });
      const [cmd, ...pre] = setprivFor(NOBODY);
      const r = spawnSync(cmd, [...pre, process.execPath, UTMPSD_JS, '--state-dir', dir], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r.status, 111, r.stderr);
      assert.match(r.stderr, new RegExp(`^utmpsd: fatal: unable to start: unable to open ${join(dir, 'utmp')}: EACCES`));
      assert.ok(readFileSync(join(dir, 'utmp')).equals(ALICE), 'unchanged');
    } finally {
      await remove();
    }
  });

  test('a UCSPI daemon running as nobody, utmp owned by root 0644: the request fails with a clear line', async () => {
    if (!TRANSPORTS.includes('ucspi')) return;
    const { dir, remove } = await scratchDir('ho-');
    try {
      chownSync(dir, NOBODY.uid, NOBODY.gid);
      writeFileSync(join(dir, 'utmp'), ALICE, { mode: 0o644 });
      await withTarget('ucspi', { dir, wrapper: setprivFor(NOBODY) }, async (d) => {
        const o = await talk(d.utmpSocket, REWIND);
        assert.equal(o.received.length, 0, 'no answer');
        assert.ok(await eventually(() => /utmps-utmpd: fatal: unable to open utmp: EACCES/.test(d.stderr())), d.stderr());
      });
      assert.ok(readFileSync(join(dir, 'utmp')).equals(ALICE), 'unchanged');
    } finally {
      await remove();
    }
  });

  test(
    'utmpsd warns at start about a database file that other users may write',
    async () => {
      const { dir, remove } = await scratchDir('ho-');
      try {
        writeFileSync(join(dir, 'wtmp'), '');
        chmodSync(join(dir, 'wtmp'), 0o666);
        await withTarget('utmpsd', { dir }, async (d) => {
          assert.equal(statSync(d.wtmpFile).mode & 0o777, 0o666);
          assert.match(d.stderr(), /warning: .*wtmp.*(writable|mode)/);
        });
      } finally {
        await remove();
      }
    },
  );
});
