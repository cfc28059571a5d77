// npm run bench:seal [-- OPTIONS]: what the forward-secure seal costs (docs/SEALING.md).
//   1. wtmp append throughput of utmpsd without and with --seal-key, side by side in one run:
//      the neutral C load client (shared/tools/utmps-bench, op wtmp), each server fresh per
//      run, the order alternating; medians over the repetitions and the ratio.
//   2. utmps verify on a wtmp of N records (default 1,000,000): the records are generated
//      (glibc layout), utmpsd --seal-key seals them all at start-up (adoption, timed), then
//      verify is timed on the intact pair and on a copy with one byte flipped near the end.
// Results: a table on stdout and bench/results/seal.json.

import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCBench } from './cbench.js';
import { installSignalHandlers, runJson, spawnGroup, stopAll, stopGroup } from './procs.js';
import { type Server, startServer } from './servers.js';
import { machineInfo, ROOT, scratchBase } from './system.js';
import { GLIBC_LAYOUT as G } from '../src/record/layout.js';

const UTMPS = join(ROOT, 'dist', 'src', 'cli', 'utmps.js');
const UTMPSD = join(ROOT, 'dist', 'src', 'cli', 'utmpsd.js');

const { values } = parseArgs({
  options: {
    clients: { type: 'string' },
    reps: { type: 'string' },
    duration: { type: 'string' },
    records: { type: 'string' },
    quick: { type: 'boolean' },
    'verify-only': { type: 'boolean' },
    out: { type: 'string' },
  },
});
const quick = values.quick || process.env.UTMPS_BENCH_QUICK === '1';
const clients = (values.clients ?? (quick ? '1,16' : '1,4,16')).split(',').map(Number);
const reps = Number(values.reps ?? (quick ? 2 : 6));
const duration = values.duration ?? (quick ? '1' : '2');
const records = Number(values.records ?? (quick ? 100_000 : 1_000_000));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function sealInit(key: string, interval = '15m'): string {
  const r = spawnSync(process.execPath, [UTMPS, 'seal', 'init', '--key', key, '--interval', interval], { encoding: 'latin1' });
  if (r.status !== 0) throw new Error(`seal init: ${r.stderr}`);
  writeFileSync(join(key, '..', 'vk'), r.stdout);
  return r.stdout.trim();
}

/** utime + stime of a process, in clock ticks (1/100 s), from /proc/PID/stat. */
function cpuTicks(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

/** N glibc USER_PROCESS/DEAD_PROCESS records, written in large blocks. */
function generateWtmp(path: string, n: number): void {
  const per = 4096;
  const block = Buffer.alloc(per * G.size);
  const fd = openSync(path, 'w', 0o640);
  try {
    for (let first = 0; first < n; first += per) {
      const count = Math.min(per, n - first);
      block.fill(0);
      for (let i = 0; i < count; i++) {
        const k = first + i;
        const at = i * G.size;
        block.writeInt16LE(k % 2 === 0 ? 7 : 8, at + G.type);
        block.writeInt32LE(1000 + (k % 30000), at + G.pid);
        block.write(`pts/${k % 512}`, at + G.line, 32, 'latin1');
        block.write(`${k % 512}`, at + G.id, 4, 'latin1');
        if (k % 2 === 0) block.write(`user${k % 400}`, at + G.user, 32, 'latin1');
        block.write(`host${k % 300}.example`, at + G.host, 256, 'latin1');
        block.writeInt32LE(1_700_000_000 + k, at + G.tvSec);
      }
      writeSync(fd, block, 0, count * G.size);
    }
  } finally {
    closeSync(fd);
  }
}

/** Wall time and CPU time (user + system) of a command, through /usr/bin/time. */
function timed(args: string[]): { ms: number; cpuMs: number; peakMiB: number; status: number | null; out: string } {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, ...args], { encoding: 'latin1', maxBuffer: 1 << 24 });
  const lines = r.stderr.trim().split('\n');
  const m = /^TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)$/.exec(lines.pop() ?? '');
  if (!m) throw new Error(`no timing from /usr/bin/time: ${r.stderr}`);
  // /usr/bin/time reports the command's own exit status as its own.
  return {
    ms: Number(m[1]) * 1000,
    cpuMs: (Number(m[2]) + Number(m[3])) * 1000,
    peakMiB: Math.round(Number(m[4]) / 1024),
    status: r.status,
    out: (r.stdout + lines.join('\n')).trim(),
  };
}

