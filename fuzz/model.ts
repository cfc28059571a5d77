// The fuzzer's own model of the wire (PROTOCOL.md sections 3 and 4, the getall extension in
// docs/PROTOCOL-EXTENSIONS.md). It is written out here again on purpose: an oracle that
// imported the framing of the code under test would agree with its bugs. Pure: no I/O.
//
// From the bytes a client sends, the model says which requests a server frames, which of
// them may change a file (and with which record), and which answers are acceptable.

export const RECORD = 400;

export type Service = 'utmp' | 'wtmp';
/** Who the peer is: the fuzzer itself (root) or its agent process (nobody, 65534:65534). */
export type Who = 'root' | 'nobody';

/**
 * The wtmp read extension's body: flags (1: newest first, 2: follow, 4: live only), limit
 * u32, since i64, until i64 (all big-endian), ut_user[32], ut_line[32].
 */
export const READ_BODY = 85;
export const READ_FLAGS = { NEWEST_FIRST: 1, FOLLOW: 2, LIVE_ONLY: 4 } as const;
const NO_SINCE = -(1n << 63n);
const NO_UNTIL = (1n << 63n) - 1n;

export interface ReadQuery {
  follow: boolean;
  liveOnly: boolean;
  limit: number;
  since: bigint | null;
  until: bigint | null;
  user: Buffer;
  line: Buffer;
}

export function readQuery(body: Buffer): ReadQuery {
  const since = body.readBigInt64BE(5);
  const until = body.readBigInt64BE(13);
  return {
    follow: (body[0] & READ_FLAGS.FOLLOW) !== 0,
    liveOnly: (body[0] & READ_FLAGS.LIVE_ONLY) !== 0,
    limit: body.readUInt32BE(1),
    since: since === NO_SINCE ? null : since,
    until: until === NO_UNTIL ? null : until,
    user: body.subarray(21, 53),
    line: body.subarray(53, 85),
  };
}

/** Does a record pass a read query's filters? */
export function readMatches(q: ReadQuery, record: Buffer): boolean {
  if (q.user[0] !== 0 && !sameField(q.user, record.subarray(44, 76))) return false;
  if (q.line[0] !== 0 && !sameField(q.line, record.subarray(8, 40))) return false;
  const sec = record.readBigInt64LE(344);
  if (q.since !== null && sec < q.since) return false;
  if (q.until !== null && sec > q.until) return false;
  return true;
}

/** Body sizes after the command byte; a byte not listed is unknown to that service. */
const BODY: Readonly<Record<Service, ReadonlyMap<number, number>>> = {
  utmp: new Map([
    [0x72, 0], // r rewind
    [0x65, 0], // e getent
    [0x41, 0], // A getall (ours)
    [0x69, 6], // i getid: type u16 big-endian + 4-byte id
    [0x6c, 32], // l getline
    [0x45, RECORD], // E putline
  ]),
  wtmp: new Map([
    [0x2b, RECORD], // + append
    [0x52, READ_BODY], // R read (ours): flags, limit, since, until, user, line
  ]),
};

export const UTMP_COMMANDS: readonly number[] = [...BODY.utmp.keys()];

export function bodySize(service: Service, command: number): number | undefined {
  return BODY[service].get(command);
}

export interface Frame {
  command: number;
  body: Buffer;
}

export interface Framing {
  frames: Frame[];
  /**
   * Why framing stopped: all bytes used ('end'), an unknown command byte ('unknown': the
   * server closes without answering it), a request cut short ('truncated'), or bytes after
   * the single wtmp request ('ignored': the server answers once and closes).
   */
  stop: 'end' | 'unknown' | 'truncated' | 'ignored';
}

/** Splits a byte stream into the requests a server of this service frames from it. */
export function frame(service: Service, bytes: Uint8Array): Framing {
  const frames: Frame[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (service === 'wtmp' && frames.length === 1) return { frames, stop: 'ignored' };
    const size = bodySize(service, bytes[at]);
    if (size === undefined) return { frames, stop: 'unknown' };
    if (at + 1 + size > bytes.length) return { frames, stop: 'truncated' };
    frames.push({ command: bytes[at], body: Buffer.from(bytes.subarray(at + 1, at + 1 + size)) });
    at += 1 + size;
  }
  return { frames, stop: 'end' };
}

/** ut_user (offset 44) up to a NUL, all 32 bytes when there is none. */
export function wtmpUserName(record: Uint8Array): string {
  const field = record.subarray(44, 44 + 32);
  const nul = field.indexOf(0);
  return Buffer.from(nul < 0 ? field : field.subarray(0, nul)).toString('latin1');
}

