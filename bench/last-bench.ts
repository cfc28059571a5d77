// utmps last against util-linux last on large synthetic wtmp files (glibc layout), one
// per history shape (bench/last-gen-wtmp.ts).
//
//   node dist/bench/last-bench.js [--sizes 1000000] [--shapes mixed,open,...] [--runs 5] [--keep]
//
// For each shape and size: the full listing (to /dev/null) and `-n 10`, each run --runs
// times in pairs, alternating which program goes first; median wall time, the median and
// range of the paired ratios (ours / theirs, each pair run back to back), and peak RSS
// (from /usr/bin/time -v, else by watching VmHWM in /proc). Then `utmps last -n 10`
// against `node -e 0`, paired the same way: what our start costs above Node's.
// Both outputs are compared once per file: they must be identical. TZ=UTC LC_ALL=C.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateWtmp, type Shape, SHAPES } from './last-gen-wtmp.js';
import { median } from './stats.js';
import { fmtKb, fmtMs, type Sample, TIME, timedRun } from './timed.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UTMPS = join(ROOT, 'bin', 'utmps');
const ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000000' },
    shapes: { type: 'string', default: SHAPES.join(',') },
    runs: { type: 'string', default: '5' },
    keep: { type: 'boolean', default: false },
  },
});

/** Peak RSS by polling /proc/PID/status (VmHWM) while the child runs. */
async function watched(cmd: string, args: string[], out: number): Promise<Sample> {
  const start = process.hrtime.bigint();
  const child: ChildProcess = spawn(cmd, args, { env: ENV, stdio: ['ignore', out, 'ignore'] });
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'latin1'));
      if (m) peak = Math.max(peak, Number(m[1]));
    } catch {
      // gone already
    }
  }, 2);
  await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(poll);
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, rssKb: peak };
}

async function measure(cmd: string, args: string[]): Promise<Sample> {
  if (existsSync(TIME)) return timedRun(cmd, args, ENV);
  const out = openSync('/dev/null', 'w');
  try {
    return await watched(cmd, args, out);
  } finally {
    closeSync(out);
  }
}


function digest(cmd: string, args: string[]): { hash: string; lines: number } {
  const r = spawnSync(cmd, args, { env: ENV, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr.toString()}`);
  return { hash: createHash('sha256').update(r.stdout).digest('hex'), lines: r.stdout.toString('latin1').split('\n').length - 1 };
}


async function main(): Promise<void> {
  const runs = Number(opts.runs);
  const dir = mkdtempSync(join(tmpdir(), 'last-bench-'));
  const sizes = opts.sizes.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(runs >= 1)) throw new Error('--sizes takes record counts, --runs a count');
  const rows: string[][] = [];
  try {
    const shapes = opts.shapes.split(',') as Shape[];
    if (shapes.some((s) => !SHAPES.includes(s))) throw new Error(`--shapes takes some of ${SHAPES.join(',')}`);
    let small = '';
    for (const shape of shapes) for (const n of sizes) {
      const file = join(dir, `wtmp-${shape}-${n}`);
      small = file;
      const t = Date.now();
      generateWtmp(file, n, 1, shape);
      process.stderr.write(`${shape}: generated ${n} records (${(n * 384) / 1e6} MB) in ${Date.now() - t} ms\n`);

      const ours = digest(process.execPath, [UTMPS, 'last', '-f', file]);
      const theirs = digest('last', ['-f', file]);
      if (ours.hash !== theirs.hash) throw new Error(`outputs differ on ${shape} ${n} records (${ours.lines} vs ${theirs.lines} lines)`);
      process.stderr.write(`outputs identical: ${ours.lines} lines\n`);

      for (const [name, extra] of [['full listing', []], ['-n 10', ['-n', '10']]] as const) {
        const a: Sample[] = [];
        const b: Sample[] = [];
        for (let i = 0; i < runs; i++) {
          const runOurs = (): Promise<Sample> => measure(process.execPath, [UTMPS, 'last', ...extra, '-f', file]);
          const runTheirs = (): Promise<Sample> => measure('last', [...extra, '-f', file]);
          // Alternate which goes first, so neither always meets a warmer cache.
          if (i % 2 === 0) {
            a.push(await runOurs());
            b.push(await runTheirs());
          } else {
            b.push(await runTheirs());
            a.push(await runOurs());
          }
        }
        const ratios = a.map((s, i) => s.ms / b[i].ms);
        rows.push([
          shape,
          String(n),
          name,
          fmtMs(median(a.map((s) => s.ms))),
          fmtMs(median(b.map((s) => s.ms))),
          `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
          fmtKb(Math.max(...a.map((s) => s.rssKb))),
          fmtKb(Math.max(...b.map((s) => s.rssKb))),
        ]);
        process.stderr.write(`${rows[rows.length - 1].join('  ')}\n`);
      }
    }

    // Start to exit: `utmps last -n 10` against Node's own start, in pairs.
    const bare: number[] = [];
    const quick: number[] = [];
    for (let i = 0; i < Math.max(runs, 10); i++) {
      const node = (): Promise<Sample> => measure(process.execPath, ['-e', '0']);
      const last = (): Promise<Sample> => measure(process.execPath, [UTMPS, 'last', '-n', '10', '-f', small]);
      if (i % 2 === 0) {
        bare.push((await node()).ms);
        quick.push((await last()).ms);
      } else {
        quick.push((await last()).ms);
        bare.push((await node()).ms);
      }
    }
    const extra = quick.map((q, i) => q - bare[i]);

    const head = ['shape', 'records', 'scenario', 'utmps last', 'util-linux last', 'paired ratio (range)', 'utmps peak RSS', 'util-linux peak RSS'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i])).join('  ');
    process.stdout.write(`\nutmps last vs util-linux last: median wall time of ${runs} alternating runs, output to /dev/null\n`);
    process.stdout.write(`peak RSS from ${existsSync(TIME) ? '/usr/bin/time -v' : 'VmHWM polling'}; node ${process.version}\n\n`);
    process.stdout.write(`${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
    for (const r of rows) process.stdout.write(`${line(r)}\n`);
    process.stdout.write(
      `\nstart to exit, ${bare.length} pairs: node -e 0 ${fmtMs(median(bare))}, utmps last -n 10 ${fmtMs(median(quick))}, ` +
        `paired difference ${fmtMs(median(extra))} (${fmtMs(Math.min(...extra))} to ${fmtMs(Math.max(...extra))})\n`,
    );
  } finally {
    if (opts.keep) process.stderr.write(`files kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`last-bench: fatal: ${(e as Error).message}\n`);
  process.exit(111);
});
