// What must hold after a fuzz case, judged from the files before and after it, the bytes
// each conversation sent and the answers it got. Pure: the runner does the I/O.
//
//  - each file holds whole records only;
//  - answers are well formed and allowed for the request and the peer (parseAnswers), nothing
//    is answered that was not asked, and every request of a conversation that waited for its
//    answers got one;
//  - every record read back, and every record in utmp afterwards, is one that was there
//    before or one the case sent as a permitted putline;
//  - wtmp only grows: the old bytes are a prefix of the new, and every appended record is a
//    permitted append of the case, each at most as often as it was sent;
//  - every acknowledged write is in the file (a putline unless another write of the case may
//    have replaced it by the search rule);
//  - a case without any permitted write leaves both files byte for byte as they were.
//
// Requests of a connection the case hung up on may be served after the case is judged;
// their records stay allowed (`late`) for a few more cases.

import type { Conversation, Outcome } from './conversation.js';
import { frame, type Framing, mayReplace, mayWrite, parseAnswers, readQuery, RECORD, type Service } from './model.js';

export interface Snapshot {
  utmp: Buffer;
  wtmp: Buffer;
}

export interface Played {
  conv: Conversation;
  outcome: Outcome;
}

export interface Judgement {
  problems: string[];
  /** Permitted writes sent on connections cut short and not (yet) seen in the files. */
  late: { service: Service; record: Buffer }[];
  acked: number;
}

const key = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/**
 * Does the stream give the server a reason to close before the client is done sending? An
 * unknown command byte does, and so does a wtmp connection's one request. (The client
 * cannot read what was answered once a write fails: Node drops the socket, unread bytes
 * and all. So a conversation cut short this way is judged like an aborted one.)
 */
function serverMayClose(service: Service, framing: Framing): boolean {
  return framing.stop === 'unknown' || (service === 'wtmp' && framing.frames.length > 0);
}

const isFollowRead = (service: Service, framing: Framing): boolean =>
  service === 'wtmp' && framing.frames[0]?.command === 0x52 && readQuery(framing.frames[0].body).follow;

export function recordsOf(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at + RECORD <= file.length; at += RECORD) out.push(file.subarray(at, at + RECORD));
  return out;
}

class Multiset {
  private readonly counts = new Map<string, number>();

  add(k: string, n = 1): void {
    this.counts.set(k, (this.counts.get(k) ?? 0) + n);
  }

  has(k: string): boolean {
    return (this.counts.get(k) ?? 0) > 0;
  }

  /** Takes one k out; false if there was none. */
  take(k: string): boolean {
    const n = this.counts.get(k) ?? 0;
    if (n === 0) return false;
    if (n === 1) this.counts.delete(k);
    else this.counts.set(k, n - 1);
    return true;
  }

  get size(): number {
    return this.counts.size;
  }
}

export interface LateRecord {
  service: Service;
  key: string;
  expires: number;
}