/**
 * What nobody may append (docs/PROTOCOL-EXTENSIONS.md): LOGIN_PROCESS, USER_PROCESS or
 * DEAD_PROCESS naming exactly 'nobody', for a line utmp agrees is its own (lineAllowed).
 */
const NON_ROOT_TYPES = new Set([6, 7, 8]);

/** True when this peer is allowed to make this request change the file (for DEAD_PROCESS: may be). */
export function mayWrite(service: Service, who: Who, f: Frame): boolean {
  if (service === 'utmp') return f.command === 0x45 && who === 'root';
  if (f.command !== 0x2b) return false;
  return who === 'root' || (NON_ROOT_TYPES.has(recordType(f.body)) && wtmpUserName(f.body) === 'nobody');
}

/**
 * May nobody append this record, given what utmp holds? Every live entry (LOGIN or
 * USER_PROCESS) for its ut_line names nobody; a DEAD_PROCESS also needs at least one.
 */
export function lineAllowed(record: Uint8Array, utmp: readonly Uint8Array[]): boolean {
  const line = record.subarray(8, 40);
  const live = utmp.filter((r) => (recordType(r) === 6 || recordType(r) === 7) && sameField(line, r.subarray(8, 40)));
  return (live.length > 0 || recordType(record) !== 8) && live.every((r) => wtmpUserName(r) === 'nobody');
}

/** Records this stream may add to the file of its service (in request order). */
export function writesOf(service: Service, who: Who, framing: Framing): Buffer[] {
  return framing.frames.filter((f) => mayWrite(service, who, f)).map((f) => f.body);
}

/** ut_type of a utmps record (int16 little-endian at 0). */
export function recordType(record: Uint8Array): number {
  return (record[0] | (record[1] << 8)) << 16 >> 16;
}

const isTimeType = (t: number): boolean => t >= 1 && t <= 4;

/** strncmp over fixed fields: equal up to the first NUL or the end (how utmp compares). */
export function sameField(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length && i < b.length; i++) {
    if (a[i] !== b[i]) return false;
    if (a[i] === 0) return true;
  }
  return a.length === b.length;
}
const isProcessType = (t: number): boolean => t >= 5 && t <= 8;

/**
 * Might a putline of `next` overwrite the stored record `old`? An over-approximation of the
 * glibc search rule (PROTOCOL.md section 3, Ours): it may say yes when the server would
 * not, never the reverse.
 */
export function mayReplace(next: Uint8Array, old: Uint8Array): boolean {
  const tn = recordType(next);
  const to = recordType(old);
  if (isTimeType(tn)) return to === tn;
  // Any other new type (EMPTY, ACCOUNTING, garbage too) searches the process entries, as
  // glibc's pututline does (its matches() looks only at the stored entry's type).
  if (!isProcessType(to)) return false;
  return sameField(next.subarray(40, 44), old.subarray(40, 44)) || next[40] === 0 || old[40] === 0;
}

// ---- answers ----

export interface Answer {
  frame: number;
  status: number;
  records: Buffer[];
  /** A following wtmp read: records sent after the history's ESRCH. */
  live: Buffer[];
}

export interface AnswerParse {
  answers: Answer[];
  /** Every frame got its whole answer. */
  complete: boolean;
  /** Bytes left over that no frame asked for. */
  extra: number;
  /** What is wrong with the answers, if anything: a status or record the protocol rules out. */
  problems: string[];
  /** Where parsing stopped (the first frame without its whole answer), to resume later. */
  resume: ParsePosition;
}

export interface ParsePosition {
  frame: number;
  at: number;
}

const ESRCH = 3;
const EPERM = 1;
const EINVAL = 22;

/** What is known of utmp while a conversation runs: its records, when nothing could change them. */
export interface AnswerContext {
  utmp?: readonly Uint8Array[];
}

/** The statuses a frame may be answered with, and whether a record follows a 0. */
function expectation(service: Service, who: Who, f: Frame, ctx: AnswerContext): { statuses: number[]; record: boolean; many: boolean } {
  if (service === 'wtmp' && f.command === 0x52) return { statuses: [ESRCH], record: true, many: true };
  if (service === 'wtmp') {
    if (!mayWrite('wtmp', who, f)) return { statuses: [EPERM], record: false, many: false };
    if (who === 'root') return { statuses: [0], record: false, many: false };
    // A non-root record depends on utmp's entries for its line, which root's putlines may
    // change meanwhile.
    const statuses = ctx.utmp === undefined ? [0, EPERM] : [lineAllowed(f.body, ctx.utmp) ? 0 : EPERM];
    return { statuses, record: false, many: false };
  }
  switch (f.command) {
    case 0x72:
      return { statuses: [0], record: false, many: false };
    case 0x65:
    case 0x6c:
      return { statuses: [0, ESRCH], record: true, many: false };
    case 0x69: {
      // getid of a type that names no search (EMPTY, ACCOUNTING, anything > 8): EINVAL (Ours).
      const type = f.body.readUInt16BE(0);
      return { statuses: type >= 1 && type <= 8 ? [0, ESRCH] : [EINVAL], record: true, many: false };
    }
    case 0x41:
      return { statuses: [ESRCH], record: true, many: true };
    case 0x45:
      return { statuses: [who === 'root' ? 0 : EPERM], record: false, many: false };
    default:
      throw new RangeError(`no such utmp command 0x${f.command.toString(16)}`);
  }
}

