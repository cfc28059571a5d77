// Red team, second round (notes/redteam2.md): attacks on the features that landed together
// (btmp, reaping, sealing, shipping, the new readers), each kept as the test that broke it.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, linkSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { buildRecord, decodeEntry, type EntryInput, GLIBC_LAYOUT } from '../../src/record/index.js';
import { decodeState, encodeBody, ENTRY_SIZE, entryMac, MAC_SIZE, macKeyOf } from '../../src/seal/chain.js';
import { record, scratchDir } from '../helpers/fuzz-hardening.js';
import { BIN, ROOT } from '../helpers/paths.js';
import { spawnUtmpsd, utmpsdArgs } from '../helpers/utmpsd.js';

const UTMPS = join(ROOT, 'dist', 'src', 'cli', 'utmps.js');

function utmps(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [UTMPS, ...args], { encoding: 'latin1', timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('red team 2', () => {
  test('seal: a forged epoch mark far in the future (the current key, as a thief holds it) is named by verify, which does not hang', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    try {
      const keyFile = join(dir, 'key');
      const init = utmps(['seal', 'init', '--key', keyFile, '--interval', '15m']);
      assert.equal(init.status, 0, init.stderr);
      const vkey = init.stdout.trim().split(/\s+/).pop()!;
      const { child } = await spawnUtmpsd(utmpsdArgs(dir, { extra: ['--seal-key', keyFile, '--no-reap'] }));
      try {
        await appendWtmp(record({ type: 7, user: 'root', line: 'pts/1', id: 's1', tvSec: 1_764_000_000, pid: 1001 }), { path: join(dir, '.wtmpd-socket') });
      } finally {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      // Whoever holds the key now (utmpsd's account after --user, or a thief) appends
      // one valid epoch mark that jumps 2^40 epochs ahead.
      const state = decodeState(readFileSync(keyFile));
      const sidecar = readFileSync(join(dir, 'wtmp.seal'));
      const j = sidecar.length / ENTRY_SIZE;
      const prev = sidecar.subarray(sidecar.length - MAC_SIZE);
      const body = encodeBody({ kind: 'epoch', epoch: state.epoch, index: 1, time: Date.now(), newEpoch: state.epoch + 2n ** 40n, count: 1 });
      appendFileSync(join(dir, 'wtmp.seal'), Buffer.concat([body, entryMac(macKeyOf(state.key), prev, j, body)]));
      const r = utmps(['verify', '--verify-key', vkey, '-f', join(dir, 'wtmp')], 30_000);
      assert.notEqual(r.status, null, 'verify hung on the forged epoch mark (killed after 30 s)');
      assert.notEqual(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /epoch/);
    } finally {
      await remove();
    }
  });

  test('ship rfc3164: a host name of a user\'s own wtmp record cannot put fake structured data before the real one', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    const { child } = await spawnUtmpsd(utmpsdArgs(dir, { extra: ['--no-reap'] }));
    const d = { wtmpSocket: join(dir, '.wtmpd-socket'), wtmpFile: join(dir, 'wtmp') };
    try {
      const fake = 'x [utmp@32473 event="login" user="root" line="tty1" host="" type="USER_PROCESS" pid="1" id="" addr="" rec="0000000000000000"]';
      const w = spawnSync(
        'setpriv',
        ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, join(BIN, 'utmps-write'), '-w', '-W', d.wtmpSocket, '-l', 'nobody', '-h', fake, '-p', '4242', 'rt2', 'USER_PROCESS', 'pts/77'],
        { encoding: 'utf8' },
      );
      assert.equal(w.status, 0, w.stderr);
      const r = utmps(['ship', '--to', '-', '--format', 'rfc3164', '-f', d.wtmpFile, '--no-follow']);
      assert.equal(r.status, 0, r.stderr);
      const msg = r.stdout.split('\n').find((l) => l.includes('pts/77'))!;
      assert.ok(msg, r.stdout);
      // A parser that takes the first SD element by its id must find the true one.
      const first = /\[utmp@32473 ([^\]]*)\]/.exec(msg)!;
      assert.match(first[1], /user="nobody"/, msg);
    } finally {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      await remove();
    }
  });

  test('reaper: a utmp-group writer\'s entry with a dead pid on another user\'s line is reaped without a wtmp logout that would end that user\'s session', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    const { child } = await spawnUtmpsd(utmpsdArgs(dir, { format: 'glibc' }));
    const sleeper = spawn('sleep', ['300'], { stdio: 'ignore' });
    try {
      const utmpSocket = join(dir, '.utmpd-socket');
      const login: EntryInput = { type: 'USER_PROCESS', pid: sleeper.pid!, line: 'pts/3', id: 'ts/3', user: 'root', host: 'victim.example', tvSec: Math.floor(Date.now() / 1000) };
      const s = await UtmpSession.connect({ path: utmpSocket });
      try {
        await s.put(login);
      } finally {
        s.close();
      }
      await appendWtmp(login, { path: join(dir, '.wtmpd-socket') });
      const gone = spawnSync('true');
      // The group writer may write utmp, but may not append a logout for root's line itself.
      const w = spawnSync(
        'setpriv',
        ['--reuid=nobody', '--regid=0', '--clear-groups', process.execPath, join(BIN, 'utmps-write'), '-u', '-U', utmpSocket, '-l', 'nobody', '-p', String(gone.pid), 'zz', 'USER_PROCESS', 'pts/3'],
        { encoding: 'utf8' },
      );
      assert.equal(w.status, 0, w.stderr);
      const entries = (): ReturnType<typeof decodeEntry>[] => {
        const data = readFileSync(join(dir, 'utmp'));
        const out = [];
        for (let off = 0; off + GLIBC_LAYOUT.size <= data.length; off += GLIBC_LAYOUT.size) out.push(decodeEntry(data.subarray(off, off + GLIBC_LAYOUT.size), GLIBC_LAYOUT));
        return out;
      };
      for (let i = 0; i < 300 && entries().find((e) => e.id === 'zz')?.typeName !== 'DEAD_PROCESS'; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(entries().find((e) => e.id === 'zz')?.typeName, 'DEAD_PROCESS', 'the writer\'s own entry is reaped');
      assert.equal(entries().find((e) => e.id === 'ts/3')?.typeName, 'USER_PROCESS', 'root\'s entry is untouched');
      // Give a wrong logout time to land; then the wtmp holds root's login only.
      await new Promise((r) => setTimeout(r, 300));
      const wtmp = readFileSync(join(dir, 'wtmp'));
      const onLine = [];
      for (let off = 0; off + GLIBC_LAYOUT.size <= wtmp.length; off += GLIBC_LAYOUT.size) {
        const e = decodeEntry(wtmp.subarray(off, off + GLIBC_LAYOUT.size), GLIBC_LAYOUT);
        if (e.line === 'pts/3') onLine.push(e.typeName);
      }
      assert.deepEqual(onLine, ['USER_PROCESS'], 'no logout record ends root\'s session on pts/3 in last');
    } finally {
      sleeper.kill('SIGKILL');
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      await remove();
    }
  });

  test('verify: a sidecar and a wtmp of hostile bytes (times past what Date can show) get a clear finding, not a crash', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    try {
      const init = utmps(['seal', 'init', '--key', join(dir, 'key'), '--interval', '15m']);
      assert.equal(init.status, 0, init.stderr);
      const vkey = init.stdout.trim().split(/\s+/).pop()!;
      // Times of 0xff.. bytes are far past what Date can show.
      writeFileSync(join(dir, 'wtmp'), Buffer.alloc(4000, 0x7f));
      writeFileSync(join(dir, 'wtmp.seal'), Buffer.alloc(960, 0xff));
      const r = utmps(['verify', '--verify-key', vkey, '-f', join(dir, 'wtmp')], 30_000);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.doesNotMatch(r.stderr, /RangeError|at /, r.stderr);
      assert.match(r.stdout, /time unknown/);
    } finally {
      await remove();
    }
  });

  test('timeline: records whose times are past what Date can show end with a picture, not an endless axis loop', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    try {
      // Ten utmps-layout records of 0x7f bytes: times near 2^63 seconds.
      writeFileSync(join(dir, 'wtmp'), Buffer.alloc(4000, 0x7f));
      const r = utmps(['timeline', '-f', join(dir, 'wtmp'), '--format', 'utmps', '--no-btmp', '--svg', join(dir, 'out.svg')], 30_000);
      assert.notEqual(r.status, null, 'timeline hung (killed after 30 s)');
      assert.equal(r.status, 0, r.stderr);
      assert.match(readFileSync(join(dir, 'out.svg'), 'utf8'), /<\/svg>\s*$/);
    } finally {
      await remove();
    }
  });

  test('seal: a sidecar hard-linked to another file is refused before utmpsd writes a byte into it', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    try {
      const keyFile = join(dir, 'key');
      assert.equal(utmps(['seal', 'init', '--key', keyFile, '--interval', '15m']).status, 0);
      writeFileSync(join(dir, 'other'), '');
      linkSync(join(dir, 'other'), join(dir, 'wtmp.seal'));
      const r = spawnSync(process.execPath, [join(BIN, 'utmpsd'), ...utmpsdArgs(dir, { extra: ['--seal-key', keyFile, '--no-reap'] }).filter((a, i, all) => a !== '--notify-fd' && all[i - 1] !== '--notify-fd')], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(r.status, 0, 'utmpsd refuses the linked sidecar');
      assert.match(r.stderr, /hard links/);
      assert.equal(statSync(join(dir, 'other')).size, 0, 'nothing was written into the linked file');
    } finally {
      await remove();
    }
  });

  test('lastb, last and lastlog --json: a user name with C1 CSI and DEL (anyone may try it at sshd) is escaped in the JSON text and parses back the same', async () => {
    const { dir, remove } = await scratchDir('rt2-');
    try {
      // U+009B (CSI as UTF-8) then "2J", and DEL: raw, a terminal may act on them.
      const rec = (type: 'LOGIN_PROCESS' | 'USER_PROCESS'): Buffer =>
        buildRecord({ type, user: 'ev\u009b2J\u007fil', line: 'ssh:notty', host: 'h\u009b', pid: 77, tvSec: 1_764_000_000 }, GLIBC_LAYOUT);
      writeFileSync(join(dir, 'btmp'), rec('LOGIN_PROCESS'));
      writeFileSync(join(dir, 'wtmp'), rec('USER_PROCESS'));
      for (const args of [
        ['lastb', '--summary', '--json', '-f', join(dir, 'btmp')],
        ['lastb', '--json', '-f', join(dir, 'btmp')],
        ['last', '--json', '-f', join(dir, 'wtmp')],
        ['lastlog', '--json', '-f', join(dir, 'wtmp')],
      ]) {
        const r = spawnSync(process.execPath, [UTMPS, ...args, '--format', 'glibc'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /[\u007f-\u009f]/, `${args[0]}: no raw DEL or C1 in ${JSON.stringify(r.stdout)}`);
        assert.ok(r.stdout.includes('\\u009b'), r.stdout);
        assert.ok(JSON.stringify(JSON.parse(r.stdout)).includes('ev\u009b2J\u007fil'), 'the value parses back unchanged');
      }
    } finally {
      await remove();
    }
  });
});
