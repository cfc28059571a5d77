// utmps ship throughput (records/s), side by side in one run: to stdout (JSON and RFC 5424,
// into /dev/null) and to a local TCP sink (RFC 5424, octet counting), with and without a
// cursor file (one atomic, fsynced write per batch), on one large synthetic wtmp (glibc
// layout, bench/last-gen-wtmp.ts). Each case runs --no-follow to the end of the file;
// the median of --reps runs is reported.
//
//   npm run bench:ship -- [--records N] [--reps R]

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateWtmp } from './last-gen-wtmp.js';

const { values } = parseArgs({ options: { records: { type: 'string' }, reps: { type: 'string' } } });
const RECORDS = Number(values.records ?? 500_000);
const REPS = Number(values.reps ?? 3);
const ROOT = join(import.meta.dirname, '..', '..');
const UTMPS = join(ROOT, 'bin', 'utmps');

interface Case {
  name: string;
  args: (dir: string, port: number) => string[];
  tcp?: boolean;
}

const CASES: Case[] = [
  { name: 'stdout, json', args: () => ['--to', '-'] },
  { name: 'stdout, rfc5424', args: () => ['--to', '-', '--format', 'rfc5424'] },
  { name: 'tcp, rfc5424', args: (_d, p) => ['--to', `tcp://127.0.0.1:${p}`], tcp: true },
  { name: 'tcp, rfc5424, cursor file', args: (d, p) => ['--to', `tcp://127.0.0.1:${p}`, '--cursor-file', join(d, 'cursor')], tcp: true },
  { name: 'tcp, rfc5424, cursor, --cursor-interval 1000', args: (d, p) => ['--to', `tcp://127.0.0.1:${p}`, '--cursor-file', join(d, 'cursor'), '--cursor-interval', '1000'], tcp: true },
  { name: 'tcp, rfc5424, cursor, --batch 1024', args: (d, p) => ['--to', `tcp://127.0.0.1:${p}`, '--cursor-file', join(d, 'cursor'), '--batch', '1024'], tcp: true },
];

interface Sample {
  rate: number;
  /** CPU seconds (user + system) per record, in microseconds; NaN without /usr/bin/time. */
  cpuUs: number;
  rssMb: number;
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

async function runOnce(c: Case, dir: string, wtmp: string): Promise<Sample> {
  rmSync(join(dir, 'cursor'), { force: true });
  let bytes = 0;
  const sink = createServer((s) => s.on('data', (b: Buffer) => (bytes += b.length)));
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  const port = (sink.address() as { port: number }).port;
  const devnull = openSync('/dev/null', 'w');
  const start = process.hrtime.bigint();
  const argv = ['ship', '-f', wtmp, '--no-follow', ...c.args(dir, port)];
  // /usr/bin/time gives the child's CPU time and peak RSS, which the load of a shared
  // machine distorts far less than the wall clock.
  const child = TIME
    ? spawn(TIME, ['-f', 'BENCH %M %U %S', UTMPS, ...argv], { stdio: ['ignore', devnull, 'pipe'] })
    : spawn(UTMPS, argv, { stdio: ['ignore', devnull, 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  closeSync(devnull);
  sink.close();
  const m = /sent (\d+) /.exec(err);
  if (code !== 0 || !m || Number(m[1]) !== RECORDS) throw new Error(`${c.name}: exit ${code}: ${err}`);
  if (c.tcp && bytes === 0) throw new Error(`${c.name}: the sink got nothing`);
  const t = /BENCH (\d+) ([\d.]+) ([\d.]+)/.exec(err);
  return {
    rate: RECORDS / seconds,
    cpuUs: t ? ((Number(t[2]) + Number(t[3])) * 1e6) / RECORDS : NaN,
    rssMb: t ? Number(t[1]) / 1024 : NaN,
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shipb-'));
  try {
    const wtmp = join(dir, 'wtmp');
    generateWtmp(wtmp, RECORDS, 1, 'mixed');
    process.stdout.write(`utmps ship throughput, ${RECORDS} records (glibc layout, mixed shape), median of ${REPS}, Node ${process.version}\n\n`);
    process.stdout.write('| case | records/s (wall) | relative | CPU µs/record | relative | peak RSS MB |\n|---|---|---|---|---|---|\n');
    // Rounds interleave the cases, so drift in the machine's load hits them alike.
    const samples = new Map<string, Sample[]>(CASES.map((c) => [c.name, []]));
    for (let r = 0; r < REPS; r++) for (const c of CASES) samples.get(c.name)!.push(await runOnce(c, dir, wtmp));
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const rows = CASES.map((c) => {
      const s = samples.get(c.name)!;
      return { name: c.name, rate: median(s.map((x) => x.rate)), cpu: median(s.map((x) => x.cpuUs)), rss: Math.max(...s.map((x) => x.rssMb)) };
    });
    const [base] = rows;
    for (const r of rows) {
      process.stdout.write(
        `| ${r.name} | ${Math.round(r.rate).toLocaleString('en')} | ${(r.rate / base.rate).toFixed(2)} | ${r.cpu.toFixed(1)} | ${(r.cpu / base.cpu).toFixed(2)} | ${r.rss.toFixed(0)} |\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