/** Checks the records of a wtmp read against its query. */
function readProblem(f: Frame, history: Buffer[], live: Buffer[]): string | null {
  const q = readQuery(f.body);
  if (q.liveOnly && history.length > 0) return `a live-only read sent ${history.length} history records`;
  if (q.limit > 0 && history.length > q.limit) return `a read limited to ${q.limit} records sent ${history.length}`;
  if (!q.follow && live.length > 0) return 'a read that does not follow sent records after its ESRCH';
  if ([...history, ...live].some((r) => !readMatches(q, r))) return 'a read sent a record its filters exclude';
  return null;
}

/** Checks what a getline/getid answer returned against what was asked for. */
function recordProblem(f: Frame, record: Buffer): string | null {
  const type = recordType(record);
  if (f.command === 0x6c) {
    if (type !== 6 && type !== 7) return `getline returned a record of type ${type}`;
    if (!sameField(record.subarray(8, 40), f.body)) return 'getline returned a record with another ut_line';
  }
  if (f.command === 0x69) {
    const want = f.body.readUInt16BE(0);
    if (isTimeType(want) && type !== want) return `getid(${want}) returned a record of type ${type}`;
    if (isProcessType(want)) {
      if (!isProcessType(type)) return `getid(${want}) returned a record of type ${type}`;
      if (!sameField(record.subarray(40, 44), f.body.subarray(2, 6))) return `getid(${want}) returned a record with another ut_id`;
    }
  }
  return null;
}

/**
 * Parses the answer bytes a client received for these frames, in order. Stops at the first
 * answer that is not all there (complete: false).
 */
export function parseAnswers(
  service: Service,
  who: Who,
  frames: readonly Frame[],
  received: Uint8Array,
  from: ParsePosition = { frame: 0, at: 0 },
  ctx: AnswerContext = {},
): AnswerParse {
  const answers: Answer[] = [];
  const problems: string[] = [];
  let at = from.at;
  for (let i = from.frame; i < frames.length; i++) {
    const start = at;
    const stopHere = (): AnswerParse => ({ answers, complete: false, extra: 0, problems, resume: { frame: i, at: start } });
    const f = frames[i];
    const want = expectation(service, who, f, ctx);
    const records: Buffer[] = [];
    let status: number;
    for (;;) {
      if (at >= received.length) return stopHere();
      status = received[at];
      if (status !== 0 || !want.record) {
        at += 1;
        break;
      }
      if (at + 1 + RECORD > received.length) return stopHere();
      const record = Buffer.from(received.subarray(at + 1, at + 1 + RECORD));
      records.push(record);
      at += 1 + RECORD;
      if (!want.many) break;
    }
    const live: Buffer[] = [];
    if (service === 'wtmp' && f.command === 0x52 && readQuery(f.body).follow) {
      // A follower's stream goes on after the ESRCH until the connection ends.
      while (at + 1 + RECORD <= received.length && received[at] === 0) {
        live.push(Buffer.from(received.subarray(at + 1, at + 1 + RECORD)));
        at += 1 + RECORD;
      }
      if (at < received.length && received[at] === 0) at = received.length; // a record still arriving
    }
    if (!want.statuses.includes(status)) {
      problems.push(`request ${i} (0x${f.command.toString(16)}) answered ${status}, expected ${want.statuses.join(' or ')}`);
    } else if (want.record && !want.many && status === 0) {
      const why = recordProblem(f, records[0]);
      if (why) problems.push(`request ${i}: ${why}`);
    } else if (service === 'wtmp' && f.command === 0x52) {
      const why = readProblem(f, records, live);
      if (why) problems.push(`request ${i} (wtmp read): ${why}`);
    }
    answers.push({ frame: i, status, records, live });
  }
  return { answers, complete: true, extra: received.length - at, problems, resume: { frame: frames.length, at } };
}
