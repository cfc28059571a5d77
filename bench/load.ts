// utmps-ts-load: the same measurements as utmps-bench (shared/tools/README.md), made with our
// own client library (src/client), plus 'who-ext', a listing with the getall extension.
//
//   node dist/bench/load.js -U UTMPD_SOCKET -W WTMPD_SOCKET -o OP [-n CLIENTS] [-P PROCESSES]
//        [-d SECONDS] [-k K] [-e EXPECTED] [-m prefill:N] [-w WARMUP_OPS] [-t IO_TIMEOUT] [--json]
//
// OP: login | wtmp | who | who-ext | session. The CLIENTS clients are spread over PROCESSES
// worker processes (default min(CLIENTS, 4)); each client is its own connection loop, so
// within a worker they overlap as the async I/O allows. Workers are separate Node processes:
// the server never shares a process, an event loop or a heap with its load.
//
// The run follows utmps-bench: the parent prefills, starts the workers, waits until each one
// is ready (modules loaded, records built, up to WARMUP_OPS untimed ops per client within
// 300 ms, default 3), reads the monotonic clock (t0) and releases them all at once. Each
// client starts ops until S seconds
// after its release; an op in progress finishes. wall = t0 → the end of the last client's
// loop; ops/s = successful ops / wall; percentiles are the sample at round(p·(n−1)).
// Records: USER_PROCESS, line L%05u, id C%03x, user load<i>, host localhost, tv = the client's
// start time, tv_usec raised by 1 before every send. Prefill: line P%05u, id P%03x, user pre<i>.
//
// Exit status as utmps-bench: 0 no errors, 1 some errors, 100 usage, 111 setup failure.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { appendWtmp, UtmpsError, UtmpSession } from '../src/client/index.js';
import { buildRecord } from '../src/record/index.js';
import { summarise } from './stats.js';

export const LOAD_OPS = ['login', 'wtmp', 'who', 'who-ext', 'session'] as const;
export type LoadOp = (typeof LOAD_OPS)[number];

const WARMUP_MS = 300;

const ERROR_KINDS = ['connect', 'timeout', 'eof', 'short', 'io', 'answer', 'count', 'client'] as const;
type ErrorKind = (typeof ERROR_KINDS)[number];

interface Config {
  utmpd?: string;
  wtmpd?: string;
  op: LoadOp;
  clients: number;
  processes: number;
  durationS: number;
  k: number;
  expected?: number;
  prefill: number;
  warmup: number;
  ioTimeoutMs: number;
}

/** What one worker sends back: counters and raw latencies (µs). */
interface WorkerResult {
  ops: number;
  puts: number;
  endNs: string;
  errors: Record<ErrorKind, number>;
  answerErrnos: Record<string, number>;
  firstError: string | null;
  latencies: number[];
  putLatencies: number[];
  scans: number;
  recordsMin: number | null;
  recordsMax: number | null;
  extensionUsed: number;
}

function die(code: number, message: string): never {
  process.stderr.write(`utmps-ts-load: ${code === 100 ? 'usage' : 'fatal'}: ${message}\n`);
  process.exit(code);
}

function number(name: string, text: string | undefined, fallback: number, min: number, integer = true): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < min || (integer && !Number.isInteger(v))) die(100, `${name} must be a number >= ${min}, got '${text}'`);
  return v;
}

