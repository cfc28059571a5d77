// The shared main of the UCSPI daemons utmps-utmpd and utmps-wtmpd: parse options, build
// the parts, serve one connection, exit with a code that means something
// (0 done, 1 refused or protocol error as upstream, 100 usage, 111 system failure).

import { parseArgs } from 'node:util';
import { layoutByName, type RecordLayout } from '../record/layout.js';
import { defaultCreateMode } from '../store/open.js';
import { lookupUserByName, lookupUserByUidAsync, nativeProblem } from '../sys/native.js';
import { LogSummary } from './log-summary.js';
import { Policy } from './policy.js';
import { DEFAULT_TIMEOUTS, type ServiceHandler, type SessionEnd, type SessionTimeouts } from './session.js';
import { peerFromEnvironment, serveStdio, UsageError } from './ucspi.js';
import type { Peer } from './policy.js';
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

function milliseconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a number of milliseconds, got '${text}'`);
  return Number(text);
}

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
        timeout: { type: 'string', short: 't' },
        'idle-timeout': { type: 'string', short: 'i' },
        'lock-timeout': { type: 'string', short: 'L' },
        'follow-timeout': { type: 'string', short: 'f' },
        format: { type: 'string', short: 'F' },
        help: { type: 'boolean', short: 'h' },
        ...(spec.utmpFileOption ? { 'utmp-file': { type: 'string', short: 'U' } as const } : {}),
      },
    });
    if (values.help) {
      process.stdout.write(`usage: ${spec.usage}\n`);
      process.exit(0);
    }
    if (positionals.length > 1) throw new UsageError('too many arguments');
    const io = milliseconds('-t', values.timeout, DEFAULT_TIMEOUTS.bodyMs);
    const layout = layoutByName(values.format ?? 'utmps');
    args = {
      file: positionals[0],
      layout,
      createMode: defaultCreateMode(layout),
      lockTimeoutMs: milliseconds('-L', values['lock-timeout'], 10_000),
      utmpFile: (values as { 'utmp-file'?: string })['utmp-file'] ?? DEFAULT_UTMP_FILE,
      followTimeoutMs: milliseconds('-f', values['follow-timeout'], DEFAULT_FOLLOW_TIMEOUT_MS),
      timeouts: { bodyMs: io, answerMs: io, idleMs: milliseconds('-i', values['idle-timeout'], spec.defaultIdleMs ?? 0) },
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
  const policy = new Policy({
    daemonGid: () => process.getegid!(),
    nameOfUid: async (uid) => (await lookupUserByUidAsync(uid))?.name ?? null,
    uidOfName: async (name) => (await lookupUserByName(name))?.uid ?? null,
  });
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
