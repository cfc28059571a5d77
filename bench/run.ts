// npm run bench [-- OPTIONS]: our two servers side by side, under the neutral C load client
// (shared/tools/utmps-bench) and under our own TypeScript client (bench/load.ts).
// See docs/BENCHMARKS.md.
//
// For each scenario both servers start fresh, in scratch directories on a real disk; then
// for each client count and repetition every load case runs once against each server,
// alternating which server goes first. Figures are medians over the repetitions. At the end,
// utmpsd's memory with 1,000 idle connections. Results: a table on stdout, and
// bench/results/latest.json (and latest.md).

import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildCBench } from './cbench.js';
import { nonReaderLines, type NonReaderResult, runNonReaders } from './nonreaders.js';
import { installSignalHandlers, interrupted, runJson, spawnGroup, stopAll, stopGroup } from './procs.js';
import {
  LOADER_NAMES,
  type Loader,
  markdownTable,
  type MemoryResult,
  memoryLines,
  echoTargets,
  REFERENCE,
  type Run,
  summarise,
  targetLines,
  targets,
  textTable,
} from './report.js';
import { procMemory, SERVER_KINDS, type Server, type ServerKind, serves, startServer } from './servers.js';
import { DIST_BENCH, machineInfo, ROOT, scratchBase } from './system.js';

const USAGE = `usage: npm run bench -- [options]
  --quick                 1 repetition, 1 s runs, clients 1,16, who over 0 and 1000 entries
                          (also UTMPS_BENCH_QUICK=1)
  --scenarios LIST        from login,wtmp,who:0,who:100,who:1000,session (default: all)
  --clients LIST          concurrent clients (default 1,4,16)
  --reps N                repetitions, the median is reported (default 3)
  --duration S            seconds per run (default 1)
  --loaders LIST          c,ts (default both)
  --servers LIST          utmpsd,ucspi,echo (default all; echo: a bare Node server, who only)
  --ts-processes N        worker processes of the TS load generator, at most (default 4)
  --utmpsd-node-options=S node options for utmpsd, space-separated (--utmpsd-node-options='--max-semi-space-size=2')
  --no-memory | --memory-only
  --nonreaders            also: peak RSS of utmpsd under clients that pipeline and never
                          read, at the per-uid cap and at the total cap (needs root)
  --nonreaders-only       only that
  --out FILE              JSON results (default bench/results/latest.json)
  --keep-tmp              keep the scratch directory
environment: UTMPS_SHARED_DIR (default ROOT/../shared), UTMPS_BENCH_TMP (scratch base)`;

type BaseOp = 'login' | 'wtmp' | 'who' | 'session';
interface Scenario {
  name: string;
  op: BaseOp;
  entries?: number;
}

const ALL_SCENARIOS: readonly Scenario[] = [
  { name: 'login', op: 'login' },
  { name: 'wtmp', op: 'wtmp' },
  { name: 'who:0', op: 'who', entries: 0 },
  { name: 'who:100', op: 'who', entries: 100 },
  { name: 'who:1000', op: 'who', entries: 1000 },
  { name: 'session', op: 'session' },
];
const SESSION_K = 100;
const MEMORY_CONNECTIONS = 1000;
const MEMORY_GOAL_MIB = 60;

function die(code: number, message: string): never {
  process.stderr.write(`bench: ${code === 100 ? 'usage' : 'fatal'}: ${message}\n`);
  process.exit(code);
}

