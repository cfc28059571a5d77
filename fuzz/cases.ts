// Fuzz cases: each is a few concurrent conversations with the daemons, generated from the
// run's seed and the case number alone (caseSeed), so any case can be built again.
//
// The raw material is valid requests (PROTOCOL.md sections 3 and 4) with plausible or
// random records; the case kinds then flip bytes, cut streams short, glue them together,
// sweep every command byte, send huge bursts, dribble byte by byte or hang up mid-way.

import type { Conversation, EndMode } from './conversation.js';
import type { LockHold } from './locker.js';
import { bodySize, READ_BODY, RECORD, type Service, UTMP_COMMANDS, type Who } from './model.js';
import { caseSeed, Prng } from './prng.js';

export interface FuzzCase {
  index: number;
  kind: string;
  conversations: Conversation[];
  /** Locks other processes hold on the files while the case plays. */
  locks?: LockHold[];
}

const LINES = ['pts/0', 'pts/1', 'pts/2', 'pts/3', 'tty1', 'tty2', 'ttyp0', ':0', ''];
const IDS = ['ts/0', 'ts/1', 'ts/2', '1', '2', 'si', 'p0', '~~', ''];
const USERS = ['root', 'alice', 'bob', 'nobody', 'LOGIN', 'reboot', '', 'a-name-that-fills-the-32-bytes!!', 'nobody-x'];

function field(text: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  out.write(text, 0, size, 'latin1');
  return out;
}

/** A record at the utmps offsets (PROTOCOL.md section 1), fields from small pools so matches happen. */
export function plausibleRecord(rng: Prng, user?: string): Buffer {
  const rec = Buffer.alloc(RECORD);
  const type = rng.chance(0.85) ? rng.pick([1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 8]) : rng.chance(0.5) ? rng.pick([0, 9]) : rng.int(65536) - 32768;
  rec.writeInt16LE(type, 0);
  rec.writeInt32LE(rng.next() | 0, 4);
  field(rng.pick(LINES), 32).copy(rec, 8);
  field(rng.pick(IDS), 4).copy(rec, 40);
  field(user ?? rng.pick(USERS), 32).copy(rec, 44);
  if (rng.chance(0.5)) rng.bytes(rng.int(64)).copy(rec, 76); // ut_host, not NUL-terminated sometimes
  rec.writeInt32LE(rng.next() | 0, 336); // ut_session: makes most records unique
  rec.writeBigInt64LE(BigInt(rng.range(0, 2_000_000_000)), 344);
  rec.writeBigInt64LE(BigInt(rng.int(1_000_000)), 352);
  if (rng.chance(0.3)) rng.bytes(16).copy(rec, 360);
  // Now and then, bytes where only zeros belong: the daemons must store them verbatim.
  if (rng.chance(0.1)) rng.bytes(4).copy(rec, 340);
  if (rng.chance(0.1)) rng.bytes(24).copy(rec, 376);
  return rec;
}

export function anyRecord(rng: Prng, user?: string): Buffer {
  return rng.chance(0.8) ? plausibleRecord(rng, user) : rng.bytes(RECORD);
}

/** One valid request for this service as this peer. */
/** A wtmp read (ours): random flags, and filters that sometimes match something. */
function readRequest(rng: Prng): Buffer {
  const body = Buffer.alloc(READ_BODY);
  body[0] = rng.chance(0.8) ? rng.int(8) : rng.int(256);
  body.writeUInt32BE(rng.chance(0.5) ? 0 : rng.chance(0.9) ? rng.range(1, 20) : rng.next(), 1);
  body.writeBigInt64BE(rng.chance(0.7) ? -(1n << 63n) : BigInt(rng.range(0, 2_000_000_000)), 5);
  body.writeBigInt64BE(rng.chance(0.7) ? (1n << 63n) - 1n : BigInt(rng.range(0, 2_000_000_000)), 13);
  if (rng.chance(0.3)) field(rng.pick(USERS), 32).copy(body, 21);
  if (rng.chance(0.3)) field(rng.pick(LINES), 32).copy(body, 53);
  return Buffer.concat([Buffer.of(0x52), body]);
}