function parseConfig(argv: string[]): { config: Config; json: boolean; worker?: { first: number; count: number } } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        utmpd: { type: 'string', short: 'U' },
        wtmpd: { type: 'string', short: 'W' },
        op: { type: 'string', short: 'o' },
        clients: { type: 'string', short: 'n' },
        processes: { type: 'string', short: 'P' },
        duration: { type: 'string', short: 'd' },
        k: { type: 'string', short: 'k' },
        expected: { type: 'string', short: 'e' },
        mode: { type: 'string', short: 'm' },
        warmup: { type: 'string', short: 'w' },
        timeout: { type: 'string', short: 't' },
        json: { type: 'boolean' },
        worker: { type: 'string' },
      },
    }));
  } catch (e) {
    die(100, (e as Error).message);
  }
  const op = values.op as LoadOp;
  if (!LOAD_OPS.includes(op)) die(100, `-o must be one of ${LOAD_OPS.join(', ')}`);
  const clients = number('-n', values.clients, 1, 1);
  let prefill = 0;
  if (values.mode !== undefined) {
    if (!values.mode.startsWith('prefill:')) die(100, '-m takes prefill:N');
    prefill = number('prefill', values.mode.slice(8), 0, 0);
  }
  const config: Config = {
    utmpd: values.utmpd,
    wtmpd: values.wtmpd,
    op,
    clients,
    processes: Math.min(clients, number('-P', values.processes, Math.min(clients, 4), 1)),
    durationS: number('-d', values.duration, 3, 0, false),
    k: number('-k', values.k, 100, 1),
    expected: values.expected === undefined ? undefined : number('-e', values.expected, 0, 0),
    prefill,
    warmup: number('-w', values.warmup, 3, 0),
    ioTimeoutMs: number('-t', values.timeout, 10, 0, false) * 1000,
  };
  if (op === 'wtmp' ? !config.wtmpd : !config.utmpd) die(100, `-o ${op} needs ${op === 'wtmp' ? '-W' : '-U'}`);
  if (prefill && !config.utmpd) die(100, '-m prefill:N needs -U');
  let worker: { first: number; count: number } | undefined;
  if (values.worker !== undefined) {
    const [first, count] = values.worker.split(',').map(Number);
    worker = { first, count };
  }
  return { config, json: values.json ?? false, worker };
}

function classify(e: unknown): { kind: ErrorKind; errno?: number } {
  if (!(e instanceof UtmpsError)) return { kind: 'io' };
  if (e.code === 'ETIMEDOUT' || e.code === 'ABORT_ERR') return { kind: 'timeout' };
  if (e.code === 'ECONNRESET') return { kind: 'eof' };
  if (e.code === 'EPROTO') return { kind: 'short' };
  if (e.code === 'EPIPE' || e.code === 'EIO') return { kind: 'io' };
  if (e.op === 'connect' || (e.op === 'append' && ['ECONNREFUSED', 'ENOENT', 'EAGAIN', 'ENOTSOCK'].includes(e.code))) {
    return { kind: 'connect' };
  }
  // Anything else came from the server as a status byte (statusError).
  return { kind: 'answer', errno: e.errno };
}

/** One client: its own record, rewritten with tv_usec + 1 before every send. */
class Client {
  readonly #line: string;
  readonly #id: string;
  readonly #user: string;
  readonly #tvSec: number;
  #tvUsec: number;

  constructor(index: number) {
    this.#line = `L${String(index).padStart(5, '0')}`;
    this.#id = `C${(index % 4096).toString(16).padStart(3, '0')}`;
    this.#user = `load${index}`;
    const now = Date.now();
    this.#tvSec = Math.floor(now / 1000);
    this.#tvUsec = (now % 1000) * 1000;
  }

  record(): Buffer {
    this.#tvUsec = (this.#tvUsec + 1) % 1_000_000;
    return buildRecord({
      type: 'USER_PROCESS',
      pid: process.pid,
      line: this.#line,
      id: this.#id,
      user: this.#user,
      host: 'localhost',
      tvSec: this.#tvSec,
      tvUsec: this.#tvUsec,
    });
  }
}

function hrUs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

class Worker {
  readonly result: WorkerResult = {
    ops: 0,
    puts: 0,
    endNs: '0',
    errors: Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>,
    answerErrnos: {},
    firstError: null,
    latencies: [],
    putLatencies: [],
    scans: 0,
    recordsMin: null,
    recordsMax: null,
    extensionUsed: 0,
  };

