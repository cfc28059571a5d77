// Peak memory of utmpsd under clients that pipeline requests and never read the answers
// (security issue 8, item 2): one uid at its per-uid cap, then 25 uids filling the total
// cap. Each connection sends REWINDS rewinds (1-byte answers: the worst case for per-write
// overhead) and pauses its socket. The server's VmHWM and VmRSS are sampled while they hold on.
//
//   node dist/bench/nonreaders.js [--hold-ms MS] [--uids N] [--per-uid N] [--out FILE]
//
// Needs root (the clients run as other uids through setpriv). Run by `npm run bench --
// --nonreaders` too; results go to stdout as JSON and a table.

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { procMemory, startServer } from './servers.js';
import { ROOT } from './system.js';

const HOG = join(ROOT, 'dist', 'test', 'helpers', 'conn-hog.js');
const REWINDS = 65_536;

export interface NonReaderResult {
  scenario: string;
  /** Connections attempted; the server keeps at most its caps (40 per uid, 980 non-root in all). */
  connections: number;
  freshRssKiB: number;
  peakRssKiB: number;
  /** Peak minus fresh, per connection. */
  perConnectionKiB: number;
}

function rootPutline(socket: string): Promise<void> {
  const rec = Buffer.alloc(400);
  rec.writeInt16LE(7, 0);
  rec.write('pts/1', 8, 'latin1');
  rec.write('root', 44, 'latin1');
  return new Promise((resolve, reject) => {
    const s = createConnection(socket);
    s.once('connect', () => s.write(Buffer.concat([Buffer.of(0x45), rec])));
    s.once('data', (d: Buffer) => {
      s.destroy();
      if (d[0] === 0) resolve();
      else reject(new Error(`putline answered ${d[0]}`));
    });
    s.once('error', reject);
  });
}

/** A paused client does not see a refusal, so how many were kept is not known here. */
async function hog(uid: number, socket: string, n: number): Promise<{ child: ChildProcess }> {
  const job = { socket, n, request: '72', repeat: REWINDS, mode: 'noread', settleMs: 500 };
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, HOG, JSON.stringify(job)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`conn-hog as ${uid} exited ${code}`)));
  });
  return { child };
}

async function measure(scenario: string, uids: number[], perUid: number, holdMs: number): Promise<NonReaderResult> {
  const dir = await mkdtemp(join(tmpdir(), 'nr-'));
  await chmod(dir, 0o755); // the clients run as other users
  const server = await startServer('utmpsd', dir, { extra: ['-q', '--rate-limit', '0'] });
  const hogs: ChildProcess[] = [];
  try {
    await rootPutline(server.utmpSocket);
    const pid = server.pids[0];
    await sleep(500);
    const fresh = await procMemory(pid);
    const connections = uids.length * perUid;
    for (const uid of uids) hogs.push((await hog(uid, server.utmpSocket, perUid)).child);
    let peak = 0;
    for (const stopAt = Date.now() + holdMs; Date.now() < stopAt; await sleep(250)) {
      peak = Math.max(peak, (await procMemory(pid)).rssKiB);
    }
    peak = Math.max(peak, (await procMemory(pid)).hwmKiB);
    return { scenario, connections, freshRssKiB: fresh.rssKiB, peakRssKiB: peak, perConnectionKiB: Math.round((peak - fresh.rssKiB) / connections) };
  } finally {
    for (const h of hogs) {
      if (h.exitCode === null) {
        const gone = once(h, 'exit');
        h.kill('SIGKILL');
        await gone;
      }
    }
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runNonReaders(opts: { holdMs: number; uids: number; perUid: number }): Promise<NonReaderResult[]> {
  const many = Array.from({ length: opts.uids }, (_, i) => 60001 + i);
  return [
    await measure(`1 uid x ${opts.perUid} (per-uid cap)`, [65534], opts.perUid, opts.holdMs),
    await measure(`${opts.uids} uids x ${opts.perUid} (total cap)`, many, opts.perUid, opts.holdMs),
  ];
}

export function nonReaderLines(results: NonReaderResult[]): string[] {
  return results.map(
    (r) =>
      `non-readers ${r.scenario}: ${r.connections} connections attempted, each pipelining ${REWINDS} rewinds, answers unread: ` +
      `RSS ${(r.freshRssKiB / 1024).toFixed(0)} MiB fresh, peak ${(r.peakRssKiB / 1024).toFixed(0)} MiB ` +
      `(${r.perConnectionKiB} KiB per connection)`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { 'hold-ms': { type: 'string' }, uids: { type: 'string' }, 'per-uid': { type: 'string' }, out: { type: 'string' } },
  });
  const results = await runNonReaders({
    holdMs: Number(values['hold-ms'] ?? 10_000),
    uids: Number(values.uids ?? 25),
    perUid: Number(values['per-uid'] ?? 40),
  });
  process.stdout.write(`${nonReaderLines(results).join('\n')}\n`);
  if (values.out) await writeFile(values.out, `${JSON.stringify(results, null, 2)}\n`);
}
