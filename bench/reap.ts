// The reaper's costs (docs/REAPING.md): what utmpsd needs to watch N live sessions, and
// how soon a killed session is ended.
//
//   npm run bench:reap -- [--sessions 10000] [--runs 30] [--poll-ms 1000]
//
// N real processes (`sleep`, one per session, started by one sh loop in its own process
// group) and a utmp file (utmps layout) with one USER_PROCESS entry per process. utmpsd is
// started on that file three ways, side by side in one run: --no-reap (the baseline),
// --reap-with pidfd (the default) and --reap-with proc (the fallback where pidfd_open is
// missing). For each: the time to readiness (the start-up pass arms every watch), VmRSS,
// open fds, CPU used over an idle 10 s; then --runs times: a fresh process, its putline
// through the socket, kill -9, and the time until the entry reads DEAD_PROCESS in the file.
// Then bench/reap-heap.ts: the JS heap the reaper keeps per session, after forced GCs.
// Scratch on a real disk (os.tmpdir()), as the other benches.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { UtmpSession } from '../src/client/index.js';
import { buildRecord } from '../src/record/index.js';
import { RecordType, UTMPS_LAYOUT } from '../src/record/layout.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UTMPSD = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');

const { values: opts } = parseArgs({
  options: {
    sessions: { type: 'string', default: '10000' },
    runs: { type: 'string', default: '30' },
    'poll-ms': { type: 'string', default: '1000' },
    'idle-s': { type: 'string', default: '10' },
  },
});
const N = Number(opts.sessions);
const RUNS = Number(opts.runs);
const POLL_MS = Number(opts['poll-ms']);
const IDLE_S = Number(opts['idle-s']);
const TICK = 100; // USER_HZ

const groups: number[] = [];
function cleanup(): void {
  for (const g of groups.splice(0)) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => process.exit(130));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** N sleeping processes from one sh loop; their pids in start order. */