function list(text: string | undefined, fallback: string[]): string[] {
  return text === undefined ? fallback : text.split(',').map((s) => s.trim()).filter(Boolean);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        quick: { type: 'boolean' },
        scenarios: { type: 'string' },
        clients: { type: 'string' },
        reps: { type: 'string' },
        duration: { type: 'string' },
        loaders: { type: 'string' },
        servers: { type: 'string' },
        'ts-processes': { type: 'string' },
        'utmpsd-node-options': { type: 'string' },
        'no-memory': { type: 'boolean' },
        'memory-only': { type: 'boolean' },
        nonreaders: { type: 'boolean' },
        'nonreaders-only': { type: 'boolean' },
        out: { type: 'string' },
        'keep-tmp': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    die(100, `${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick ?? process.env.UTMPS_BENCH_QUICK === '1';
  const names = list(values.scenarios, quick ? ['login', 'wtmp', 'who:0', 'who:1000', 'session'] : ALL_SCENARIOS.map((s) => s.name));
  const scenarios = names.map((n) => ALL_SCENARIOS.find((s) => s.name === n) ?? die(100, `unknown scenario '${n}'\n${USAGE}`));
  const clients = list(values.clients, quick ? ['1', '16'] : ['1', '4', '16']).map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > 256) die(100, `bad client count '${c}'`);
    return n;
  });
  const positive = (name: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const v = Number(text);
    if (!(v > 0)) die(100, `${name} must be > 0, got '${text}'`);
    return v;
  };
  const loaders = list(values.loaders, ['c', 'ts']).map((l) => (l === 'c' || l === 'ts' ? (l as Loader) : die(100, `unknown loader '${l}'`)));
  const kinds = list(values.servers, [...SERVER_KINDS]).map((k) =>
    SERVER_KINDS.includes(k as ServerKind) ? (k as ServerKind) : die(100, `unknown server '${k}'`),
  );
  return {
    quick,
    scenarios,
    clients,
    reps: Math.round(positive('--reps', values.reps, quick ? 1 : 3)),
    durationS: positive('--duration', values.duration, 1),
    loaders,
    kinds,
    tsProcesses: Math.round(positive('--ts-processes', values['ts-processes'], 4)),
    utmpsdNodeArgs: values['utmpsd-node-options'] === undefined ? undefined : values['utmpsd-node-options'].split(/\s+/).filter(Boolean),
    memoryOnly: (values['memory-only'] ?? false) || (values['nonreaders-only'] ?? false),
    memory: !values['no-memory'] && !values['nonreaders-only'],
    nonreaders: (values.nonreaders ?? false) || (values['nonreaders-only'] ?? false),
    out: values.out ?? join(ROOT, 'bench', 'results', 'latest.json'),
    keepTmp: values['keep-tmp'] ?? false,
  };
}

type Options = ReturnType<typeof options>;

/** What one load case runs: a loader and its op for a scenario. */
interface Case {
  loader: Loader;
  op: string;
}

function casesFor(s: Scenario, loaders: readonly Loader[]): Case[] {
  const out: Case[] = [];
  for (const loader of loaders) {
    out.push({ loader, op: s.op });
    if (loader === 'ts' && s.op === 'who') out.push({ loader, op: 'who-ext' });
  }
  return out;
}

/** who: the exact number of entries every listing must return; every op: the run's length. */
interface LoadExtra {
  entries?: number;
  durationS: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class Bench {
  readonly runs: Run[] = [];
  readonly started = new Date();
  #done = 0;

  constructor(
    readonly opts: Options,
    readonly scratch: string,
    readonly cBench: string,
  ) {}

  #args(loader: Loader, op: string, clients: number, server: Server, extra: LoadExtra): [string, string[]] {
    const common = ['-U', server.utmpSocket, '-W', server.wtmpSocket, '-o', op, '-n', String(clients), '-d', String(extra.durationS), '--json'];
    if (op === 'session') common.push('-k', String(SESSION_K));
    if (extra.entries !== undefined) common.push('-e', String(extra.entries));
    if (loader === 'c') return [this.cBench, common];
    return [process.execPath, [join(DIST_BENCH, 'load.js'), ...common, '-P', String(Math.min(clients, this.opts.tsProcesses))]];
  }

  async #load(loader: Loader, op: string, clients: number, server: Server, extra: LoadExtra): Promise<Record<string, unknown>> {
    if (interrupted()) throw new Error('interrupted');
    const [cmd, args] = this.#args(loader, op, clients, server, extra);
    return runJson(cmd, args, server.dir, (extra.durationS + 120) * 1000);
  }

  /** Fresh servers for a scenario: prefilled, and warmed by a short untimed run. */
  async #servers(s: Scenario): Promise<Map<ServerKind, Server>> {
    const servers = new Map<ServerKind, Server>();
    const tag = s.name.replace(':', '-');
    for (const kind of this.opts.kinds.filter((k) => serves(k, s.op))) {
      if (interrupted()) throw new Error('interrupted');
      const server = await startServer(kind, join(this.scratch, `${kind}-${tag}`), { nodeArgs: this.opts.utmpsdNodeArgs });
      servers.set(kind, server);
      if (s.entries) await runJson(this.cBench, ['-U', server.utmpSocket, '-o', 'who', '-c', '0', '-m', `prefill:${s.entries}`, '--json'], server.dir, 300_000);
      // Warm-up (utmpsd's JIT, the page cache): a short run, not recorded.
      await this.#load('c', s.op, 4, server, { entries: s.entries, durationS: 0.3 });
    }
    return servers;
  }

  total(): number {
    const { scenarios, clients, reps, kinds, loaders } = this.opts;
    const per = (s: Scenario): number => casesFor(s, loaders).reduce((a, c) => a + kinds.filter((k) => serves(k, c.op)).length, 0);
    return scenarios.reduce((a, s) => a + per(s), 0) * clients.length * reps;
  }

  async scenario(s: Scenario): Promise<void> {
    const servers = await this.#servers(s);
    try {
      for (const clients of this.opts.clients) {
        for (let rep = 0; rep < this.opts.reps; rep++) {
          for (const c of casesFor(s, this.opts.loaders)) {
            // Alternate which server goes first, so drift on a shared machine evens out.
            const kinds = [...servers.keys()];
            if (rep % 2) kinds.reverse();
            // The echo server answers the plain protocol only, not the getall extension.
            for (const kind of kinds) if (kind !== 'echo' || c.op === 'who') await this.#one(s, c, clients, rep, servers.get(kind)!);
          }
        }
      }
    } finally {
      for (const server of servers.values()) await server.stop();
    }
  }

  async #one(s: Scenario, c: Case, clients: number, rep: number, server: Server): Promise<void> {
    const r = await this.#load(c.loader, c.op, clients, server, { entries: s.entries, durationS: this.opts.durationS });
    const lat = r.latency_us as { p50: number; p99: number };
    const errors = (r.errors as { total: number }).total;
    const session = r.session as { puts_per_s: number; put_latency_us: { p50: number; p99: number } } | undefined;
    const run: Run = {
      loader: c.loader,
      op: c.op,
      entries: s.entries,
      clients,
      kind: server.kind,
      rep,
      opsPerS: r.ops_per_s as number,
      p50Ms: lat.p50 / 1000,
      p99Ms: lat.p99 / 1000,
      errors,
      firstError: (r.first_error as string | null) ?? null,
      putsPerS: session?.puts_per_s,
      putP50Ms: session ? session.put_latency_us.p50 / 1000 : undefined,
      putP99Ms: session ? session.put_latency_us.p99 / 1000 : undefined,
      raw: r,
    };
    if (c.op === 'who-ext') {
      const used = (r.who as { extension_used?: number } | undefined)?.extension_used ?? 0;
      if (used !== r.ops) run.firstError ??= `getall was used for ${used} of ${r.ops} listings`;
    }
    this.runs.push(run);
    this.#done++;
    const puts = run.putsPerS === undefined ? '' : `, ${Math.round(run.putsPerS)} puts/s`;
    const err = errors ? `, ${errors} errors (${run.firstError})` : '';
    process.stderr.write(
      `[${this.#done}/${this.total()}] ${c.loader} ${c.op}${s.entries === undefined ? '' : ` ${s.entries}`} n=${clients} ${server.kind} #${rep + 1}: ` +
        `${run.opsPerS.toFixed(1)} ops/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms${puts}${err}\n`,
    );
  }

  /**
   * utmpsd's resident memory with 1,000 idle connections held by a separate process: right
   * after the start, with the connections open, then after a short load on top of them.
   */
  async memory(): Promise<MemoryResult> {
    // Root is exempt from the per-uid cap; -c lifts the total (default 1000) above the test.
    const server = await startServer('utmpsd', join(this.scratch, 'utmpsd-memory'), {
      extra: ['-c', String(2 * MEMORY_CONNECTIONS)],
      nodeArgs: this.opts.utmpsdNodeArgs,
    });
    try {
      const pid = server.pids[0];
      await sleep(500);
      const fresh = await procMemory(pid);
      const hold = spawnGroup(process.execPath, [join(DIST_BENCH, 'hold.js'), server.utmpSocket, String(MEMORY_CONNECTIONS)], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let log = '';
      hold.stderr!.on('data', (c: Buffer) => (log += c.toString()));
      try {
        await new Promise<void>((resolve, reject) => {
          let out = '';
          const timer = setTimeout(() => reject(new Error('hold: not ready after 60 s')), 60_000);
          hold.stdout!.on('data', (c: Buffer) => {
            out += c.toString();
            if (out.includes('\n')) {
              clearTimeout(timer);
              resolve();
            }
          });
          hold.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`hold exited with ${code}: ${log.trim()}`));
          });
        });
        await sleep(1000);
        const idle = await procMemory(pid);
        const sockets = await socketCount(pid);
        // The same connections still open, after some work (heap growth, JIT code, buffers).
        for (const op of ['login', 'wtmp', 'who']) await this.#load('c', op, 4, server, { durationS: 0.5 });
        await sleep(1000);
        const loaded = await procMemory(pid);
        return {
          connections: MEMORY_CONNECTIONS,
          serverSockets: sockets,
          freshRssKiB: fresh.rssKiB,
          rssKiB: idle.rssKiB,
          anonKiB: idle.anonKiB,
          fileKiB: idle.fileKiB,
          afterLoadRssKiB: loaded.rssKiB,
          hwmKiB: loaded.hwmKiB,
          goalMiB: MEMORY_GOAL_MIB,
          samplesRssKiB: [idle.rssKiB],
        };
      } finally {
        await stopGroup(hold);
      }
    } finally {
      await server.stop();
    }
  }
}