export function judge(before: Snapshot, after: Snapshot, played: readonly Played[], late: readonly LateRecord[]): Judgement {
  const problems: string[] = [];
  const say = (what: string): void => {
    problems.push(what);
  };
  for (const [name, file] of [['utmp', after.utmp], ['wtmp', after.wtmp]] as const) {
    if (file.length % RECORD !== 0) say(`${name} holds a partial record: size ${file.length} is not a multiple of ${RECORD}`);
  }

  // What the case was allowed to write, and what the server said it wrote.
  const sent = { utmp: [] as Buffer[], wtmp: [] as Buffer[] };
  const acked = { utmp: [] as Buffer[], wtmp: [] as Buffer[] };
  // When nothing of the case (nor a late write) can change utmp, nobody's wtmp records
  // appends are judged exactly against it.
  const utmpFixed =
    late.every((l) => l.service !== 'utmp') &&
    played.every(({ conv }) => conv.service !== 'utmp' || !frame('utmp', Buffer.concat(conv.chunks)).frames.some((f) => mayWrite('utmp', conv.who, f)));
  const context = utmpFixed ? { utmp: recordsOf(before.utmp) } : {};
  const unanswered = { utmp: [] as Buffer[], wtmp: [] as Buffer[] };
  const reads: { conv: number; service: Service; record: Buffer }[] = [];
  played.forEach(({ conv, outcome }, n) => {
    const label = `conversation ${n} (${conv.service}, ${conv.who}, ${conv.end})`;
    const framing = frame(conv.service, Buffer.concat(conv.chunks));
    const parsed = parseAnswers(conv.service, conv.who, framing.frames, outcome.received, undefined, context);
    if (outcome.connectError) say(`${label}: could not connect: ${outcome.connectError}`);
    if (outcome.hung) say(`${label}: the server neither answered nor closed within the hang guard`);
    for (const p of parsed.problems) say(`${label}: ${p}`);
    if (parsed.complete && parsed.extra > 0) say(`${label}: ${parsed.extra} bytes answered that no request asked for`);
    const mayClose = serverMayClose(conv.service, framing);
    // After a wtmp connection's one request the server may stop reading; a utmp server
    // must go on reading requests as long as the client reads its answers (we always do).
    const mayStopReading = conv.service === 'wtmp' && framing.frames.length > 0;
    // A client that stops reading ('stall') may be stopped being read from, and dropped.
    const nonReader = conv.end === 'stall';
    if (outcome.stalled && !mayStopReading && !nonReader) say(`${label}: the server stopped reading our requests (a write stalled)`);
    if (outcome.socketError !== undefined && !mayClose && conv.end !== 'abort' && !nonReader) {
      say(`${label}: the server closed while the client was still sending (${outcome.socketError}), though nothing sent was a reason to`);
    }
    // A follower stops when we close our side: its answer may end anywhere.
    const cutShort =
      conv.end === 'abort' || nonReader || outcome.socketError !== undefined || outcome.stalled === true || (conv.end === 'eof' && isFollowRead(conv.service, framing));
    if (!cutShort && !outcome.connectError && !outcome.hung && !parsed.complete) {
      say(`${label}: ${framing.frames.length - parsed.answers.length} of ${framing.frames.length} requests never answered before the server closed`);
    }
    if (conv.end === 'eof' && !outcome.serverEof && !outcome.hung && !outcome.stalled) say(`${label}: the server did not close after our EOF`);
    framing.frames.forEach((f, i) => {
      const answer = parsed.answers[i];
      for (const record of [...(answer?.records ?? []), ...(answer?.live ?? [])]) reads.push({ conv: n, service: conv.service, record });
      if (!mayWrite(conv.service, conv.who, f)) return;
      sent[conv.service].push(f.body);
      if (answer?.status === 0) acked[conv.service].push(f.body);
      else if (!answer) unanswered[conv.service].push(f.body);
    });
  });

  const lateKeys = { utmp: new Multiset(), wtmp: new Multiset() };
  for (const l of late) lateKeys[l.service].add(l.key);
  const leftLate: Judgement['late'] = [];

  // utmp: every record explained, nothing acknowledged lost, nothing changed by a case that
  // could not write.
  const beforeUtmp = new Set(recordsOf(before.utmp).map(key));
  const sentUtmp = new Set(sent.utmp.map(key));
  const afterUtmp = recordsOf(after.utmp);
  const afterUtmpKeys = new Set(afterUtmp.map(key));
  afterUtmp.forEach((r, i) => {
    const k = key(r);
    if (!beforeUtmp.has(k) && !sentUtmp.has(k) && !lateKeys.utmp.has(k)) say(`utmp record ${i} is neither an old record nor a permitted putline of this case`);
  });
  if (after.utmp.length < before.utmp.length) say(`utmp shrank from ${before.utmp.length} to ${after.utmp.length} bytes`);
  for (const r of acked.utmp) {
    if (afterUtmpKeys.has(key(r))) continue;
    const replaced = sent.utmp.some((s) => !s.equals(r) && mayReplace(s, r));
    if (!replaced) say('an acknowledged putline is not in utmp, and no other write of the case could have replaced it');
  }
  const beforeWtmp = new Set(recordsOf(before.wtmp).map(key));
  const sentWtmp = new Set(sent.wtmp.map(key));
  for (const { conv, service, record } of reads) {
    const k = key(record);
    const known = service === 'utmp' ? beforeUtmp.has(k) || sentUtmp.has(k) : beforeWtmp.has(k) || sentWtmp.has(k);
    if (!known && !lateKeys[service].has(k)) say(`conversation ${conv} read a record that was never in ${service}`);
  }
  if (sent.utmp.length === 0 && lateKeys.utmp.size === 0 && !after.utmp.equals(before.utmp)) {
    say('utmp changed although no request of the case was a permitted putline');
  }
  for (const r of unanswered.utmp) if (!afterUtmpKeys.has(key(r))) leftLate.push({ service: 'utmp', record: r });

  // wtmp: append-only, each appended record sent (and permitted) at least as often.
  if (after.wtmp.length < before.wtmp.length || !after.wtmp.subarray(0, before.wtmp.length).equals(before.wtmp)) {
    say('wtmp was rewritten: the old contents are not a prefix of the new');
  } else {
    const appended = recordsOf(after.wtmp.subarray(before.wtmp.length));
    const allowed = new Multiset();
    for (const r of sent.wtmp) allowed.add(key(r));
    const landed = new Multiset();
    appended.forEach((r, i) => {
      const k = key(r);
      landed.add(k);
      if (!allowed.take(k) && !lateKeys.wtmp.take(k)) say(`wtmp appended record ${i} was not sent as a permitted append (or more often than sent)`);
    });
    for (const r of acked.wtmp) if (!landed.take(key(r))) say('an acknowledged wtmp append is not in wtmp');
    for (const r of unanswered.wtmp) if (!landed.take(key(r))) leftLate.push({ service: 'wtmp', record: r });
  }
  if (sent.wtmp.length === 0 && lateKeys.wtmp.size === 0 && !after.wtmp.equals(before.wtmp)) {
    say('wtmp changed although no request of the case was a permitted append');
  }
  return { problems, late: leftLate, acked: acked.utmp.length + acked.wtmp.length };
}

