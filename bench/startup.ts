// Start to exit of the short-lived programs against `node -e 0`, in rounds: every program
// runs once per round, in an order that flips every round, and each one's time is taken
// minus the same round's `node -e 0`. Wall time, and CPU time (user + system, from
// /usr/bin/time): on a busy machine the CPU figure is the steadier one.
//
//   node dist/bench/startup.js [--runs 31]
//
// Programs: `utmps last -n 10 -f FILE` (a generated 100,000-record wtmp), and the UCSPI
// daemons utmps-utmpd and utmps-wtmpd on an empty connection (stdin and stdout are pipes,
// stdin empty, IPCREMOTEEUID/IPCREMOTEEGID set as s6-ipcserver sets them), each through
// bin/ (the bundle) and straight from the compiled module tree (dist/src), for comparison.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateWtmp } from './last-gen-wtmp.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TIME = '/usr/bin/time';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '31' } } });

interface Program {
  name: string;
  cmd: string[];
  /** The daemons want a connection: pipes on stdin and stdout. */
  connection?: boolean;
  /** Its exit status on that connection (utmps-wtmpd: 111, "the client sent nothing", as upstream). */
  status?: number;
}

function run(p: Program, cwd: string): { wallMs: number; cpuMs: number } {
  const env = { ...process.env, TZ: 'UTC', LC_ALL: 'C', IPCREMOTEEUID: '0', IPCREMOTEEGID: '0', PROTO: 'IPC' };
  const start = process.hrtime.bigint();
  const r = spawnSync(TIME, ['-f', '%U %S', ...p.cmd], { cwd, env, input: p.connection ? '' : undefined, stdio: [p.connection ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== (p.status ?? 0)) throw new Error(`${p.cmd.join(' ')}: exit ${r.status}: ${r.stderr.toString()}`);
  const m = /([\d.]+) ([\d.]+)\s*$/.exec(r.stderr.toString());
  if (!m) throw new Error(`no times from ${TIME}: ${r.stderr.toString()}`);
  return { wallMs, cpuMs: (Number(m[1]) + Number(m[2])) * 1000 };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function main(): void {
  const runs = Number(opts.runs);
  if (!(runs >= 1)) throw new Error('--runs takes a count');
  const dir = mkdtempSync(join(tmpdir(), 'startup-bench-'));
  try {
    const wtmp = join(dir, 'wtmp');
    generateWtmp(wtmp, 100_000, 1, 'mixed');
    const node = process.execPath;
    const bin = (name: string): string => join(ROOT, 'bin', name);
    const src = (name: string): string => join(ROOT, 'dist', 'src', 'cli', `${name}.js`);
    const programs: Program[] = [
      { name: 'node -e 0', cmd: [node, '-e', '0'] },
      { name: 'utmps last -n 10 (bin/, bundle)', cmd: [node, bin('utmps'), 'last', '-n', '10', '-f', wtmp] },
      { name: 'utmps last -n 10 (dist/src)', cmd: [node, src('utmps'), 'last', '-n', '10', '-f', wtmp] },
      { name: 'utmps-utmpd, empty connection (bin/, bundle)', cmd: [node, bin('utmps-utmpd')], connection: true },
      { name: 'utmps-utmpd, empty connection (dist/src)', cmd: [node, src('utmps-utmpd')], connection: true },
      { name: 'utmps-wtmpd, empty connection (bin/, bundle)', cmd: [node, bin('utmps-wtmpd'), 'wtmp'], connection: true, status: 111 },
      { name: 'utmps-wtmpd, empty connection (dist/src)', cmd: [node, src('utmps-wtmpd'), 'wtmp'], connection: true, status: 111 },
    ];
    const wall = programs.map(() => [] as number[]);
    const cpu = programs.map(() => [] as number[]);
    for (let i = 0; i < runs; i++) {
      const order = programs.map((_, j) => j);
      if (i % 2) order.reverse();
      for (const j of order) {
        const t = run(programs[j], dir);
        wall[j].push(t.wallMs);
        cpu[j].push(t.cpuMs);
      }
    }
    const f = (ms: number): string => `${ms.toFixed(1)} ms`;
    const d = (ms: number): string => `${ms >= 0 ? '+' : ''}${ms.toFixed(1)} ms`;
    process.stdout.write(`start to exit, ${runs} rounds, node ${process.version}; differences are paired with the same round's node -e 0\n\n`);
    process.stdout.write('| program | wall (median) | wall - node | CPU (mean) | CPU - node |\n|---|---:|---:|---:|---:|\n');
    programs.forEach((p, j) => {
      const dw = wall[j].map((w, i) => w - wall[0][i]);
      // /usr/bin/time counts in 10 ms ticks: the mean over the rounds, not the median.
      const dc = cpu[j].map((c, i) => c - cpu[0][i]);
      process.stdout.write(`| ${p.name} | ${f(median(wall[j]))} | ${j ? d(median(dw)) : ''} | ${f(mean(cpu[j]))} | ${j ? d(mean(dc)) : ''} |\n`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
