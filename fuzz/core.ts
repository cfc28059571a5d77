// The fuzz loop, shared by `npm run fuzz` (fuzz/run.ts) and the bounded run in the test
// suite (test/integration/hardening-fuzz.test.ts).
//
// One run: a scratch directory (searchable by nobody), files seeded with garbage and
// plausible records, the daemons of one transport in it, and an agent process running as
// nobody. Then, for every case: snapshot both files; play the case's conversations at
// once (root's here, nobody's through the agent); wait until the server has finished with
// every connection; judge (oracle.ts); check the server still answers a valid request
// (rewind -> 00, a wtmp append as root -> 00) and still runs; read its new log lines.

import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from './agent.js';
import { describeCase, type FuzzCase, makeCase, plausibleRecord, seedRecords, sweepCases } from './cases.js';
import { type Conversation, converse, type Outcome } from './conversation.js';
import { takeLock } from './locker.js';
import { RECORD } from './model.js';
import { judge, lateRecord, type LateRecord, type Played, settleLate, type Snapshot, strangeLogLine } from './oracle.js';
import { caseSeed, Prng } from './prng.js';
import { startTarget, type Target, type TargetKind } from './target.js';

export interface FuzzOptions {
  transport: TargetKind;
  seed: number;
  /** Random cases to run (after the command-byte sweep). */
  cases: number;
  /** Number of the first random case: `--from K --cases 1` replays case K. */
  from?: number;
  /** Stop after this long, even if cases remain. */
  durationMs?: number;
  /** Send every command byte 0..255 to both services first (default true). */
  sweep?: boolean;
  /** Stop after this many violations (default 20). */
  maxViolations?: number;
  /** Body/answer deadline given to the daemons with -t (default 2000 ms). */
  daemonTimeoutMs?: number;
  /** Hang guard for each conversation (default 20000 ms). */
  guardMs?: number;
  /** How long the server may keep a connection after the client closed it (default 10000 ms). */
  quiesceMs?: number;
  /** Where the scratch directory goes (default /tmp); kept afterwards when `keep`. */
  scratch?: string;
  keep?: boolean;
  /** Progress and violations, one line each. */
  log?: (line: string) => void;
  /** A progress line every this many ms (default 10000; 0: none). */
  progressMs?: number;
  /** Asked before every case: true stops the run (SIGINT). */
  shouldStop?: () => boolean;
}

export interface Violation {
  transport: TargetKind;
  case: number;
  kind: string;
  problem: string;
  description: string;
}

export interface FuzzReport {
  transport: TargetKind;
  seed: number;
  /** Random cases run. */
  cases: number;
  sweepCases: number;
  conversations: number;
  bytesSent: number;
  acknowledgedWrites: number;
  violations: Violation[];
  /** Cases per kind. */
  kinds: Record<string, number>;
  /** The daemons' warnings, with numbers blanked out, and how often each came. */
  warnings: Record<string, number>;
  elapsedMs: number;
  stoppedEarly: string | null;
  /** Times the server had to be restarted because it held on to closed connections. */
  restarts: number;
}

/** utmp and wtmp are kept below these sizes by emptying them between cases. */
const MAX_UTMP_RECORDS = 200;
const MAX_WTMP_RECORDS = 1000;
/** Cases after which an unanswered write of an aborted connection may no longer land. */
const LATE_CASES = 20;
/**
 * Log lines about nobody one case may cause: utmpsd logs a non-root peer's refusals and
 * failed connections once per (uid, reason) and window, plus one count line each; a UCSPI
 * daemon does the same for its one connection, and says why it exited.
 */
const NOBODY_LINES_PER_CASE = 40;
const NOBODY_LINES_PER_UCSPI_CONNECTION = 6;

function readSnapshot(t: Target): Snapshot {
  return { utmp: readFileSync(t.utmpFile), wtmp: readFileSync(t.wtmpFile) };
}

