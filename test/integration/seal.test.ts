// The forward-secure wtmp seal end to end (docs/SEALING.md): utmps seal init, utmpsd
// --seal-key under real clients, utmps verify on the files it left, and the same files
// tampered with in each way verify must name. util-linux last reads the sealed wtmp.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, readFileSync, renameSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appendWtmp } from '../../src/client/index.js';
import { decodeState, evolveKey, keyAt, parseVerificationKey } from '../../src/seal/chain.js';
import { eventually, record, scratchDir } from '../helpers/fuzz-hardening.js';
import { ROOT } from '../helpers/paths.js';
import { spawnUtmpsd, UTMPSD, utmpsdArgs } from '../helpers/utmpsd.js';

const UTMPS = join(ROOT, 'dist', 'src', 'cli', 'utmps.js');

function utmps(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [UTMPS, ...args], { encoding: 'latin1', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** utmps seal init; returns the verification key, the last word on standard output. */
function sealInit(key: string, interval: string): string {
  const r = utmps(['seal', 'init', '--key', key, '--interval', interval]);
  assert.equal(r.status, 0, r.stderr);
  const words = r.stdout.trim().split(/\s+/);
  return words[words.length - 1];
}

function verify(vkey: string, file: string, extra: string[] = []): { status: number | null; stdout: string; stderr: string } {
  return utmps(['verify', '--verify-key', vkey, '-f', file, ...extra]);
}

async function startSealed(dir: string, extra: string[] = []) {
  const { child, stderr } = await spawnUtmpsd(utmpsdArgs(dir, { extra: ['--seal-key', join(dir, 'key'), '--rate-limit', '0', ...extra] }));
  return {
    child,
    stderr,
    wtmpSocket: join(dir, '.wtmpd-socket'),
    async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

const login = (i: number, user = 'root'): Buffer => record({ type: 7, user, line: `pts/${i}`, id: `s${i}`, host: `h${i}.example`, tvSec: 1_764_000_000 + i, pid: 1000 + i });

/** Copies wtmp and its sidecar under another name, for tampering. */
function copyPair(dir: string, name: string, from = 'wtmp'): string {
  copyFileSync(join(dir, from), join(dir, name));
  copyFileSync(join(dir, `${from}.seal`), join(dir, `${name}.seal`));
  return join(dir, name);
}

describe('sealed wtmp (utmpsd --seal-key, utmps verify)', () => {
  test('intact history verifies; a flipped byte, a removed, an inserted and a swapped record, and the wrong key are each named', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const vkey = sealInit(join(dir, 'key'), '15m');
      assert.equal(statSync(join(dir, 'key')).mode & 0o777, 0o600);
      const again = utmps(['seal', 'init', '--key', join(dir, 'key')]);
      assert.equal(again.status, 111, 'an existing key is never replaced');
      assert.match(again.stderr, /it exists/);
      const d = await startSealed(dir, ['-F', 'glibc']);
      try {
        for (let i = 0; i < 12; i += 4) await Promise.all([0, 1, 2, 3].map((k) => appendWtmp(login(i + k), { path: d.wtmpSocket })));
      } finally {
        assert.equal(await d.stop(), 0);
      }
      const wtmp = join(dir, 'wtmp');
      const ok = verify(vkey, wtmp);
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /12 records, all sealed and unchanged/);
      // The seal lives beside wtmp: the file itself is still what util-linux last reads.
      const last = spawnSync('last', ['-f', wtmp], { encoding: 'latin1' });
      assert.equal(last.stdout.split('\n').filter((l) => l.startsWith('root')).length, 12, last.stdout);

      const size = 384;
      const bytes = readFileSync(wtmp);
      const rec = (i: number): Buffer => bytes.subarray(i * size, (i + 1) * size);
      const cases: Array<[string, Buffer, RegExp]> = [
        ['flipped', Buffer.from(bytes).fill(0x41, 5 * size + 80, 5 * size + 81), /^.*: record 5 \(.*\): altered: /],
        ['removed', Buffer.concat([bytes.subarray(0, 7 * size), bytes.subarray(8 * size)]), /: record 7 \(.*\): removed: record 7 was removed/],
        ['inserted', Buffer.concat([bytes.subarray(0, 3 * size), Buffer.from(rec(9)).fill(0x7a, 44, 48), bytes.subarray(3 * size)]), /: record 3 \(.*\): inserted: /],
        ['swapped', Buffer.concat([bytes.subarray(0, 2 * size), rec(3), rec(2), bytes.subarray(4 * size)]), /: record 2 \(.*\): reordered: /],
      ];
      for (const [name, content, expected] of cases) {
        const file = copyPair(dir, name);
        writeFileSync(file, content);
        const r = verify(vkey, file);
        assert.equal(r.status, 1, `${name}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, expected, name);
      }
      const otherKey = sealInit(join(dir, 'key2'), '15m');
      const wrong = verify(otherKey, wtmp);
      assert.equal(wrong.status, 1);
      assert.match(wrong.stdout, /record 0 \(.*\): sealed under another key/);
      // utmpsd started with that other key on this sidecar says so.
      renameSync(join(dir, 'key2'), join(dir, 'key'));
      const d2 = await startSealed(dir, ['-F', 'glibc']);
      await d2.stop();
      assert.match(d2.stderr(), /wtmp\.seal was not sealed with the key in .*key: a new key needs a new sidecar/);
    } finally {
      await remove();
    }
  });

  test('epochs of 1s: the key evolves in place, earlier keys are gone from the state file, a restart after several epochs evolves through each, and a cut before the last epoch mark is named', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const keyFile = join(dir, 'key');
      const vkey = sealInit(keyFile, '1s');
      const k0 = parseVerificationKey(vkey).key0;
      assert.deepEqual(decodeState(readFileSync(keyFile)).key, k0, 'epoch 0 holds the verification key');
      const inode = statSync(keyFile).ino;
      const d = await startSealed(dir);
      const epochNow = (): bigint => decodeState(readFileSync(keyFile)).epoch;
      try {
        let n = 0;
        for (const until of [1n, 2n, 3n]) {
          await appendWtmp(login(n++), { path: d.wtmpSocket });
          await appendWtmp(login(n++), { path: d.wtmpSocket });
          assert.ok(await eventually(() => epochNow() >= until, 5000), `the key reaches epoch ${until}`);
        }
        await appendWtmp(login(n++), { path: d.wtmpSocket });
      } finally {
        assert.equal(await d.stop(), 0);
      }
      const state = readFileSync(keyFile);
      const { epoch, key } = decodeState(state);
      assert.ok(epoch >= 3n);
      assert.equal(statSync(keyFile).ino, inode, 'rewritten in place, never replaced');
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      assert.deepEqual(key, keyAt(k0, 0n, epoch));
      let k = k0;
      for (let e = 0n; e < epoch; e++) {
        assert.equal(state.indexOf(k), -1, `the key of epoch ${e} is not in the state file`);
        k = evolveKey(k, e + 1n);
      }
      const ok = verify(vkey, join(dir, 'wtmp'));
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /7 records, all sealed and unchanged, epochs 0\.\.[3-9]/);

      // Stopped across several boundaries: the restart marks the jump once, and the key
      // evolves through every epoch between.
      const stoppedAt = decodeState(readFileSync(keyFile)).epoch;
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const d1 = await startSealed(dir);
      try {
        await appendWtmp(login(7), { path: d1.wtmpSocket });
      } finally {
        await d1.stop();
      }
      const resumed = decodeState(readFileSync(keyFile));
      assert.ok(resumed.epoch >= stoppedAt + 2n, `${resumed.epoch} >= ${stoppedAt} + 2`);
      assert.deepEqual(resumed.key, keyAt(k0, 0n, resumed.epoch));
      const again = verify(vkey, join(dir, 'wtmp'));
      assert.equal(again.status, 0, again.stdout + again.stderr);
      assert.match(again.stdout, /8 records, all sealed and unchanged/);

      // wtmp cut back to its first two records: the marks after them show it.
      const cut = copyPair(dir, 'cut');
      truncateSync(cut, 2 * 400);
      const r = verify(vkey, cut);
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stdout, /record 2 \(.*\): cut before the last epoch mark/);
      // Both files cut back to record 4, and utmpsd went on sealing under the current key.
      const both = copyPair(dir, 'both');
      truncateSync(both, 4 * 400);
      const side = readFileSync(`${both}.seal`);
      const entries = [];
      for (let j = 0; j * 96 < side.length; j++) entries.push(side.subarray(j * 96, (j + 1) * 96));
      const keep = entries.findIndex((e) => e[0] === 0x52 && e.readBigUInt64BE(16) === 3n) + 1;
      writeFileSync(`${both}.seal`, Buffer.concat(entries.slice(0, keep)));
      renameSync(join(dir, 'wtmp'), join(dir, 'orig'));
      renameSync(join(dir, 'wtmp.seal'), join(dir, 'orig.seal'));
      renameSync(both, join(dir, 'wtmp'));
      renameSync(`${both}.seal`, join(dir, 'wtmp.seal'));
      const d2 = await startSealed(dir);
      try {
        await appendWtmp(login(50), { path: d2.wtmpSocket });
        assert.match(d2.stderr(), /ends in epoch \d+ but the key .* is at epoch/);
      } finally {
        await d2.stop();
      }
      const r2 = verify(vkey, join(dir, 'wtmp'));
      assert.equal(r2.status, 1, r2.stdout);
      assert.match(r2.stdout, /record 4 \(.*\): cut before the last epoch mark/);
    } finally {
      await remove();
    }
  });

  test('kill -9 during appends from 8 clients: every acknowledged record verifies, at most an unsealed tail; a restart adopts it', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const vkey = sealInit(join(dir, 'key'), '15m');
      const d = await startSealed(dir);
      const acked: Buffer[] = [];
      let killed = false;
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; !killed; i++) {
          const rec = login(w * 100_000 + i);
          try {
            await appendWtmp(rec, { path: d.wtmpSocket, timeoutMs: 5000 });
          } catch {
            return;
          }
          acked.push(rec);
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      assert.ok(await eventually(() => acked.length >= 150, 20_000), 'appends are acknowledged');
      d.child.kill('SIGKILL');
      killed = true;
      await once(d.child, 'exit').catch(() => undefined);
      await Promise.all(workers);
      const r = verify(vkey, join(dir, 'wtmp'));
      assert.ok(r.status === 0 || r.status === 2, `intact or an unsealed tail: ${r.status} ${r.stdout}${r.stderr}`);
      const m = /: (?:(\d+) of )?(\d+) records/.exec(r.stdout)!;
      const sealed = Number(m[1] ?? m[2]);
      const bytes = readFileSync(join(dir, 'wtmp'));
      const sealedRecords = new Set<string>();
      for (let i = 0; i < sealed; i++) sealedRecords.add(bytes.subarray(i * 400, (i + 1) * 400).toString('hex'));
      for (const rec of acked) assert.ok(sealedRecords.has(rec.toString('hex')), 'an acknowledged record is sealed');
      // Killed, so never closed: judged a day later, the seal has stopped too early.
      const later = verify(vkey, join(dir, 'wtmp'), ['--at', String(Math.floor(Date.now() / 1000) + 86_400)]);
      assert.equal(later.status, 1, later.stdout);
      assert.match(later.stdout, /cut before the last epoch mark: the seal stops in epoch 0 .* and was not closed/);

      const d2 = await startSealed(dir);
      await appendWtmp(login(999_999), { path: d2.wtmpSocket });
      await d2.stop();
      const after = verify(vkey, join(dir, 'wtmp'));
      assert.equal(after.status, 0, after.stdout + after.stderr);
    } finally {
      await remove();
    }
  });

  test('rotation (mv wtmp wtmp.1, SIGHUP): the seal moves to wtmp.1.seal, a new one chains from it, both verify, and so does the link between them', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const vkey = sealInit(join(dir, 'key'), '15m');
      const d = await startSealed(dir);
      try {
        for (let i = 0; i < 3; i++) await appendWtmp(login(i), { path: d.wtmpSocket });
        renameSync(join(dir, 'wtmp'), join(dir, 'wtmp.1'));
        d.child.kill('SIGHUP');
        await eventually(() => d.stderr().includes('SIGHUP'), 5000);
        for (let i = 3; i < 5; i++) await appendWtmp(login(i), { path: d.wtmpSocket });
      } finally {
        await d.stop();
      }
      const old = verify(vkey, join(dir, 'wtmp.1'));
      assert.equal(old.status, 0, old.stdout + old.stderr);
      assert.match(old.stdout, /3 records, all sealed and unchanged.*closed/);
      const fresh = verify(vkey, join(dir, 'wtmp'));
      assert.equal(fresh.status, 0, fresh.stdout + fresh.stderr);
      assert.match(fresh.stdout, /2 records, all sealed/);
      const oldSide = readFileSync(join(dir, 'wtmp.1.seal'));
      const newSide = readFileSync(join(dir, 'wtmp.seal'));
      assert.deepEqual(newSide.subarray(32, 64), oldSide.subarray(oldSide.length - 32), 'the new header carries the old chain\'s last MAC');
      const both = verify(vkey, join(dir, 'wtmp.1'), ['-f', join(dir, 'wtmp')]);
      assert.equal(both.status, 0, both.stdout + both.stderr);
      const swapped = verify(vkey, join(dir, 'wtmp'), ['-f', join(dir, 'wtmp.1')]);
      assert.equal(swapped.status, 1, swapped.stdout);
      assert.match(swapped.stdout, /wtmp\.1: record 0: removed: its seal does not continue .*wtmp's/);
    } finally {
      await remove();
    }
  });

  test('utmpsd --user nobody: the key stays root\'s 0600 and still evolves through the descriptor; the sidecar is the account\'s', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const keyFile = join(dir, 'key');
      const vkey = sealInit(keyFile, '1s');
      const d = await startSealed(dir, ['--user', 'nobody', '--group', '43']);
      try {
        await appendWtmp(login(1), { path: d.wtmpSocket });
        const from = decodeState(readFileSync(keyFile)).epoch;
        assert.ok(await eventually(() => decodeState(readFileSync(keyFile)).epoch >= from + 2n, 5000), 'the key evolves as nobody');
        await appendWtmp(login(2), { path: d.wtmpSocket });
      } finally {
        assert.equal(await d.stop(), 0);
      }
      const st = statSync(keyFile);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 0, 0o600]);
      assert.equal(statSync(join(dir, 'wtmp.seal')).uid, 65534);
      const ok = verify(vkey, join(dir, 'wtmp'));
      assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    } finally {
      await remove();
    }
  });

  test('utmpsd refuses to start on a missing, corrupt, readable or linked seal key (exit 111, one line naming it)', async () => {
    const { dir, remove } = await scratchDir('sl-');
    try {
      const key = join(dir, 'key');
      const run = () => spawnSync(process.execPath, [UTMPSD, ...utmpsdArgs(dir, { extra: ['--seal-key', key] })], { encoding: 'latin1', timeout: 20_000, stdio: ['ignore', 'ignore', 'pipe', 'ignore'] });
      const missing = run();
      assert.equal(missing.status, 111);
      assert.match(missing.stderr, /unable to open seal key .*key: it does not exist/);
      sealInit(key, '15m');
      const good = readFileSync(key);
      writeFileSync(key, Buffer.from(good).fill(0, 40, 41));
      const corrupt = run();
      assert.equal(corrupt.status, 111);
      assert.match(corrupt.stderr, /unable to use seal key .*: its checksum does not match/);
      writeFileSync(key, good);
      chmodSync(key, 0o640);
      const readable = run();
      assert.equal(readable.status, 111);
      assert.match(readable.stderr, /mode 0640 lets others read the sealing key/);
      chmodSync(key, 0o600);
      renameSync(key, join(dir, 'real'));
      symlinkSync(join(dir, 'real'), key);
      const linked = run();
      assert.equal(linked.status, 111);
      assert.match(linked.stderr, /symbolic link/);
      assert.equal(spawnSync('ls', [join(dir, 'wtmp.seal')]).status, 2, 'no sidecar was created');
    } finally {
      await remove();
    }
  });
});
