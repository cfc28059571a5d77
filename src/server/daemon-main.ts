// The shared main of the UCSPI daemons utmps-utmpd and utmps-wtmpd: parse options, build
// the parts, serve one connection, exit with a code that means something
// (0 done, 1 refused or protocol error as upstream, 100 usage, 111 system failure).

import { parseArgs } from 'node:util';
import type { RecordLayout } from '../record/layout.js';
import { defaultCreateMode } from '../store/open.js';
import { nativeProblem } from '../sys/native.js';
import { LogSummary } from './log-summary.js';
import { millisecondsOption, SHARED_OPTIONS, sharedConfig, systemPolicy, UsageError } from './options.js';
import type { Peer, Policy } from './policy.js';
import type { ServiceHandler, SessionEnd, SessionTimeouts } from './session.js';
import { peerFromEnvironment, serveStdio } from './ucspi.js';
import type { ServiceEvents } from './utmp-service.js';
import { DEFAULT_FOLLOW_TIMEOUT_MS } from './wtmp-read.js';

export interface DaemonSpec {
  prog: string;
  usage: string;
  /** Takes -U/--utmp-file PATH (utmps-wtmpd, to check DEAD_PROCESS records; policy.ts). */
  utmpFileOption?: boolean;
  /** The idle deadline between requests when -i is not given (0: none). */
  defaultIdleMs?: number;
  /** Builds the handler for this connection; the file argument is the positional, if any. */
  build(args: DaemonArgs, peer: Peer, policy: Policy, events: ServiceEvents): Promise<ServiceHandler>;
  /** Exit code and message for each way a session ends. */
  exitFor(end: SessionEnd): { code: number; message?: string };
}

export interface DaemonArgs {
  /** Mode of a file the daemon creates: 0640, or 0644 for the glibc layout that system tools read. */
  createMode: number;
  file: string | undefined;
  layout: RecordLayout;
  lockTimeoutMs: number;
  /** -U: where utmp is (utmps-wtmpd only). */
  utmpFile: string;
  /** -f: a wtmp follower sent nothing for this long is closed (0: never). */
  followTimeoutMs: number;
  timeouts: SessionTimeouts;
  warn: (message: string) => void;
}

/** Where utmps-utmpd keeps utmp in the usual setup (its working directory). */
export const DEFAULT_UTMP_FILE = '/run/utmps/utmp';

export async function runDaemon(spec: DaemonSpec, argv = process.argv.slice(2)): Promise<never> {
  const say = (kind: string, message: string): void => {
    process.stderr.write(`${spec.prog}: ${kind}: ${message}\n`);
  };
  const die = (code: number, message: string): never => {
    say('fatal', message);
    process.exit(code);
  };
  let args: DaemonArgs;
  let peer: Peer;
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...SHARED_OPTIONS,
        'follow-timeout': { type: 'string', short: 'f' },
        ...(spec.utmpFileOption ? { 'utmp-file': { type: 'string', short: 'U' } as const } : {}),
      },
    });
    if (values.help) {
      process.stdout.write(`usage: ${spec.usage}\n`);
      process.exit(0);
    }
    if (positionals.length > 1) throw new UsageError('too many arguments');
    const { timeouts, lockTimeoutMs, layout } = sharedConfig(values, spec.defaultIdleMs);
    args = {
      file: positionals[0],
      layout,
      createMode: defaultCreateMode(layout),
      lockTimeoutMs,
      utmpFile: (values as { 'utmp-file'?: string })['utmp-file'] ?? DEFAULT_UTMP_FILE,
      followTimeoutMs: millisecondsOption('-f/--follow-timeout', values['follow-timeout'], DEFAULT_FOLLOW_TIMEOUT_MS),
      timeouts,
      warn: (message) => say('warning', message),
    };
    // The addon is optional at install time (the client needs none); the daemons need it,
    // from the first step: the peer's identity.
    const missingNative = nativeProblem();
    if (missingNative !== undefined) return die(111, missingNative);
    peer = peerFromEnvironment();
  } catch (e) {
    return die(100, `${(e as Error).message}\n${spec.prog}: usage: ${spec.usage}`);
  }
  const policy = systemPolicy();
  // One connection per process, but a pipelining client can still be refused many times.
  const summary = new LogSummary((line) => say('warning', line));
  const exit = (code: number): never => {
    summary.flush();
    process.exit(code);
  };
  let handler: ServiceHandler;
  try {
    handler = await spec.build(args, peer, policy, { report: (reason, message) => summary.report(peer.uid, reason, message) });
  } catch (e) {
    return die(111, (e as Error).message);
  }
  let end: SessionEnd;
  try {
    end = await serveStdio(handler, args.timeouts);
  } catch (e) {
    summary.flush();
    return die(e instanceof UsageError ? 100 : 111, (e as Error).message);
  }
  const { code, message } = spec.exitFor(end);
  summary.flush();
  if (message) say('fatal', message);
  return exit(code);
}

/** Exit codes of the one-request daemons (utmps-wtmpd, utmps-btmpd), as upstream's wtmpd. */
export function oneRequestExit(end: SessionEnd): { code: number; message?: string } {
  switch (end.reason) {
    case 'done':
    case 'shutdown':
      return { code: 0 };
    case 'refused':
      return { code: 1, message: end.message };
    case 'protocol':
      return { code: 111, message: `unable to read command: Protocol error (${end.message})` };
    case 'eof':
      return { code: 111, message: 'unable to read command: Broken pipe (the client sent nothing)' };
    case 'truncated':
      return { code: 111, message: `unable to read from stdin: Broken pipe (${end.message})` };
    case 'timeout':
      return { code: 111, message: `unable to read from stdin: Connection timed out (${end.message})` };
    case 'hangup':
      // Nothing was written or answered; one quiet exit per hang-up, so no log flood.
      return { code: 111 };
    default:
      return { code: 111, message: end.message };
  }
}