  constructor(readonly config: Config) {}

  fail(e: unknown, kind?: ErrorKind): void {
    const c = kind ? { kind } : classify(e);
    this.result.errors[c.kind]++;
    if (c.errno !== undefined) this.result.answerErrnos[c.errno] = (this.result.answerErrnos[c.errno] ?? 0) + 1;
    this.result.firstError ??= e instanceof Error ? e.message : String(e);
  }

  #scanned(n: number): boolean {
    const r = this.result;
    r.scans++;
    r.recordsMin = r.recordsMin === null ? n : Math.min(r.recordsMin, n);
    r.recordsMax = r.recordsMax === null ? n : Math.max(r.recordsMax, n);
    if (this.config.expected !== undefined && n !== this.config.expected) {
      this.fail(new Error(`${this.config.op} read ${n} records, expected ${this.config.expected}`), 'count');
      return false;
    }
    return true;
  }

  /** One op; returns whether it succeeded. `timed` false during the warm-up. */
  async op(client: Client, timed: boolean): Promise<boolean> {
    const c = this.config;
    const opts = { path: c.utmpd, timeoutMs: c.ioTimeoutMs };
    switch (c.op) {
      case 'login': {
        const s = await UtmpSession.connect(opts);
        try {
          await s.put(client.record());
        } finally {
          s.close();
        }
        return true;
      }
      case 'wtmp':
        await appendWtmp(client.record(), { path: c.wtmpd, timeoutMs: c.ioTimeoutMs });
        return true;
      case 'who': {
        const s = await UtmpSession.connect(opts);
        let n = 0;
        try {
          await s.rewind();
          while (await s.next()) n++;
        } finally {
          s.close();
        }
        return this.#scanned(n);
      }
      case 'who-ext': {
        const s = await UtmpSession.connect(opts);
        let n: number;
        try {
          n = (await s.readAll()).length;
          if (s.extensions === true && timed) this.result.extensionUsed++;
        } finally {
          s.close();
        }
        return this.#scanned(n);
      }
      case 'session': {
        const s = await UtmpSession.connect(opts);
        try {
          for (let i = 0; i < c.k; i++) {
            const t = process.hrtime.bigint();
            await s.put(client.record());
            if (timed) {
              this.result.puts++;
              this.result.putLatencies.push(hrUs(t));
            }
          }
        } finally {
          s.close();
        }
        return true;
      }
    }
  }

  /** Up to `warmup` untimed ops, and no more than WARMUP_MS (a slow server gains nothing). */
  async warm(client: Client): Promise<void> {
    const end = process.hrtime.bigint() + BigInt(WARMUP_MS * 1e6);
    for (let i = 0; i < this.config.warmup && process.hrtime.bigint() < end; i++) await this.op(client, false).catch(() => {});
    // The warm-up scans are not part of the run.
    Object.assign(this.result, { scans: 0, recordsMin: null, recordsMax: null });
  }

  async loop(client: Client, deadline: bigint): Promise<void> {
    while (process.hrtime.bigint() < deadline) {
      const t = process.hrtime.bigint();
      try {
        if (await this.op(client, true)) {
          this.result.ops++;
          this.result.latencies.push(hrUs(t));
        }
      } catch (e) {
        this.fail(e);
      }
    }
  }
}

/** Worker process: clients first..first+count-1; "R\n" when ready, runs on any byte in. */
async function workerMain(config: Config, first: number, count: number): Promise<void> {
  const worker = new Worker(config);
  const clients = Array.from({ length: count }, (_, j) => new Client(first + j));
  // Warm-up: JIT the client path before the clock starts, as a C client needs no warm-up.
  const warmErrors = { ...worker.result.errors };
  await Promise.all(clients.map((c) => worker.warm(c)));
  Object.assign(worker.result.errors, warmErrors);
  worker.result.firstError = null;
  worker.result.answerErrnos = {};
  process.stdout.write('R\n');
  process.stdin.resume();
  await once(process.stdin, 'data');
  const release = process.hrtime.bigint();
  const deadline = release + BigInt(Math.round(config.durationS * 1e9));
  await Promise.all(clients.map((c) => worker.loop(c, deadline)));
  worker.result.endNs = String(process.hrtime.bigint());
  process.stdout.write(JSON.stringify(worker.result) + '\n', () => process.exit(0));
}