function validRequest(rng: Prng, service: Service, who: Who): Buffer {
  if (service === 'wtmp' && rng.chance(0.15)) return readRequest(rng);
  if (service === 'wtmp') {
    const user = who === 'nobody' && rng.chance(0.6) ? 'nobody' : undefined;
    return Buffer.concat([Buffer.of(0x2b), anyRecord(rng, user)]);
  }
  const op = rng.weighted({ r: 3, e: 5, A: 1, i: 2, l: 2, E: 4 });
  switch (op) {
    case 'r':
    case 'e':
    case 'A':
      return Buffer.from(op, 'latin1');
    case 'i': {
      const body = Buffer.alloc(6);
      const type = rng.chance(0.8) ? rng.range(1, 8) : rng.chance(0.5) ? rng.pick([0, 9]) : rng.int(65536);
      body.writeUInt16BE(type, 0);
      (rng.chance(0.9) ? field(rng.pick(IDS), 4) : rng.bytes(4)).copy(body, 2);
      return Buffer.concat([Buffer.of(0x69), body]);
    }
    case 'l':
      return Buffer.concat([Buffer.of(0x6c), rng.chance(0.9) ? field(rng.pick(LINES), 32) : rng.bytes(32)]);
    default:
      return Buffer.concat([Buffer.of(0x45), anyRecord(rng)]);
  }
}

/** A stream of n valid requests (wtmp: one append, sometimes followed by more). */
function validStream(rng: Prng, service: Service, who: Who, n = rng.range(1, 8)): Buffer {
  const count = service === 'wtmp' ? (rng.chance(0.8) ? 1 : rng.range(2, 3)) : n;
  return Buffer.concat(Array.from({ length: count }, () => validRequest(rng, service, who)));
}

/** Cuts bytes into chunks at random points (each chunk one write). */
function split(rng: Prng, bytes: Buffer, pieces = rng.range(1, 6)): Buffer[] {
  if (bytes.length <= 1 || pieces <= 1) return [bytes];
  const cuts = new Set<number>();
  for (let i = 1; i < pieces; i++) cuts.add(rng.range(1, bytes.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of sorted) {
    out.push(bytes.subarray(at, cut));
    at = cut;
  }
  out.push(bytes.subarray(at));
  return out;
}

function flip(rng: Prng, bytes: Buffer, flips = rng.range(1, 4)): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < flips && out.length > 0; i++) {
    const at = rng.chance(0.3) ? 0 : rng.int(out.length);
    out[at] ^= rng.range(1, 255);
  }
  return out;
}

function endMode(rng: Prng): EndMode {
  return rng.weighted({ eof: 5, close: 4, abort: 1 }) as EndMode;
}

function pickService(rng: Prng): Service {
  return rng.chance(0.6) ? 'utmp' : 'wtmp';
}

function pickWho(rng: Prng): Who {
  return rng.chance(0.3) ? 'nobody' : 'root';
}

function conversation(rng: Prng, service: Service, who: Who, bytes: Buffer, end = endMode(rng)): Conversation {
  const chunks = split(rng, bytes);
  return { service, who, chunks, end, abortAfter: end === 'abort' ? rng.int(chunks.length + 1) : undefined };
}

type Maker = (rng: Prng, index: number) => Conversation[] | { conversations: Conversation[]; locks: LockHold[] };

function many(rng: Prng, make: () => Conversation, max = 4): Conversation[] {
  return Array.from({ length: rng.range(1, max) }, make);
}

