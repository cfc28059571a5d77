// The options every daemon shares (utmpsd and each UCSPI daemon): one parser for the
// session deadlines, the lock wait and the record layout, one rule for numbers (0 means
// no deadline, as in skarnet's tools), and the Policy a running daemon builds.

import { layoutByName, type RecordLayout } from '../record/layout.js';
import { DEFAULT_LOCK_TIMEOUT_MS } from '../store/record-file.js';
import { lookupUserByName, lookupUserByUid, lookupUserByUidAsync } from '../sys/native.js';
import { Policy, type PolicyOptions } from './policy.js';
import { DEFAULT_TIMEOUTS, type SessionTimeouts } from './session.js';

export class UsageError extends Error {}

/** parseArgs entries of the shared options. */
export const SHARED_OPTIONS = {
  timeout: { type: 'string', short: 't' },
  'idle-timeout': { type: 'string', short: 'i' },
  'lock-timeout': { type: 'string', short: 'L' },
  format: { type: 'string', short: 'F' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface SharedValues {
  timeout?: string;
  'idle-timeout'?: string;
  'lock-timeout'?: string;
  format?: string;
}

export interface SharedConfig {
  timeouts: SessionTimeouts;
  lockTimeoutMs: number;
  layout: RecordLayout;
}

/** A whole number >= min, or the fallback when the option is absent. */
export function countOption(name: string, text: string | undefined, fallback: number, min = 0): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`${name} must be an integer >= ${min}, got '${text}'`);
  return Number(text);
}

/** A duration in milliseconds; 0 is allowed and means none. */
export function millisecondsOption(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${name} must be a number of milliseconds (0: none), got '${text}'`);
  }
  return Number(text);
}

/** -t (each request body and answer), -i (between requests), -L and -F. */
export function sharedConfig(values: SharedValues, defaultIdleMs = 0): SharedConfig {
  const io = millisecondsOption('-t/--timeout', values.timeout, DEFAULT_TIMEOUTS.bodyMs);
  let layout: RecordLayout;
  try {
    layout = layoutByName(values.format ?? 'utmps');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    timeouts: { bodyMs: io, answerMs: io, idleMs: millisecondsOption('-i/--idle-timeout', values['idle-timeout'], defaultIdleMs) },
    lockTimeoutMs: millisecondsOption('-L/--lock-timeout', values['lock-timeout'], DEFAULT_LOCK_TIMEOUT_MS),
    layout,
  };
}

/** The Policy of a running daemon: identities from the kernel, names through NSS. */
export function systemPolicy(extra: Pick<PolicyOptions, 'rateLimiter' | 'privateReads'> = {}): Policy {
  return new Policy({
    daemonGid: () => process.getegid!(),
    nameOfUid: async (uid) => (await lookupUserByUidAsync(uid))?.name ?? null,
    uidOfName: async (name) => (await lookupUserByName(name))?.uid ?? null,
    userNameOf: (uid) => lookupUserByUid(uid)?.name ?? null,
    ...extra,
  });
}
