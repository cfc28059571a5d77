// The wtmp read extension (docs/PROTOCOL-EXTENSIONS.md): history with filters, newest or
// oldest first, then optionally every record appended afterwards, each exactly once and
// in order. A follower tails the file itself, so it sees appends made by any process, and
// the file is its only buffer: a follower that stops reading never holds up a writer.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { recordAnswer, statusAnswer } from '../protocol/answer.js';
import { Errno } from '../errno.js';
import type { ReadQuery } from '../protocol/request.js';
import { fieldEquals } from '../record/fields.js';
import { FIELD_SIZE, RECORD_SIZE, UTMPS_LAYOUT as L } from '../record/layout.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import type { ReleaseSlot } from './read-slots.js';
import type { Send, SessionEnd, StreamSignals } from './session.js';

/** A follower this many records behind the end of the log is dropped. */
export const FOLLOW_LAG_LIMIT = 100_000;
/** Followers also look on their own this often, in case a change notification is missed. */
const POLL_MS = 1000;
/** A follower sent no record for this long is closed (ETIMEDOUT); 0 keeps it forever. */
export const DEFAULT_FOLLOW_TIMEOUT_MS = 3_600_000;
const BLOCK = 256;

export interface ReadFilter {
  query: ReadQuery;
  /** --private-reads: the only ut_user a non-root peer may see (32 bytes), or null. */
  onlyUser: Buffer | null;
}

function isSet(field: Buffer): boolean {
  return field[0] !== 0;
}

export function matches(filter: ReadFilter, rec: Buffer): boolean {
  const { query, onlyUser } = filter;
  if (onlyUser && !fieldEquals(onlyUser, 0, rec, L.user, FIELD_SIZE.user)) return false;
  if (isSet(query.user) && !fieldEquals(query.user, 0, rec, L.user, FIELD_SIZE.user)) return false;
  if (isSet(query.line) && !fieldEquals(query.line, 0, rec, L.line, FIELD_SIZE.line)) return false;
  if (query.since !== null || query.until !== null) {
    const sec = rec.readBigInt64LE(L.tvSec);
    if (query.since !== null && sec < query.since) return false;
    if (query.until !== null && sec > query.until) return false;
  }
  return true;
}

/** Waits for this peer's turn to read history (read-slots.ts); the release ends it. */
export type HistorySlot = (signal: AbortSignal) => Promise<ReleaseSlot>;

export async function serveRead(
  file: WtmpFile,
  filter: ReadFilter,
  send: Send,
  signals: StreamSignals,
  followTimeoutMs = DEFAULT_FOLLOW_TIMEOUT_MS,
  slot?: HistorySlot,
): Promise<SessionEnd> {
  // The history is what was asked for: only the end of the session cuts it short. A
  // follower also stops when the client closes its side.
  const { stop } = signals;
  const signal = AbortSignal.any([signals.stop, signals.eof]);
  const { query } = filter;
  let changed = true;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    changed = true;
    wake?.();
  };
  // Subscribe before looking at the file, so nothing appended in between goes unnoticed.
  const unsubscribe = query.follow ? file.onChange(poke) : null;
  const timer = query.follow ? setInterval(poke, POLL_MS) : null;
  signal.addEventListener('abort', poke);
  try {
    let release: ReleaseSlot | null = null;
    if (!query.liveOnly && slot) {
      try {
        release = await slot(stop);
      } catch {
        return { reason: 'eof' };
      }
      // The session's end frees the slot at once, even while a send still waits for a
      // client that is gone.
      stop.addEventListener('abort', release, { once: true });
    }
    const start = await file.snapshot();
    try {
      if (!query.liveOnly && !(await sendHistory(file, filter, start.count, send, stop))) return { reason: 'eof' };
    } finally {
      if (release) {
        stop.removeEventListener('abort', release);
        release();
      }
    }
    // ESRCH ends the history: a plain read ends here, a follower's live records come next.
    if (!(await send(statusAnswer(Errno.ESRCH)))) return { reason: 'eof' };
    if (!query.follow) return { reason: 'done' };
    let { count: next, generation } = start;
    // A follower costs a connection and a process (UCSPI) for as long as it lives: one
    // whose filter matches nothing is let go after followTimeoutMs (checked at each poll).
    let lastSent = Date.now();
    for (;;) {
      if (signal.aborted) return { reason: 'eof' };
      if (followTimeoutMs > 0 && Date.now() - lastSent >= followTimeoutMs) {
        await send(statusAnswer(Errno.ETIMEDOUT));
        return { reason: 'refused', message: `follower was sent nothing for ${followTimeoutMs} ms and was closed` };
      }
      if (!changed) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        continue;
      }
      changed = false;
      const now = await file.snapshot();
      if (now.generation !== generation) {
        // Rotated: the new file's records are all new.
        generation = now.generation;
        next = 0;
      }
      if (now.count - next > FOLLOW_LAG_LIMIT) {
        await send(statusAnswer(Errno.ENOBUFS));
        return { reason: 'refused', message: `follower fell more than ${FOLLOW_LAG_LIMIT} records behind and was dropped` };
      }
      while (next < now.count) {
        const records = await file.read(next, Math.min(now.count, next + BLOCK));
        if (records.length === 0) break;
        next += records.length / RECORD_SIZE;
        const answers = matching(filter, records, false, Infinity);
        if (answers.length) {
          if (!(await send(Buffer.concat(answers)))) return { reason: 'eof' };
          lastSent = Date.now();
        }
        if (signal.aborted) return { reason: 'eof' };
        await nextTurn();
      }
    }
  } finally {
    unsubscribe?.();
    if (timer) clearInterval(timer);
    signal.removeEventListener('abort', poke);
  }
}

/** Answers for the matching records of a block, in the given order, at most `max`. */
function matching(filter: ReadFilter, records: Buffer, newestFirst: boolean, max: number): Buffer[] {
  const n = records.length / RECORD_SIZE;
  const answers: Buffer[] = [];
  for (let i = 0; i < n && answers.length < max; i++) {
    const k = newestFirst ? n - 1 - i : i;
    const rec = records.subarray(k * RECORD_SIZE, (k + 1) * RECORD_SIZE);
    if (matches(filter, rec)) answers.push(recordAnswer(rec));
  }
  return answers;
}

/** Sends matching history records [0, count) in the query's order, up to its limit. */
async function sendHistory(file: WtmpFile, filter: ReadFilter, count: number, send: Send, signal: AbortSignal): Promise<boolean> {
  const { newestFirst, limit } = filter.query;
  let left = limit === 0 ? Infinity : limit;
  for (let b = 0; b * BLOCK < count && left > 0; b++) {
    if (signal.aborted) return false;
    const from = newestFirst ? Math.max(0, count - (b + 1) * BLOCK) : b * BLOCK;
    const to = newestFirst ? count - b * BLOCK : Math.min(count, (b + 1) * BLOCK);
    const answers = matching(filter, await file.read(from, to), newestFirst, left);
    left -= answers.length;
    if (answers.length && !(await send(Buffer.concat(answers)))) return false;
    // Reads take no lock and a client that keeps up never makes send() wait: let appends
    // and other sessions in between blocks.
    await nextTurn();
  }
  return true;
}