async function main(): Promise<void> {
  installSignalHandlers();
  const { base, mount, why } = scratchBase();
  const scratch = await mkdtemp(join(base, 'seal-bench-'));
  const cbench = await buildCBench(scratch);
  const info = machineInfo(scratch);
  process.stdout.write(`seal bench: scratch ${scratch} (${why}), ${info.cores} cores, load ${info.loadavg.map((x) => x.toFixed(1)).join(" ")}\n`);

  // 1. Append throughput, plain vs sealed: both servers up at once, runs alternating.
  const samples: Record<number, { plain: number[]; sealed: number[]; cpuPlain: number[]; cpuSealed: number[]; ratios: number[] }> = {};
  for (const c of values['verify-only'] ? [] : clients) {
    const servers: Record<string, Server> = {};
    for (const kind of ['plain', 'sealed']) {
      const dir = join(scratch, `${kind}-${c}`);
      await mkdir(dir, { recursive: true, mode: 0o755 });
      const extra = ['--rate-limit', '0', '-c', '1000', '-C', '1000'];
      if (kind === 'sealed') {
        sealInit(join(dir, 'key'));
        extra.push('--seal-key', join(dir, 'key'));
      }
      servers[kind] = await startServer('utmpsd', dir, { extra });
    }
    const row = (samples[c] = { plain: [] as number[], sealed: [] as number[], cpuPlain: [] as number[], cpuSealed: [] as number[], ratios: [] as number[] });
    try {
      for (let rep = 0; rep < reps; rep++) {
        const got: Record<string, number> = {};
        for (const kind of rep % 2 === 0 ? ['plain', 'sealed'] : ['sealed', 'plain']) {
          const server = servers[kind];
          const cpu0 = cpuTicks(server.pids[0]);
          const r = await runJson(cbench, ['-W', server.wtmpSocket, '-o', 'wtmp', '-n', String(c), '-d', duration, '--json'], server.dir, 120_000);
          const cpuMs = (cpuTicks(server.pids[0]) - cpu0) * 10;
          const errors = (r.errors as { total: number }).total;
          if (errors > 0) throw new Error(`${kind}, ${c} clients: ${errors} errors (${String(r.first_error)})`);
          const ops = Number(r.ops_per_s);
          const perAppendUs = (cpuMs * 1000) / Number(r.ops);
          got[kind] = ops;
          (kind === 'plain' ? row.plain : row.sealed).push(ops);
          (kind === 'plain' ? row.cpuPlain : row.cpuSealed).push(perAppendUs);
          process.stdout.write(`  clients ${c} run ${rep + 1} ${kind}: ${ops.toFixed(0)} appends/s, utmpsd CPU ${perAppendUs.toFixed(0)} us/append\n`);
        }
        row.ratios.push(got.sealed / got.plain);
      }
    } finally {
      for (const server of Object.values(servers)) await server.stop();
    }
    const sealedDir = servers.sealed.dir;
    const v = spawnSync(process.execPath, [UTMPS, 'verify', '--verify-key', readFileSync(join(sealedDir, 'vk'), 'latin1').trim(), '-f', join(sealedDir, 'wtmp')], { encoding: 'latin1' });
    if (v.status !== 0) throw new Error(`the benchmark's sealed wtmp does not verify: ${v.status} ${v.stdout}${v.stderr}`);
  }
  const appendRows = (values['verify-only'] ? [] : clients).map((c) => {
    const r = samples[c];
    return {
      clients: c,
      plainPerS: Math.round(median(r.plain)),
      sealedPerS: Math.round(median(r.sealed)),
      ratio: Number(median(r.ratios).toFixed(3)),
      cpuUsPlain: Math.round(median(r.cpuPlain)),
      cpuUsSealed: Math.round(median(r.cpuSealed)),
    };
  });

  // 2. Verify speed on `records` records.
  const vdir = join(scratch, 'verify');
  await mkdir(vdir, { recursive: true, mode: 0o755 });
  const vkey = sealInit(join(vdir, 'key'));
  const t0 = process.hrtime.bigint();
  generateWtmp(join(vdir, 'wtmp'), records);
  const genMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const t1 = process.hrtime.bigint();
  const daemon = spawnGroup(process.execPath, [UTMPSD, '--state-dir', vdir, '-F', 'glibc', '--seal-key', join(vdir, 'key'), '--notify-fd', '3', '-q'], {
    cwd: vdir,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    daemon.stdio[3]!.on('data', () => resolve());
    daemon.once('exit', (code) => reject(new Error(`utmpsd exited ${code} while sealing`)));
  });
  const adoptMs = Number(process.hrtime.bigint() - t1) / 1e6;
  await stopGroup(daemon);
  const intact = timed([UTMPS, 'verify', '--verify-key', vkey, '-f', join(vdir, 'wtmp')]);
  if (intact.status !== 0) throw new Error(`verify of the intact file: ${intact.status}: ${intact.out}`);
  copyFileSync(join(vdir, 'wtmp'), join(vdir, 'bad'));
  copyFileSync(join(vdir, 'wtmp.seal'), join(vdir, 'bad.seal'));
  const fd = openSync(join(vdir, 'bad'), 'r+');
  writeSync(fd, Buffer.from('X'), 0, 1, (records - 10) * G.size + G.host);
  closeSync(fd);
  const tampered = timed([UTMPS, 'verify', '--verify-key', vkey, '-f', join(vdir, 'bad')]);
  if (tampered.status !== 1) throw new Error(`verify of the tampered file: ${tampered.status}: ${tampered.out}`);
  const verifyRow = {
    records,
    wtmpMiB: Number(((records * G.size) / 1048576).toFixed(1)),
    sidecarMiB: Number(((records + 3) * 96 / 1048576).toFixed(1)),
    generateMs: Math.round(genMs),
    sealAtStartMs: Math.round(adoptMs),
    verifyMs: Math.round(intact.ms),
    verifyCpuMs: Math.round(intact.cpuMs),
    verifyPeakMiB: intact.peakMiB,
    verifyRecordsPerS: Math.round(records / (intact.ms / 1000)),
    verifyRecordsPerCpuS: Math.round(records / (intact.cpuMs / 1000)),
    tamperedVerifyMs: Math.round(tampered.ms),
    tamperedVerifyCpuMs: Math.round(tampered.cpuMs),
    tamperedSays: tampered.out.split('\n').find((l) => /: record \d+ \(/.test(l)),
  };

  process.stdout.write('\nwtmp appends/s, utmpsd, C client (utmps-bench -o wtmp), median of ' + `${reps} x ${duration} s\n`);
  process.stdout.write('clients  plain  --seal-key  sealed/plain (median of paired runs)  utmpsd CPU us/append plain, sealed\n');
  for (const r of appendRows) {
    process.stdout.write(
      `${String(r.clients).padStart(7)}  ${String(r.plainPerS).padStart(5)}  ${String(r.sealedPerS).padStart(10)}  ${r.ratio.toFixed(2).padStart(12)}` +
        `${String(r.cpuUsPlain).padStart(31)}, ${r.cpuUsSealed}\n`,
    );
  }
  process.stdout.write(`\nverify, ${records} records (${verifyRow.wtmpMiB} MiB wtmp + ${verifyRow.sidecarMiB} MiB seals):\n`);
  process.stdout.write(`  utmpsd sealing them at start-up: ${verifyRow.sealAtStartMs} ms\n`);
  process.stdout.write(
    `  utmps verify, intact: ${verifyRow.verifyMs} ms wall, ${verifyRow.verifyCpuMs} ms CPU (${verifyRow.verifyRecordsPerS} records/s wall, ${verifyRow.verifyRecordsPerCpuS} per CPU second), peak RSS ${verifyRow.verifyPeakMiB} MiB\n`,
  );
  process.stdout.write(`  utmps verify, a byte flipped near the end: ${verifyRow.tamperedVerifyMs} ms wall, ${verifyRow.tamperedVerifyCpuMs} ms CPU: ${verifyRow.tamperedSays}\n`);
  const out = values.out ?? join(ROOT, 'bench', 'results', 'seal.json');
  await mkdir(join(out, '..'), { recursive: true });
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), machine: info, filesystem: mount?.fsType, reps, duration, appends: appendRows, verify: verifyRow }, null, 2) + '\n');
  await rm(scratch, { recursive: true, force: true });
  await stopAll();
}

main().catch(async (e: Error) => {
  process.stderr.write(`bench:seal: fatal: ${e.message}\n`);
  await stopAll();
  process.exit(111);
});
