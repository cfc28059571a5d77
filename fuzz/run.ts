// npm run fuzz [-- OPTIONS]: protocol fuzzing of utmpsd and of the UCSPI daemons
// (s6-ipcserver + utmps-utmpd / utmps-wtmpd). Needs root (the agent runs as nobody) and s6.
// Prints the seed first; the same seed gives the same cases. Exit 0 when no invariant was
// violated, 1 otherwise, 100 on usage errors.

import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { CASE_KINDS } from './cases.js';
import { type FuzzReport, runFuzz } from './core.js';
import { TARGET_KINDS, type TargetKind } from './target.js';

const USAGE = `usage: npm run fuzz -- [options]
  --seed N            PRNG seed (default: random; printed either way)
  --cases N           random cases per transport (default 1000)
  --from K            number of the first case (replay case K: --seed S --from K --cases 1 --no-sweep)
  --transport T       utmpsd, ucspi or both (default both, one after the other)
  --duration S        stop after S seconds in all (split evenly between transports)
  --no-sweep          skip sending every command byte 0..255 first
  --max-violations N  stop a transport after N violations (default 20)
  --timeout MS        the daemons' body/answer deadline, -t (default 2000)
  --scratch DIR       where the scratch directory goes (default /tmp)
  --keep              keep the scratch directory
  --quiet             no progress lines
case kinds: ${CASE_KINDS.join(', ')}`;

function usage(message: string): never {
  process.stderr.write(`fuzz: fatal: ${message}\n${USAGE}\n`);
  process.exit(100);
}

function integer(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) usage(`${name} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      seed: { type: 'string' },
      cases: { type: 'string' },
      from: { type: 'string' },
      transport: { type: 'string' },
      duration: { type: 'string' },
      'no-sweep': { type: 'boolean' },
      'max-violations': { type: 'string' },
      timeout: { type: 'string' },
      scratch: { type: 'string' },
      keep: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  usage((e as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (process.getuid?.() !== 0) usage('the fuzzer needs root: it plays nobody through setpriv');

const seed = integer('--seed', values.seed, randomInt(0, 2 ** 32 - 1)) >>> 0;
const cases = integer('--cases', values.cases, 1000);
const transportText = values.transport ?? 'both';
const transports: TargetKind[] =
  transportText === 'both'
    ? [...TARGET_KINDS]
    : TARGET_KINDS.includes(transportText as TargetKind)
      ? [transportText as TargetKind]
      : usage(`--transport must be utmpsd, ucspi or both, got '${transportText}'`);
const durationS = values.duration === undefined ? undefined : integer('--duration', values.duration, 0);

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
say(`fuzz: seed ${seed} (reproduce with --seed ${seed}), ${cases} cases per transport on ${transports.join(', ')}`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // The servers are killed on the way out (target.ts), even when quitting at once.
    if (stopping) process.exit(130);
    stopping = true;
    say(`fuzz: ${signal}: finishing the current case (again to quit at once)`);
  });
}

const reports: FuzzReport[] = [];
for (const transport of transports) {
  if (stopping) break;
  const report = await runFuzz({
    transport,
    seed,
    cases,
    from: integer('--from', values.from, 0),
    durationMs: durationS === undefined ? undefined : (durationS * 1000) / transports.length,
    sweep: !values['no-sweep'],
    maxViolations: integer('--max-violations', values['max-violations'], 20),
    daemonTimeoutMs: integer('--timeout', values.timeout, 2000),
    scratch: values.scratch,
    keep: values.keep,
    log: values.quiet ? (line) => line.startsWith('VIOLATION') && say(line) : say,
    shouldStop: () => stopping,
  });
  reports.push(report);
}

let violations = 0;
for (const r of reports) {
  violations += r.violations.length;
  say(
    `\n[${r.transport}] seed ${r.seed}: ${r.cases} random cases + ${r.sweepCases} sweep cases, ${r.conversations} connections, ` +
      `${(r.bytesSent / 1e6).toFixed(1)} MB sent, ${r.acknowledgedWrites} writes acknowledged, ${(r.elapsedMs / 1000).toFixed(0)} s` +
      (r.restarts ? `, ${r.restarts} server restarts` : '') +
      (r.stoppedEarly ? ` (stopped early: ${r.stoppedEarly})` : ''),
  );
  say(`  kinds: ${Object.entries(r.kinds).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const warnings = Object.entries(r.warnings).sort((x, y) => y[1] - x[1]);
  if (warnings.length > 0) {
    say('  daemon warnings (numbers and paths blanked):');
    for (const [w, n] of warnings.slice(0, 25)) say(`    ${String(n).padStart(7)}  ${w}`);
  }
  say(`  violations: ${r.violations.length}`);
  for (const v of r.violations) say(`    ${v.description}\n      ${v.problem}`);
}
process.exit(violations === 0 ? 0 : 1);