async function sleepers(n: number): Promise<number[]> {
  const sh = spawn('sh', ['-c', `i=0; while [ $i -lt ${n} ]; do sleep 100000 & echo $!; i=$((i+1)); done; echo done; wait`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  groups.push(sh.pid!);
  let out = '';
  sh.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  while (!out.includes('done')) await sleep(50);
  return out.split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
}

function status(pid: number): { rssKb: number; hwmKb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0);
  return { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
}

async function startUtmpsd(dir: string, args: string[]): Promise<{ child: ChildProcess; readyMs: number; log: () => string }> {
  const t0 = performance.now();
  // As bin/utmpsd runs it.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', UTMPSD, '--state-dir', dir, '--notify-fd', '3', '-q', ...args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  groups.push(child.pid!);
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  await new Promise<void>((resolve, reject) => {
    (child.stdio[3] as Readable).on('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`utmpsd exited (${code}): ${log}`)));
  });
  return { child, readyMs: performance.now() - t0, log: () => log };
}

async function stopUtmpsd(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function typeAt(fd: number, index: number): number {
  const b = Buffer.alloc(2);
  readSync(fd, b, 0, 2, index * UTMPS_LAYOUT.size + UTMPS_LAYOUT.type);
  return b.readInt16LE(0);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.round(p * (s.length - 1))];
}

interface Result {
  name: string;
  readyMs: number;
  rssKb: number;
  fds: number;
  cpuPct: number;
  latency: number[];
}

async function measure(name: string, args: string[], pids: number[], reaps: boolean): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), 'reap-bench-'));
  try {
    const t = Math.floor(Date.now() / 1000) + 1;
    const entries = pids.map((pid, i) =>
      buildRecord({ type: 'USER_PROCESS', pid, line: `b/${i}`, id: i.toString(36), user: 'root', tvSec: t }),
    );
    writeFileSync(join(dir, 'utmp'), Buffer.concat(entries), { mode: 0o640 });
    const { child, readyMs, log } = await startUtmpsd(dir, args);
    try {
      await sleep(500);
      const { rssKb } = status(child.pid!);
      const fds = readdirSync(`/proc/${child.pid}/fd`).length;
      const c0 = cpuTicks(child.pid!);
      await sleep(IDLE_S * 1000);
      const cpuPct = ((cpuTicks(child.pid!) - c0) / TICK / IDLE_S) * 100;
      const latency: number[] = [];
      if (reaps) {
        const session = await UtmpSession.connect({ path: join(dir, '.utmpd-socket') });
        const fd = openSync(join(dir, 'utmp'), 'r');
        try {
          for (let r = 0; r < RUNS; r++) {
            const p = spawn('sleep', ['100000'], { stdio: 'ignore' });
            await sleep(20);
            // ids "~0"... match none of the prefilled base-36 ids: the put appends at N + r.
            const index = N + r;
            await session.put({ type: 'USER_PROCESS', pid: p.pid!, line: `k/${r}`, id: `~${r}`, user: 'root', tvSec: Math.floor(Date.now() / 1000) + 1 });
            const exited = new Promise((res) => p.once('exit', res));
            const t0 = performance.now();
            p.kill('SIGKILL');
            for (;;) {
              if (typeAt(fd, index) === RecordType.DEAD_PROCESS) break;
              if (performance.now() - t0 > POLL_MS * 3 + 10_000) throw new Error(`${name}: run ${r} was not reaped: ${log()}`);
              await sleep(1);
            }
            latency.push(performance.now() - t0);
            await exited;
          }
        } finally {
          closeSync(fd);
          session.close();
        }
      }
      return { name, readyMs, rssKb, fds, cpuPct, latency };
    } finally {
      await stopUtmpsd(child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

async function main(): Promise<void> {
  process.stdout.write(`reap bench: ${N} sessions, one sleeping process each; ${RUNS} kill -9 runs; /proc poll every ${POLL_MS} ms\n`);
  const t0 = performance.now();
  const pids = await sleepers(N);
  if (pids.length !== N) throw new Error(`started ${pids.length} of ${N} processes`);
  process.stdout.write(`started ${N} processes in ${fmt((performance.now() - t0) / 1000)} s\n`);
  const results: Result[] = [];
  for (const [name, args, reaps] of [
    ['--no-reap', ['--no-reap'], false],
    // --reap-grace 0: the latency of the watch itself, without the login program's grace.
    ['pidfd', ['--reap-with', 'pidfd', '--reap-grace', '0'], true],
    ['proc', ['--reap-with', 'proc', '--reap-poll', String(POLL_MS), '--reap-grace', '0'], true],
  ] as const) {
    results.push(await measure(name, [...args], pids, reaps));
    process.stdout.write(`measured ${name}\n`);
  }
  const base = results[0];
  process.stdout.write('\n| utmpsd | ready after | VmRSS | over --no-reap | per session | open fds | idle CPU | reap p50 | p95 | max |\n');
  process.stdout.write('|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of results) {
    const extra = r.rssKb - base.rssKb;
    const lat = r.latency.length ? [pct(r.latency, 0.5), pct(r.latency, 0.95), Math.max(...r.latency)].map((x) => `${fmt(x)} ms`) : ['-', '-', '-'];
    process.stdout.write(
      `| ${r.name} | ${fmt(r.readyMs, 0)} ms | ${fmt(r.rssKb / 1024)} MiB | ${fmt(extra / 1024)} MiB | ${fmt((extra * 1024) / N, 0)} B | ${r.fds} | ${fmt(r.cpuPct, 2)} % | ${lat.join(' | ')} |\n`,
    );
  }
  // Polled watches: the one set entry more than pidfd watches hold.
  const heap = spawnSync(process.execPath, ['--expose-gc', join(ROOT, 'dist', 'bench', 'reap-heap.js'), String(N)], { encoding: 'utf8' });
  process.stdout.write(`\nretained by the reaper in JS, per session (fake host, /proc mode, after gc): ${heap.stdout.trim() || heap.stderr}\n`);
  cleanup();
}

main().catch((e: unknown) => {
  process.stderr.write(`reap bench: ${(e as Error).stack ?? String(e)}\n`);
  cleanup();
  process.exit(1);
});