/** Drops late records that showed up in the files, or whose time is up. */
export function settleLate(late: LateRecord[], after: Snapshot, caseNumber: number): LateRecord[] {
  const seen = { utmp: new Set(recordsOf(after.utmp).map(key)), wtmp: new Set(recordsOf(after.wtmp).map(key)) };
  return late.filter((l) => l.expires > caseNumber && !seen[l.service].has(l.key));
}

export function lateRecord(service: Service, record: Buffer, expires: number): LateRecord {
  return { service, key: key(record), expires };
}

/** stderr lines the daemons may write: `prog: level: message`. Anything else is a finding. */
const LOG_LINE = /^(utmpsd|utmps-utmpd|utmps-wtmpd|s6-ipcserver): (info|warning|fatal): /;

/** Bits of record contents the cases send (cases.ts pools); a log line must never show them. */
const RECORD_CONTENT = /alice|a-name-that-fills|ttyp0|pts\/\d/;

export function strangeLogLine(line: string): string | null {
  if (line.trim() === '') return null;
  if (!LOG_LINE.test(line)) return `unexpected stderr output: ${line.slice(0, 300)}`;
  if (RECORD_CONTENT.test(line)) return `a log line shows record contents: ${line.slice(0, 300)}`;
  if (/^utmpsd: fatal/.test(line)) return `utmpsd died: ${line.slice(0, 300)}`;
  return null;
}