async function prefill(config: Config): Promise<void> {
  const s = await UtmpSession.connect({ path: config.utmpd, timeoutMs: config.ioTimeoutMs });
  try {
    const now = Date.now();
    for (let i = 0; i < config.prefill; i++) {
      await s.put(
        buildRecord({
          type: 'USER_PROCESS',
          pid: process.pid,
          line: `P${String(i).padStart(5, '0')}`,
          id: `P${(i % 4096).toString(16).padStart(3, '0')}`,
          user: `pre${i}`,
          host: 'localhost',
          tvSec: Math.floor(now / 1000),
          tvUsec: (now % 1000) * 1000,
        }),
      );
    }
  } finally {
    s.close();
  }
}

interface Spawned {
  ready: Promise<void>;
  result: Promise<WorkerResult | undefined>;
  go(): void;
  kill(): void;
}

function spawnWorker(argv: string[], first: number, count: number): Spawned {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--worker', `${first},${count}`], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.startsWith('R\n')) readyResolve();
  });
  const result = new Promise<WorkerResult | undefined>((resolve) => {
    child.once('close', () => {
      readyReject(new Error('a worker exited before it was ready'));
      const line = out.split('\n')[1];
      try {
        resolve(line ? (JSON.parse(line) as WorkerResult) : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
  child.stdin!.on('error', () => {});
  return {
    ready,
    result,
    go: () => child.stdin!.end('G'),
    kill: () => child.kill('SIGKILL'),
  };
}

function merge(config: Config, t0: bigint, results: (WorkerResult | undefined)[], workers: number): Record<string, unknown> {
  const errors = Object.fromEntries(ERROR_KINDS.map((k) => [k, 0])) as Record<ErrorKind, number>;
  const answerErrnos: Record<string, number> = {};
  const latencies: number[] = [];
  const putLatencies: number[] = [];
  let ops = 0;
  let puts = 0;
  let end = t0;
  let firstError: string | null = null;
  let scans = 0;
  let recordsMin: number | null = null;
  let recordsMax: number | null = null;
  let extensionUsed = 0;
  for (const r of results) {
    if (!r) {
      errors.client++;
      firstError ??= 'a worker sent back no result';
      continue;
    }
    ops += r.ops;
    puts += r.puts;
    for (const k of ERROR_KINDS) errors[k] += r.errors[k];
    for (const [k, v] of Object.entries(r.answerErrnos)) answerErrnos[k] = (answerErrnos[k] ?? 0) + v;
    for (const v of r.latencies) latencies.push(v);
    for (const v of r.putLatencies) putLatencies.push(v);
    const e = BigInt(r.endNs);
    if (e > end) end = e;
    firstError ??= r.firstError;
    scans += r.scans;
    if (r.recordsMin !== null) recordsMin = recordsMin === null ? r.recordsMin : Math.min(recordsMin, r.recordsMin);
    if (r.recordsMax !== null) recordsMax = recordsMax === null ? r.recordsMax : Math.max(recordsMax, r.recordsMax);
    extensionUsed += r.extensionUsed;
  }
  const wall = Number(end - t0) / 1e9;
  const total = ERROR_KINDS.reduce((a, k) => a + errors[k], 0);
  const lat = summarise(latencies);
  const out: Record<string, unknown> = {
    tool: 'utmps-ts-load',
    op: config.op,
    clients: config.clients,
    processes: workers,
    duration_s: config.durationS,
    prefill: config.prefill,
    warmup_ops: config.warmup,
    io_timeout_s: config.ioTimeoutMs / 1000,
    ops,
    wall_s: wall,
    ops_per_s: wall > 0 ? ops / wall : 0,
    latency_us: lat,
    errors: { total, ...errors },
    answer_errnos: answerErrnos,
    first_error: firstError,
  };
  if (config.op === 'who' || config.op === 'who-ext') {
    out.who = { expected: config.expected ?? null, scans, records_min: recordsMin, records_max: recordsMax };
    if (config.op === 'who-ext') (out.who as Record<string, unknown>).extension_used = extensionUsed;
  }
  if (config.op === 'session') {
    out.session = { k: config.k, puts, puts_per_s: wall > 0 ? puts / wall : 0, put_latency_us: summarise(putLatencies) };
  }
  return out;
}

function text(r: Record<string, unknown>): string {
  const lat = r.latency_us as { p50: number; p99: number; max: number };
  const errors = r.errors as Record<string, number>;
  const parts = [
    `op=${r.op}`,
    `clients=${r.clients}`,
    `processes=${r.processes}`,
    `ops=${r.ops}`,
    `errors=${errors.total}`,
    `wall_s=${(r.wall_s as number).toFixed(3)}`,
    `ops_per_s=${(r.ops_per_s as number).toFixed(1)}`,
    `p50_us=${lat.p50.toFixed(1)}`,
    `p99_us=${lat.p99.toFixed(1)}`,
    `max_us=${lat.max.toFixed(1)}`,
  ];
  if (r.session) {
    const s = r.session as { puts: number; puts_per_s: number };
    parts.push(`puts=${s.puts}`, `puts_per_s=${s.puts_per_s.toFixed(1)}`);
  }
  return parts.join(' ');
}

async function parentMain(argv: string[], config: Config, json: boolean): Promise<number> {
  if (config.prefill) {
    try {
      await prefill(config);
    } catch (e) {
      if (json) process.stdout.write(JSON.stringify({ tool: 'utmps-ts-load', op: config.op, setup_error: `prefill: ${(e as Error).message}` }) + '\n');
      else process.stderr.write(`utmps-ts-load: fatal: prefill: ${(e as Error).message}\n`);
      return 111;
    }
  }
  // Spread the clients as evenly as possible over the workers.
  const spawned: Spawned[] = [];
  const base = Math.floor(config.clients / config.processes);
  const extra = config.clients % config.processes;
  let first = 0;
  for (let w = 0; w < config.processes; w++) {
    const count = base + (w < extra ? 1 : 0);
    spawned.push(spawnWorker(argv, first, count));
    first += count;
  }
  const killAll = (): void => spawned.forEach((s) => s.kill());
  process.once('SIGTERM', () => {
    killAll();
    process.exit(143);
  });
  process.once('SIGINT', () => {
    killAll();
    process.exit(130);
  });
  try {
    await Promise.all(spawned.map((s) => s.ready));
  } catch (e) {
    killAll();
    process.stderr.write(`utmps-ts-load: fatal: ${(e as Error).message}\n`);
    return 111;
  }
  const t0 = process.hrtime.bigint();
  for (const s of spawned) s.go();
  const results = await Promise.all(spawned.map((s) => s.result));
  const out = merge(config, t0, results, spawned.length);
  process.stdout.write((json ? JSON.stringify(out) : text(out)) + '\n');
  if (!json && out.first_error) process.stderr.write(`utmps-ts-load: first error: ${out.first_error}\n`);
  return (out.errors as { total: number }).total ? 1 : 0;
}

const argv = process.argv.slice(2);
const { config, json, worker } = parseConfig(argv);
if (worker) {
  await workerMain(config, worker.first, worker.count);
} else {
  // Workers get the same options; only the parent acts on the prefill.
  process.exitCode = await parentMain(argv, config, json);
}