/** Sockets a process has open: its idle client connections plus the listeners. */
async function socketCount(pid: number): Promise<number> {
  let n = 0;
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    try {
      if ((await readlink(`/proc/${pid}/fd/${fd}`)).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

function referenceLines(): string[] {
  return [
    'C utmps reference (C daemons under s6-ipcserver, C client, same machine kind; from the issue):',
    `  login ~${REFERENCE.loginPerS}/s and wtmp append ~${REFERENCE.wtmpPerS}/s at 16 clients,`,
    `  who over 1,000 entries ${REFERENCE.whoPerS1000} listings/s, sessions ${REFERENCE.sessionPutsPerS} putlines/s.`,
    '  Targets for utmpsd: >= 3x login and wtmp, >= 2x session putlines, >= parity for a 1000-entry',
    '  who with the plain protocol, >= 10x for it with the getall extension.',
  ];
}

async function main(): Promise<void> {
  const opts = options();
  const { base, mount, why } = scratchBase();
  const scratch = await mkdtemp(join(base, 'utb-'));
  installSignalHandlers(async () => {
    if (!opts.keepTmp) await rm(scratch, { recursive: true, force: true });
  });
  const machine = machineInfo(scratch);
  process.stderr.write(
    `bench: scratch ${scratch} (${mount?.device ?? '?'} ${mount?.fsType ?? '?'}; ${why}); ` +
      `${machine.cores} x ${machine.cpu}, node ${machine.node}, load ${machine.loadavg.join(' ')}\n`,
  );
  let cBench: string;
  try {
    cBench = await buildCBench(scratch);
  } catch (e) {
    await rm(scratch, { recursive: true, force: true });
    die(111, (e as Error).message);
  }
  const bench = new Bench(opts, scratch, cBench);
  let memory: MemoryResult | undefined;
  let nonreaders: NonReaderResult[] | undefined;
  let failure: Error | undefined;
  try {
    if (!opts.memoryOnly) {
      process.stderr.write(
        `bench: ${bench.total()} runs of ${opts.durationS} s (${opts.reps} rep(s), clients ${opts.clients.join(',')}, ` +
          `scenarios ${opts.scenarios.map((s) => s.name).join(',')})\n`,
      );
      for (const s of opts.scenarios) await bench.scenario(s);
    }
    if (opts.nonreaders) nonreaders = await runNonReaders({ holdMs: 10_000, uids: 25, perUid: 40 });
    if (opts.memory) {
      // Repeated like the rest (it moves by a MiB or two); the median run is reported.
      const samples: MemoryResult[] = [];
      for (let i = 0; i < opts.reps; i++) samples.push(await bench.memory());
      samples.sort((a, b) => a.rssKiB - b.rssKiB);
      memory = { ...samples[(samples.length - 1) >> 1], samplesRssKiB: samples.map((m) => m.rssKiB) };
    }
  } catch (e) {
    failure = e as Error;
    // After a signal the failure is only the teardown; the handler exits, nothing is written.
    if (interrupted()) return;
    process.stderr.write(`bench: error: ${failure.message}\n`);
  } finally {
    await stopAll();
  }

  const rows = summarise(bench.runs);
  const goals = [...targets(rows), ...echoTargets(rows)];
  const finished = new Date();
  const loadAfter = machineInfo(scratch).loadavg;
  const text: string[] = [];
  const md: string[] = [];
  text.push(`utmps-ts bench, ${bench.started.toISOString()}: median of ${opts.reps} run(s) of ${opts.durationS} s each`);
  md.push(`Run ${bench.started.toISOString()}: median of ${opts.reps} run(s) of ${opts.durationS} s each.`);
  for (const loader of opts.loaders) {
    const mine = rows.filter((r) => r.loader === loader);
    if (!mine.length) continue;
    text.push('', `${LOADER_NAMES[loader]}:`, textTable(mine));
    md.push('', `**${LOADER_NAMES[loader]}**`, '', markdownTable(mine));
  }
  const errored = rows.filter((r) => r.firstError);
  if (errored.length) {
    text.push('', 'Errors (first of each row):', ...errored.map((r) => `  ${r.loader} ${r.label} n=${r.clients}: ${r.firstError}`));
    md.push('', 'Errors (first of each row):', '', ...errored.map((r) => `- ${r.loader} ${r.label} n=${r.clients}: ${r.firstError}`));
  }
  text.push('', ...referenceLines());
  if (rows.length) {
    text.push('', 'Targets (utmpsd):', ...targetLines(goals));
    md.push('', 'Targets (utmpsd):', '', '```', ...targetLines(goals), '```');
  }
  if (memory) {
    text.push('', 'Memory:', ...memoryLines(memory));
    md.push('', 'Memory:', '', '```', ...memoryLines(memory), '```');
  }
  if (nonreaders) {
    text.push('', 'Non-readers:', ...nonReaderLines(nonreaders));
    md.push('', 'Non-readers:', '', '```', ...nonReaderLines(nonreaders), '```');
  }
  text.push('', `machine: ${machine.cores} x ${machine.cpu}, ${machine.memoryGiB} GiB, kernel ${machine.kernel}, node ${machine.node}, s6 ${machine.s6 ?? '?'}`);
  text.push(`scratch fs: ${machine.scratch.device ?? '?'} (${machine.scratch.fsType ?? '?'}) at ${machine.scratch.mountPoint ?? '?'}; load average before ${machine.loadavg.join(' ')}, after ${loadAfter.join(' ')}`);
  process.stdout.write(text.join('\n') + '\n');

  const result = {
    tool: 'utmps-ts bench',
    started: bench.started.toISOString(),
    finished: finished.toISOString(),
    options: { ...opts, scenarios: opts.scenarios.map((s) => s.name) },
    machine: { ...machine, loadavgAfter: loadAfter },
    reference: REFERENCE,
    targets: goals,
    memory: memory ?? null,
    nonreaders: nonreaders ?? null,
    summary: rows,
    runs: bench.runs,
    error: failure?.message ?? null,
  };
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, JSON.stringify(result, null, 1) + '\n');
  await writeFile(opts.out.replace(/\.json$/, '') + '.md', md.join('\n') + '\n');
  process.stderr.write(`bench: results in ${opts.out}\n`);
  if (!opts.keepTmp) await rm(scratch, { recursive: true, force: true });
  process.exitCode = failure ? 111 : 0;
}

await main();
