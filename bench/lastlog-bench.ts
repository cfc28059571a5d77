// utmps lastlog against util-linux last on the same large wtmp (glibc layout,
// bench/last-gen-wtmp.ts), side by side: there is no other tool that derives each user's
// latest login from wtmp, and `last` reads the same file the same way (backwards, in
// full), so it is the yardstick. Also `utmps last` itself, and lastlog through a wtmpd
// socket (utmps-wtmpd under s6-ipcserver, when s6-ipcserver is installed).
//
//   node dist/bench/lastlog-bench.js [--records 1000000] [--shapes mixed,users] [--runs 5]
//
// Each scenario runs --runs times in pairs with util-linux last, alternating which goes
// first; median wall time, median and range of the paired ratios, peak RSS from
// /usr/bin/time -v. Output to /dev/null. TZ=UTC LC_ALL=C.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateWtmp, type Shape, SHAPES } from './last-gen-wtmp.js';
import { median } from './stats.js';
import { fmtKb, fmtMs, type Sample, timedRun } from './timed.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const UTMPS = join(ROOT, 'bin', 'utmps');
const ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

const { values: opts } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    shapes: { type: 'string', default: 'mixed,users' },
    runs: { type: 'string', default: '5' },
  },
});

const measure = (cmd: string, args: string[]): Sample => timedRun(cmd, args, ENV);

/** utmps-wtmpd serving file under s6-ipcserver; null without s6-ipcserver. */
async function serve(dir: string, file: string): Promise<{ socket: string; stop: () => void } | null> {
  if (spawnSync('sh', ['-c', 'command -v s6-ipcserver']).status !== 0) return null;
  const socket = join(dir, '.wtmpd-socket');
  const child: ChildProcess = spawn('s6-ipcserver', ['-1', socket, join(ROOT, 'bin', 'utmps-wtmpd'), '-F', 'glibc', '-U', join(dir, 'utmp'), file], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((resolve) => child.stdout!.once('data', resolve));
  await sleep(50);
  return { socket, stop: () => child.kill() };
}

async function main(): Promise<void> {
  const runs = Number(opts.runs);
  const records = Number(opts.records);
  const shapes = opts.shapes.split(',') as Shape[];
  if (shapes.some((s) => !SHAPES.includes(s))) throw new Error(`--shapes takes some of ${SHAPES.join(',')}`);
  const dir = mkdtempSync(join(tmpdir(), 'lastlog-bench-'));
  const rows: string[][] = [];
  try {
    for (const shape of shapes) {
      const file = join(dir, `wtmp-${shape}`);
      generateWtmp(file, records, 1, shape);
      const users = spawnSync(process.execPath, [UTMPS, 'lastlog', '--json', '-f', file], { env: ENV, maxBuffer: 1 << 28 });
      const distinct = (JSON.parse(users.stdout.toString()) as unknown[]).length;
      process.stderr.write(`${shape}: ${records} records, ${distinct} users listed\n`);
      const server = await serve(dir, file);
      const scenarios: Array<[string, string[]]> = [
        ['utmps lastlog -f', [UTMPS, 'lastlog', '-f', file]],
        ['utmps lastlog (socket)', server ? [UTMPS, 'lastlog', '-W', server.socket] : []],
        ['utmps last -f', [UTMPS, 'last', '-f', file]],
      ];
      try {
        for (const [name, args] of scenarios) {
          if (args.length === 0) continue;
          const ours: Sample[] = [];
          const theirs: Sample[] = [];
          for (let i = 0; i < runs; i++) {
            const a = (): number => ours.push(measure(process.execPath, args));
            const b = (): number => theirs.push(measure('last', ['-f', file]));
            if (i % 2 === 0) {
              a();
              b();
            } else {
              b();
              a();
            }
          }
          const ratios = ours.map((s, i) => s.ms / theirs[i].ms);
          rows.push([
            shape,
            name,
            fmtMs(median(ours.map((s) => s.ms))),
            fmtMs(median(theirs.map((s) => s.ms))),
            `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`,
            fmtKb(Math.max(...ours.map((s) => s.rssKb))),
            fmtKb(Math.max(...theirs.map((s) => s.rssKb))),
          ]);
          process.stderr.write(`${rows[rows.length - 1].join('  ')}\n`);
        }
      } finally {
        server?.stop();
      }
    }
    const head = ['shape', 'scenario', 'ours', 'util-linux last -f', 'paired ratio (range)', 'our peak RSS', 'last peak RSS'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
    process.stdout.write(`\n${records} records, median of ${runs} alternating pairs, output to /dev/null; node ${process.version}\n\n`);
    process.stdout.write(`${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
    for (const r of rows) process.stdout.write(`${line(r)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`lastlog-bench: fatal: ${(e as Error).message}\n`);
  process.exit(111);
});