const KINDS: Record<string, { weight: number; make: Maker }> = {
  valid: {
    weight: 8,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        return conversation(rng, service, who, validStream(rng, service, who));
      }),
  },
  flip: {
    weight: 8,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        return conversation(rng, service, who, flip(rng, validStream(rng, service, who)));
      }),
  },
  truncate: {
    weight: 5,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        const bytes = validStream(rng, service, who);
        return conversation(rng, service, who, bytes.subarray(0, rng.int(bytes.length)));
      }),
  },
  concat: {
    weight: 4,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        const parts = Array.from({ length: rng.range(2, 5) }, () => {
          const s = validStream(rng, service, who);
          return rng.chance(0.2) ? flip(rng, s, 1) : s;
        });
        if (rng.chance(0.3)) parts.push(rng.bytes(rng.length(600)));
        return { service, who, chunks: [Buffer.concat(parts)], end: rng.chance(0.7) ? 'eof' : 'close' };
      }),
  },
  command: {
    weight: 6,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        const byte = rng.chance(0.5) ? rng.int(256) : service === 'utmp' ? rng.pick(UTMP_COMMANDS) : rng.pick([0x2b, 0x52]);
        const size = bodySize(service, byte);
        const length = size !== undefined && rng.chance(0.5) ? size : rng.length(450);
        return conversation(rng, service, who, Buffer.concat([Buffer.of(byte), rng.bytes(length)]));
      }),
  },
  random: {
    weight: 4,
    make: (rng) => many(rng, () => conversation(rng, pickService(rng), pickWho(rng), rng.bytes(rng.length(3000)))),
  },
  burst: {
    weight: 2,
    make: (rng) => {
      const who = pickWho(rng);
      if (rng.chance(0.75)) {
        // Thousands of reads (and a few writes) pipelined in one write.
        const n = rng.range(100, 3000);
        const parts: Buffer[] = [];
        let writes = 0;
        let getalls = 0;
        while (parts.length < n) {
          const req = validRequest(rng, 'utmp', who);
          if (req[0] === 0x45 && writes++ >= 20) continue;
          if (req[0] === 0x41 && getalls++ >= 3) continue;
          parts.push(req);
        }
        return [{ service: 'utmp', who, chunks: [Buffer.concat(parts)], end: rng.chance(0.8) ? 'eof' : 'abort', abortAfter: 1 }];
      }
      // One valid append, then a long tail the server must ignore without choking.
      const service = pickService(rng);
      const tail = rng.bytes(rng.range(64 * 1024, 1024 * 1024));
      return [{ service, who, chunks: [validStream(rng, service, who, 1), tail], end: rng.chance(0.7) ? 'eof' : 'close' }];
    },
  },
  dribble: {
    weight: 4,
    make: (rng) =>
      many(
        rng,
        () => {
          const service = pickService(rng);
          const who = pickWho(rng);
          let bytes = validStream(rng, service, who, rng.range(1, 2));
          if (rng.chance(0.3)) bytes = flip(rng, bytes, 1);
          const chunks = Array.from(bytes.subarray(0, Math.min(bytes.length, 900)), (b) => Buffer.of(b));
          const end: EndMode = rng.weighted({ eof: 6, close: 3, abort: 1 }) as EndMode;
          return { service, who, chunks, end, gapMs: rng.chance(0.1) ? 1 : 0, abortAfter: rng.int(chunks.length + 1) };
        },
        2,
      ),
  },
  abort: {
    weight: 4,
    make: (rng) =>
      many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        // Sometimes a getall whose answer the client never reads.
        const bytes = service === 'utmp' && rng.chance(0.3) ? Buffer.from('rArArA', 'latin1') : validStream(rng, service, who);
        const chunks = split(rng, bytes);
        return { service, who, chunks, end: 'abort', abortAfter: rng.int(chunks.length + 1) };
      }),
  },
  race: {
    weight: 3,
    make: (rng) =>
      Array.from({ length: rng.range(3, 8) }, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        return conversation(rng, service, who, validStream(rng, service, who, rng.range(2, 10)), rng.chance(0.8) ? 'eof' : 'abort');
      }),
  },
  // Refusals as fast as a client can ask: the log must not grow with them (log-summary.ts).
  refusals: {
    weight: 2,
    make: (rng) => {
      // Under about 100 KiB, so that even a UCSPI daemon still starting takes it all into
      // the socket buffer (a stalled write would be a finding of its own).
      const parts: Buffer[] = [];
      let putlines = 0;
      for (let n = rng.range(200, 3000); parts.length < n; ) {
        if (putlines < 200 && rng.chance(0.3)) {
          putlines++;
          parts.push(Buffer.concat([Buffer.of(0x45), anyRecord(rng)])); // putline by nobody: EPERM
        }
        else parts.push(Buffer.concat([Buffer.of(0x69, 0, rng.pick([0, 9, 10, 200]), 0, 0, 0, 0)])); // getid of no searchable type: EINVAL
      }
      const conversations: Conversation[] = [{ service: 'utmp', who: 'nobody', chunks: split(rng, Buffer.concat(parts)), end: 'eof' }];
      // wtmp appends nobody may not make: another name, or a type only root writes.
      for (let k = rng.range(2, 8); k > 0; k--) {
        const rec = plausibleRecord(rng, rng.chance(0.5) ? 'root' : 'nobody');
        if (rng.chance(0.6)) rec.writeInt16LE(rng.pick([0, 1, 2, 3, 4, 5, 9]), 0);
        conversations.push({ service: 'wtmp', who: 'nobody', chunks: [Buffer.concat([Buffer.of(0x2b), rec])], end: 'eof' });
      }
      // Connections the server closes: an unknown command byte.
      for (let k = rng.int(6); k > 0; k--) conversations.push({ service: 'utmp', who: 'nobody', chunks: [Buffer.of(0x78)], end: 'eof' });
      return conversations;
    },
  },
  // Pipeliners that never read their answers, holding the connection a while; others
  // (root's valid requests) must be served all the same.
  nonReader: {
    weight: 2,
    make: (rng) => {
      const conversations: Conversation[] = many(
        rng,
        () => {
          const who = pickWho(rng);
          if (rng.chance(0.2)) {
            return { service: 'wtmp', who, chunks: [readRequest(rng)], end: 'stall', holdMs: rng.range(100, 3000) };
          }
          const bytes = Buffer.concat(Array.from({ length: rng.range(50, 2000) }, () => Buffer.from(rng.pick(['A', 'rA', 'r', 'e', 'ee']), 'latin1')));
          return { service: 'utmp', who, chunks: split(rng, bytes), end: 'stall', holdMs: rng.range(100, 3000) };
        },
        3,
      );
      for (let k = rng.range(1, 3); k > 0; k--) {
        const service = pickService(rng);
        conversations.push(conversation(rng, service, 'root', validStream(rng, service, 'root'), 'eof'));
      }
      return conversations;
    },
  },
  // Another process holds a lock on a file while valid requests come in: nobody can hold
  // a read lock on a 0644 file, root a write lock too. Held well inside -L (5 s here).
  locks: {
    weight: 2,
    make: (rng) => {
      const locks: LockHold[] = Array.from({ length: rng.range(1, 2) }, () => {
        const who = pickWho(rng);
        return {
          file: rng.chance(0.5) ? 'utmp' : 'wtmp',
          kind: who === 'root' && rng.chance(0.5) ? 'write' : 'read',
          who,
          holdMs: rng.range(50, 1500),
        };
      });
      const conversations = many(rng, () => {
        const service = pickService(rng);
        const who = pickWho(rng);
        return conversation(rng, service, who, validStream(rng, service, who), rng.chance(0.8) ? 'eof' : 'close');
      });
      return { conversations, locks };
    },
  },
  empty: {
    weight: 1,
    make: (rng) => many(rng, () => ({ service: pickService(rng), who: pickWho(rng), chunks: [], end: endMode(rng) })),
  },
};