function normalise(line: string): string {
  return line
    .replace(/\/tmp\/[^\s:']+/g, 'PATH')
    .replace(/\d+/g, 'N')
    .slice(0, 200);
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => {});
  const maxViolations = options.maxViolations ?? 20;
  const guardMs = options.guardMs ?? 20_000;
  // A server notices a client's close at once; a UCSPI daemon needs a Node start-up first.
  const quiesceMs = options.quiesceMs ?? 10_000;
  const started = Date.now();
  const report: FuzzReport = {
    transport: options.transport,
    seed: options.seed,
    cases: 0,
    sweepCases: 0,
    conversations: 0,
    bytesSent: 0,
    acknowledgedWrites: 0,
    violations: [],
    kinds: {},
    warnings: {},
    elapsedMs: 0,
    stoppedEarly: null,
    restarts: 0,
  };
  const dir = mkdtempSync(join(options.scratch ?? '/tmp', 'fz-'));
  chmodSync(dir, 0o755); // nobody's agent must reach the sockets
  const seedRng = new Prng(caseSeed(options.seed, -1));
  writeFileSync(join(dir, 'utmp'), seedRecords(seedRng, 6), { mode: 0o644 });
  writeFileSync(join(dir, 'wtmp'), seedRecords(seedRng, 6), { mode: 0o644 });

  let target: Target | undefined;
  let agent: Agent | undefined;
  let marker = 0;
  let late: LateRecord[] = [];
  const start = (): Promise<Target> =>
    startTarget(options.transport, {
      dir,
      daemonArgs: ['-t', String(options.daemonTimeoutMs ?? 2000), '-L', '5000'],
      // Enough connections for the widest case; limits are tested elsewhere.
      ipcserverArgs: ['-c', '200', '-C', '200'],
      // No write rate limit: nobody's permitted appends must all be served (flooding is
      // tested in hardening-flood.test.ts).
      utmpsdArgs: ['-c', '1000', '-C', '200', '--rate-limit', '0'],
    });
  try {
    target = await start();
    agent = await Agent.start();
    const a = agent;
    let t: Target = target;

    const play = (conv: Conversation): Promise<Outcome> => {
      const socket = conv.service === 'utmp' ? t.utmpSocket : t.wtmpSocket;
      return conv.who === 'root' ? converse(socket, conv, guardMs) : a.run(socket, conv, guardMs);
    };

    const violation = (c: FuzzCase, problem: string): void => {
      const v: Violation = { transport: options.transport, case: c.index, kind: c.kind, problem, description: describeCase(c) };
      report.violations.push(v);
      log(`VIOLATION [${v.transport}] ${v.description}\n    ${problem}`);
    };

    /** Waits until the server has let go of every connection of the case; false if it does not. */
    const quiesce = async (ms = quiesceMs): Promise<boolean> => {
      const deadline = Date.now() + ms;
      while (t.busy()) {
        if (Date.now() > deadline) return false;
        await sleep(2);
      }
      return true;
    };

    /** A request that must work after every case; returns false (and reports) if not. */
    const expect = async (c: FuzzCase, conv: Conversation, want: string, what: string): Promise<boolean> => {
      const o = await play(conv);
      const got = o.received.subarray(0, want.length / 2).toString('hex');
      if (got !== want) {
        violation(c, `${what}: expected ${want}, got '${o.received.subarray(0, 16).toString('hex')}'${o.connectError ? ` (connect: ${o.connectError})` : ''}${o.hung ? ' (hung)' : ''}`);
        return false;
      }
      return true;
    };

    /** Plays and judges one case; false once the server is gone. */
    const runCase = async (c: FuzzCase, number: number): Promise<boolean> => {
      const before = readSnapshot(t);
      const releases: Promise<void>[] = [];
      for (const hold of c.locks ?? []) {
        try {
          const release = await takeLock(hold.file === 'utmp' ? t.utmpFile : t.wtmpFile, hold.kind, hold.who);
          releases.push(sleep(hold.holdMs).then(release));
        } catch (e) {
          violation(c, `unable to hold a ${hold.kind} lock on ${hold.file} as ${hold.who}: ${(e as Error).message}`);
        }
      }
      const outcomes = await Promise.all(c.conversations.map(play));
      await Promise.all(releases);
      const released = await quiesce();
      if (!released) violation(c, `the server still holds a connection of the case ${quiesceMs} ms after the client closed it`);
      // utmpsd: a read goes through the utmp file's queue, after anything a closed connection
      // left queued. (A UCSPI daemon that has exited has finished its work.)
      if (t.kind === 'utmpsd') await play({ service: 'utmp', who: 'root', chunks: [Buffer.from('A', 'latin1')], end: 'eof' });
      const after = readSnapshot(t);
      const played: Played[] = c.conversations.map((conv, i) => ({ conv, outcome: outcomes[i] }));
      const verdict = judge(before, after, played, late);
      for (const p of verdict.problems) violation(c, p);
      late = settleLate(late, after, number);
      for (const l of verdict.late) late.push(lateRecord(l.service, l.record, number + LATE_CASES));
      report.conversations += c.conversations.length;
      report.acknowledgedWrites += verdict.acked;
      for (const conv of c.conversations) report.bytesSent += conv.chunks.reduce((n, b) => n + b.length, 0);

      // Still serving?
      await expect(c, { service: 'utmp', who: 'root', chunks: [Buffer.from('r', 'latin1')], end: 'eof' }, '00', 'liveness: utmp rewind');
      const mark = plausibleRecord(new Prng(caseSeed(options.seed, 1_000_000 + marker++)), 'root');
      await expect(c, { service: 'wtmp', who: 'root', chunks: [Buffer.concat([Buffer.of(0x2b), mark])], end: 'eof' }, '00', 'liveness: wtmp append as root');
      if (!t.alive()) {
        violation(c, `the server is gone (${t.exitStatus()}); its last words: ${t.stderr().slice(-500)}`);
        return false;
      }
      const lines = t.newLines();
      const nobodyConnections = c.conversations.filter((conv) => conv.who === 'nobody').length;
      const nobodyBound = NOBODY_LINES_PER_CASE + (t.kind === 'ucspi' ? NOBODY_LINES_PER_UCSPI_CONNECTION * nobodyConnections : 0);
      const aboutNobody = lines.filter((line) => /\buid 65534\b/.test(line)).length;
      if (aboutNobody > nobodyBound) violation(c, `${aboutNobody} log lines about uid 65534 in one case (at most ${nobodyBound}): a refusal flood reaches the log`);
      for (const line of lines) {
        const strange = strangeLogLine(line);
        if (strange) violation(c, strange);
        else if (/: (warning|fatal): /.test(line)) {
          const k = normalise(line);
          report.warnings[k] = (report.warnings[k] ?? 0) + 1;
        }
      }
      if (!(await quiesce())) {
        // Reported above; start afresh so that later cases are judged on their own.
        log(`[${options.transport}] case ${c.index}: restarting the server, which still holds connections`);
        await t.stop();
        t = await start();
        target = t;
        report.restarts++;
      }
      // Keep the files small, so every snapshot stays cheap.
      const now = readSnapshot(t);
      if (late.length === 0 && (now.utmp.length > MAX_UTMP_RECORDS * RECORD || now.wtmp.length > MAX_WTMP_RECORDS * RECORD)) {
        const rng = new Prng(caseSeed(options.seed, 2_000_000 + number));
        writeFileSync(t.utmpFile, seedRecords(rng, rng.int(4)));
        writeFileSync(t.wtmpFile, seedRecords(rng, rng.int(4)));
      }
      return true;
    };

    const outOfTime = (): boolean => options.durationMs !== undefined && Date.now() - started >= options.durationMs;
    const tooMany = (): boolean => report.violations.length >= maxViolations;
    let lastProgress = Date.now();
    const progress = (force = false): void => {
      const every = options.progressMs ?? 10_000;
      if (!force && (every === 0 || Date.now() - lastProgress < every)) return;
      lastProgress = Date.now();
      const s = (Date.now() - started) / 1000;
      log(
        `[${options.transport}] ${report.cases} cases (+${report.sweepCases} sweep), ${report.conversations} connections, ` +
          `${report.acknowledgedWrites} writes acknowledged, ${report.violations.length} violations, ${s.toFixed(0)} s`,
      );
    };

    if (options.sweep ?? true) {
      for (const c of [...sweepCases(options.seed, 'utmp'), ...sweepCases(options.seed, 'wtmp')]) {
        if (tooMany()) break;
        if (!(await runCase(c, 0))) {
          report.stoppedEarly = 'the server died';
          break;
        }
        report.sweepCases++;
      }
    }
    const from = options.from ?? 0;
    for (let i = from; i < from + options.cases && report.stoppedEarly === null; i++) {
      if (tooMany()) {
        report.stoppedEarly = `${report.violations.length} violations`;
        break;
      }
      if (outOfTime()) {
        report.stoppedEarly = 'time is up';
        break;
      }
      if (options.shouldStop?.()) {
        report.stoppedEarly = 'interrupted';
        break;
      }
      const c = makeCase(options.seed, i);
      report.kinds[c.kind] = (report.kinds[c.kind] ?? 0) + 1;
      report.cases++;
      if (!(await runCase(c, i + 1))) report.stoppedEarly = 'the server died';
      progress();
    }
    progress(true);
  } finally {
    await agent?.stop();
    await target?.stop();
    report.elapsedMs = Date.now() - started;
    if (!options.keep) rmSync(dir, { recursive: true, force: true });
    else log(`scratch directory kept: ${dir}`);
  }
  return report;
}