const WEIGHTS: Record<string, number> = Object.fromEntries(Object.entries(KINDS).map(([k, v]) => [k, v.weight]));

export const CASE_KINDS: readonly string[] = Object.keys(KINDS);

/** Random case `index` of the run seeded with `seed`. */
export function makeCase(seed: number, index: number): FuzzCase {
  const rng = new Prng(caseSeed(seed, index));
  const kind = rng.weighted(WEIGHTS);
  const made = KINDS[kind].make(rng, index);
  return Array.isArray(made) ? { index, kind, conversations: made } : { index, kind, ...made };
}

/** Cases that send every command byte 0..255 to one service, 16 connections per case. */
export function sweepCases(seed: number, service: Service): FuzzCase[] {
  const out: FuzzCase[] = [];
  for (let first = 0; first < 256; first += 16) {
    const rng = new Prng(caseSeed(seed ^ (service === 'utmp' ? 0x5eed : 0xbeef), first));
    const conversations: Conversation[] = [];
    for (let byte = first; byte < first + 16; byte++) {
      const size = bodySize(service, byte);
      const length = size !== undefined && rng.chance(0.5) ? size : rng.range(0, RECORD + 20);
      const who = rng.chance(0.25) ? 'nobody' : 'root';
      conversations.push({ service, who, chunks: [Buffer.concat([Buffer.of(byte), rng.bytes(length)])], end: rng.chance(0.7) ? 'eof' : 'close' });
    }
    out.push({ index: -1 - first / 16 - (service === 'wtmp' ? 16 : 0), kind: `sweep-${service}-${first}`, conversations });
  }
  return out;
}

/** Records to seed the files with before a run (or after a reset): garbage and plausible ones. */
export function seedRecords(rng: Prng, n: number): Buffer {
  return Buffer.concat(Array.from({ length: n }, () => (rng.chance(0.5) ? rng.bytes(RECORD) : plausibleRecord(rng))));
}

/** A one-line description of a case, for reports. */
export function describeCase(c: FuzzCase): string {
  const convs = c.conversations.map((v) => {
    const bytes = Buffer.concat(v.chunks);
    const head = bytes.subarray(0, 8).toString('hex');
    return `${v.service}/${v.who}/${v.end}${v.end === 'stall' ? `@${v.holdMs}ms` : ''}${v.abortAfter !== undefined && v.end === 'abort' ? `@${v.abortAfter}` : ''}:${v.chunks.length}w:${bytes.length}B:${head}`;
  });
  const locks = (c.locks ?? []).map((l) => `lock:${l.file}/${l.kind}/${l.who}/${l.holdMs}ms`);
  return `case ${c.index} (${c.kind}): ${[...locks, ...convs].join(' ')}`;
}
