// Request framing and answers against the transcripts captured from the C utmps 0.1.2.3
// daemons (test/vectors/transcripts.json; PROTOCOL.md sections 2-4). Expected bytes
// come from the transcripts or from test/helpers/bytes.ts, never from the encoders tested.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { type Answer, AnswerReader, recordAnswer, recordsAnswer, statusAnswer } from '../../src/protocol/answer.js';
import { commandForByte, Commands, type Service } from '../../src/protocol/commands.js';
import { Errno, errnoName, errnoNumber, errnoOf } from '../../src/errno.js';
import { encodeRequest, ProtocolError, type Request, RequestParser } from '../../src/protocol/request.js';
import { decodeEntry } from '../../src/record/entry.js';
import { byteByByte, cat, hex, padded, splitAt, toHex, u16be } from '../helpers/bytes.js';
import { VECTORS } from '../helpers/paths.js';

// ---------------------------------------------------------------------------------------
// Transcripts

interface Chunk {
  dir: 'C>S' | 'S>C';
  hex?: string;
  event?: string;
}

interface Transcript {
  name: string;
  connections: Array<{ chunks: Chunk[] }>;
}

const TRANSCRIPTS: Transcript[] = (
  JSON.parse(readFileSync(join(VECTORS, 'transcripts.json'), 'utf8')) as { transcripts: Transcript[] }
).transcripts;

type Op = Request['op'];

/**
 * What each transcript shows, written out from vectors/README.md: per connection, each
 * request's op and the status byte the C daemon answered. 'EPROTO' means the parser must
 * refuse the stream; 'INCOMPLETE' that it must wait for more bytes.
 */
const EXPECTED: Record<string, Array<[Op, number]> | 'EPROTO' | 'INCOMPLETE'> = {
  '01-rewind': [['rewind', 0]],
  '02-getent-empty-ESRCH': [['getent', 3]],
  '03-putline-root': [['putline', 0]],
  '04-putline-several': [['putline', 0], ['putline', 0], ['putline', 0]],
  '05-getent-all': [['rewind', 0], ['getent', 0], ['getent', 0], ['getent', 0], ['getent', 0], ['getent', 3]],
  '06-getid-found': [['getid', 0]],
  '07-getid-notfound': [['getid', 3]],
  '08-getid-boottime': [['getid', 0]],
  '09-getid-runlvl-ESRCH': [['getid', 3]],
  '10-getline-found': [['getline', 0]],
  '11-getline-notfound': [['getline', 3]],
  '12-getid-after-getline': [['getline', 0], ['getid', 3], ['rewind', 0], ['getid', 0]],
  '13-putline-nobody-EPERM': [['putline', 1], ['rewind', 0], ['getent', 0]],
  '14-putline-uid-nonroot-gid0-OK': [['putline', 0]],
  '15-putline-update-in-place': [
    ['rewind', 0], ['putline', 0], ['rewind', 0],
    ['getent', 0], ['getent', 0], ['getent', 0], ['getent', 0], ['getent', 0], ['getent', 3],
  ],
  '16-wtmp-root': [['append', 0]],
  '17-wtmp-nobody-own-name': [['append', 0]],
  '18-wtmp-nobody-other-name-EPERM': [['append', 1]],
  '19-wtmp-nobody-unknown-user-EPERM': [['append', 1]],
  '20-wtmp-nobody-empty-user-EPERM': [['append', 1]],
  '21-utmpd-unknown-command': 'EPROTO',
  '22-wtmpd-bad-command': 'EPROTO',
  '23-wtmpd-short-record': 'INCOMPLETE',
};

function serviceOf(t: Transcript): Service {
  return t.name.includes('wtmp') ? 'wtmp' : 'utmp';
}

function chunksOf(conn: { chunks: Chunk[] }, dir: Chunk['dir']): Buffer[] {
  return conn.chunks.filter((c) => c.dir === dir && c.hex !== undefined && c.hex !== '').map((c) => hex(c.hex as string));
}

interface Parsed {
  requests: Request[];
  error?: unknown;
  buffered: number;
}

/** Feeds chunks to a fresh parser and takes every complete request; stops at an error. */
function parse(service: Service, chunks: readonly Uint8Array[]): Parsed {
  const parser = new RequestParser(service);
  const requests: Request[] = [];
  for (const chunk of chunks) {
    parser.push(chunk);
    for (;;) {
      let request: Request | null;
      try {
        request = parser.next();
      } catch (error) {
        return { requests, error, buffered: parser.buffered };
      }
      if (request === null) break;
      requests.push(request);
    }
  }
  return { requests, buffered: parser.buffered };
}

/** Every chunking we try: one chunk, byte by byte, and two chunks split at every index. */
function chunkings(bytes: Buffer): Array<[string, Buffer[]]> {
  const out: Array<[string, Buffer[]]> = [
    ['one chunk', [bytes]],
    ['byte by byte', byteByByte(bytes)],
  ];
  for (let i = 0; i <= bytes.length; i++) out.push([`split at ${i}`, splitAt(bytes, i)]);
  return out;
}

function reencode(r: Request): Buffer {
  switch (r.op) {
    case 'rewind':
      return encodeRequest.rewind();
    case 'getent':
      return encodeRequest.getent();
    case 'getall':
      return encodeRequest.getall();
    case 'getid':
      return encodeRequest.getid(r.type, r.id);
    case 'getline':
      return encodeRequest.getline(r.line);
    case 'putline':
      return encodeRequest.putline(r.record);
    case 'append':
      return encodeRequest.append(r.record);
    case 'read':
      return encodeRequest.read(r);
  }
}

function withRecord(op: Op): boolean {
  return op === 'getent' || op === 'getid' || op === 'getline';
}

/** Reads answers of the given shapes from chunks; whatever the chunking, all must arrive. */
function readAnswers(shapes: readonly boolean[], chunks: readonly Uint8Array[]): Answer[] {
  const reader = new AnswerReader();
  const out: Answer[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    while (out.length < shapes.length) {
      const answer = reader.next(shapes[out.length]);
      if (answer === null) break;
      out.push(answer);
    }
  }
  assert.equal(reader.buffered, 0, 'bytes left over after the last answer');
  return out;
}

describe('transcripts', () => {
  test('every transcript has an expectation', () => {
    assert.equal(TRANSCRIPTS.length, 23);
    assert.deepEqual(TRANSCRIPTS.map((t) => t.name).sort(), Object.keys(EXPECTED).sort());
  });

  for (const t of TRANSCRIPTS) {
    describe(t.name, () => {
      const expected = EXPECTED[t.name];
      const service = serviceOf(t);

      test('client bytes parse the same in every chunking', () => {
        assert.ok(expected !== undefined, `no expectation for ${t.name}`);
        assert.equal(t.connections.length, 1);
        for (const conn of t.connections) {
          const stream = cat(...chunksOf(conn, 'C>S'));
          assert.ok(stream.length > 0);
          const reference = parse(service, [stream]);
          for (const [how, chunks] of chunkings(stream)) {
            const got = parse(service, chunks);
            assert.deepEqual(got.requests, reference.requests, how);
            assert.equal(got.buffered, reference.buffered, how);
            assert.equal(got.error === undefined, reference.error === undefined, how);
          }
          if (expected === 'EPROTO') {
            assert.equal(reference.requests.length, 0);
            assert.ok(reference.error instanceof ProtocolError, `expected a ProtocolError, got ${String(reference.error)}`);
            assert.equal(reference.error.code, 'EPROTO');
            assert.equal(reference.error.errno, Errno.EPROTO);
            // The parser keeps refusing: nothing after the bad byte is interpreted.
            const p = new RequestParser(service);
            p.push(stream);
            assert.throws(() => p.next(), { code: 'EPROTO' });
            assert.throws(() => p.next(), { code: 'EPROTO' });
          } else if (expected === 'INCOMPLETE') {
            assert.equal(reference.error, undefined);
            assert.equal(reference.requests.length, 0);
            assert.equal(reference.buffered, 11);
            const p = new RequestParser(service);
            p.push(stream);
            assert.equal(p.next(), null);
            assert.equal(p.buffered, 11);
          } else {
            assert.equal(reference.error, undefined, String(reference.error));
            assert.equal(reference.buffered, 0);
            assert.deepEqual(reference.requests.map((r) => r.op), expected.map(([op]) => op));
            // The relay logged one client write per request: each is one whole request.
            assert.equal(chunksOf(conn, 'C>S').length, expected.length);
          }
        }
      });

      if (Array.isArray(expected)) {
        test('encodeRequest gives back the client bytes', () => {
          for (const conn of t.connections) {
            const sent = chunksOf(conn, 'C>S');
            const { requests } = parse(service, [cat(...sent)]);
            assert.equal(requests.length, sent.length);
            requests.forEach((r, i) => assert.equal(toHex(reencode(r)), toHex(sent[i]), `request ${i} (${r.op})`));
          }
        });

        test('server answers read at every split point and rebuild exactly', () => {
          for (const conn of t.connections) {
            const answers = chunksOf(conn, 'S>C');
            const shapes: boolean[] = expected.map(([op]) => withRecord(op));
            const stream = cat(...answers);
            assert.equal(answers.length, expected.length, 'one answer chunk per request');
            const reference = readAnswers(shapes, [stream]);
            assert.deepEqual(reference.map((a) => a.status), expected.map(([, status]) => status));
            reference.forEach((a, i) => {
              const hasRecord = shapes[i] && a.status === 0;
              assert.equal(a.record !== null, hasRecord, `answer ${i}`);
              if (a.record) assert.equal(a.record.length, 400);
              const rebuilt = a.record ? recordAnswer(a.record) : statusAnswer(a.status);
              assert.equal(toHex(rebuilt), toHex(answers[i]), `answer ${i}`);
            });
            for (const [how, chunks] of chunkings(stream)) {
              assert.deepEqual(readAnswers(shapes, chunks), reference, how);
            }
          }
        });
      }
    });
  }

  // Request contents, checked against what the README and the client command lines say.
  const firstConnection = (name: string): { requests: Request[]; answers: Buffer[] } => {
    const t = TRANSCRIPTS.find((x) => x.name === name);
    assert.ok(t, name);
    const conn = t.connections[0];
    return { requests: parse(serviceOf(t), [cat(...chunksOf(conn, 'C>S'))]).requests, answers: chunksOf(conn, 'S>C') };
  };

  test('getid requests carry a big-endian type and a NUL-padded id', () => {
    const cases: Array<[string, number, string]> = [
      ['06-getid-found', 7, '74732f31'],
      ['07-getid-notfound', 7, '7a7a0000'],
      ['08-getid-boottime', 2, '00000000'],
      ['09-getid-runlvl-ESRCH', 1, '00000000'],
    ];
    for (const [name, type, id] of cases) {
      const [r] = firstConnection(name).requests;
      assert.ok(r.op === 'getid', name);
      assert.equal(r.type, type, name);
      assert.equal(toHex(r.id), id, name);
    }
  });

  test('getline requests carry the 32-byte line', () => {
    const cases: Array<[string, string]> = [
      ['10-getline-found', 'pts/1'],
      ['11-getline-notfound', 'pts/99'],
      ['12-getid-after-getline', 'tty2'],
    ];
    for (const [name, line] of cases) {
      const [r] = firstConnection(name).requests;
      assert.ok(r.op === 'getline', name);
      assert.equal(toHex(r.line), toHex(padded(line, 32)), name);
    }
  });

  test('putline and append carry the raw records', () => {
    const types = firstConnection('04-putline-several').requests.map((r) => {
      assert.ok(r.op === 'putline');
      return decodeEntry(r.record).typeName;
    });
    assert.deepEqual(types, ['LOGIN_PROCESS', 'BOOT_TIME', 'RUN_LVL']);
    const users: Array<[string, string]> = [
      ['17-wtmp-nobody-own-name', 'nobody'],
      ['18-wtmp-nobody-other-name-EPERM', 'root'],
      ['19-wtmp-nobody-unknown-user-EPERM', 'nosuchuser'],
      ['20-wtmp-nobody-empty-user-EPERM', ''],
    ];
    for (const [name, user] of users) {
      const [r] = firstConnection(name).requests;
      assert.ok(r.op === 'append', name);
      assert.equal(decodeEntry(r.record).user, user, name);
    }
  });

  test('the record found by getid is the one asked for', () => {
    const { answers } = firstConnection('06-getid-found');
    assert.equal(answers[0][0], 0);
    const e = decodeEntry(answers[0].subarray(1));
    assert.deepEqual([e.type, e.pid, e.line, e.id, e.user, e.tvSec, e.tvUsec], [7, 4242, 'pts/1', 'ts/1', 'alice', 1700000000n, 123456]);
  });
});

// ---------------------------------------------------------------------------------------
// The command table and the request encoders

describe('commands', () => {
  test('the wire vocabulary', () => {
    const table = Object.values(Commands).map((c) => [c.op, c.byte, c.service, c.body, c.answer, c.extension]);
    assert.deepEqual(table, [
      ['rewind', 0x72, 'utmp', 0, 'status', false],
      ['getent', 0x65, 'utmp', 0, 'record', false],
      ['getid', 0x69, 'utmp', 6, 'record', false],
      ['getline', 0x6c, 'utmp', 32, 'record', false],
      ['putline', 0x45, 'utmp', 400, 'status', false],
      ['getall', 0x41, 'utmp', 0, 'records', true],
      ['append', 0x2b, 'wtmp', 400, 'status', false],
      ['read', 0x52, 'wtmp', 85, 'records', true],
    ]);
  });

  test('a command belongs to one service only', () => {
    assert.equal(commandForByte('utmp', 0x72)?.op, 'rewind');
    assert.equal(commandForByte('wtmp', 0x2b)?.op, 'append');
    assert.equal(commandForByte('wtmp', 0x72), undefined);
    assert.equal(commandForByte('wtmp', 0x45), undefined);
    assert.equal(commandForByte('utmp', 0x2b), undefined);
    assert.equal(commandForByte('utmp', 0x78), undefined);
    assert.equal(commandForByte('utmp', 0x00), undefined);
  });

  test('encodeRequest writes the bytes of PROTOCOL.md section 3', () => {
    assert.deepEqual(encodeRequest.rewind(), hex('72'));
    assert.deepEqual(encodeRequest.getent(), hex('65'));
    assert.deepEqual(encodeRequest.getall(), hex('41'));
    assert.deepEqual(encodeRequest.getid(7, Buffer.from('ts/1')), cat(0x69, u16be(7), 'ts/1'));
    assert.deepEqual(encodeRequest.getid(2, Buffer.alloc(0)), hex('69 0002 00000000'));
    assert.deepEqual(encodeRequest.getid(0x1234, Buffer.from('ab')), hex('69 1234 61620000'));
    assert.deepEqual(encodeRequest.getline(Buffer.from('pts/1')), cat(0x6c, padded('pts/1', 32)));
    const record = randomBytes(400);
    assert.deepEqual(encodeRequest.putline(record), cat(0x45, record));
    assert.deepEqual(encodeRequest.append(record), cat(0x2b, record));
    assert.throws(() => encodeRequest.putline(Buffer.alloc(399)), RangeError);
    assert.throws(() => encodeRequest.append(Buffer.alloc(401)), RangeError);
  });
});

// ---------------------------------------------------------------------------------------
// Parser edge cases

describe('RequestParser', () => {
  test('garbage after a valid request: the request, then EPROTO', () => {
    const record = randomBytes(400);
    const cases: Array<[Service, Buffer, Op]> = [
      ['utmp', cat(0x72, 0x78), 'rewind'],
      ['utmp', cat(0x69, u16be(7), 'ts/1', 0x00), 'getid'],
      ['utmp', cat(0x6c, padded('tty1', 32), 0xff), 'getline'],
      ['utmp', cat(0x45, record, 0x2b), 'putline'],
      ['wtmp', cat(0x2b, record, 0x2d), 'append'],
      ['wtmp', cat(0x2b, record, 0x2b), 'append'], // wtmpd takes one request; a second '+' is still a valid frame
    ];
    for (const [service, bytes, op] of cases.slice(0, 5)) {
      for (const [how, chunks] of chunkings(bytes)) {
        const got = parse(service, chunks);
        assert.deepEqual(got.requests.map((r) => r.op), [op], `${op} ${how}`);
        assert.ok(got.error instanceof ProtocolError, `${op} ${how}: no ProtocolError`);
        assert.equal(got.error.code, 'EPROTO');
        assert.equal(got.buffered, 1, `${op} ${how}`);
      }
    }
    const [, last, op] = cases[5];
    const got = parse('wtmp', [last]);
    assert.equal(got.error, undefined);
    assert.deepEqual(got.requests.map((r) => r.op), [op]);
    assert.equal(got.buffered, 1);
  });

  test('the message names the byte', () => {
    const p = new RequestParser('utmp');
    p.push(hex('78'));
    assert.throws(() => p.next(), (e: unknown) => e instanceof ProtocolError && /0x78/.test(e.message));
  });

  test('a request body is a copy: changing the pushed buffer later does not change it', () => {
    const bytes = cat(0x6c, padded('tty1', 32));
    const p = new RequestParser('utmp');
    p.push(bytes);
    const r = p.next();
    assert.ok(r && r.op === 'getline');
    bytes.fill(0x41);
    assert.equal(toHex(r.line), toHex(padded('tty1', 32)));
  });

  test('nothing buffered: null; empty chunks are ignored', () => {
    const p = new RequestParser('utmp');
    assert.equal(p.next(), null);
    p.push(Buffer.alloc(0));
    assert.equal(p.buffered, 0);
    assert.equal(p.next(), null);
    assert.equal(p.peekCommand(), undefined);
    p.push(hex('69 00'));
    assert.equal(p.peekCommand()?.op, 'getid');
    assert.equal(p.next(), null);
    assert.equal(p.buffered, 2);
  });

  test('getid with the high bit set in the type is read unsigned', () => {
    const p = new RequestParser('utmp');
    p.push(hex('69 ffff 31323334'));
    assert.deepEqual(p.next(), { op: 'getid', type: 0xffff, id: Buffer.from('1234') });
  });
});

// ---------------------------------------------------------------------------------------
// Answers

describe('answers', () => {
  test('statusAnswer and recordAnswer bytes', () => {
    assert.deepEqual(statusAnswer(0), hex('00'));
    assert.deepEqual(statusAnswer(3), hex('03'));
    assert.deepEqual(statusAnswer(71), hex('47'));
    assert.throws(() => statusAnswer(256), RangeError);
    assert.throws(() => statusAnswer(-1), RangeError);
    assert.throws(() => statusAnswer(1.5), RangeError);
    const record = randomBytes(400);
    assert.deepEqual(recordAnswer(record), cat(0x00, record));
  });

  test('recordAnswer and recordsAnswer refuse records that are not 400 bytes', () => {
    assert.throws(() => recordAnswer(Buffer.alloc(399)), RangeError);
    assert.throws(() => recordAnswer(Buffer.alloc(401)), RangeError);
    assert.throws(() => recordsAnswer(Buffer.alloc(401)), RangeError);
    assert.throws(() => recordsAnswer(Buffer.alloc(200)), RangeError);
  });

  for (const n of [0, 1, 3, 7]) {
    test(`recordsAnswer of ${n} records reads back as ${n} records, then ESRCH`, () => {
      const records = Array.from({ length: n }, () => randomBytes(400));
      const bytes = recordsAnswer(Buffer.concat(records));
      assert.deepEqual(bytes, cat(...records.flatMap((r) => [cat(0x00, r)]), 0x03));
      const shapes = new Array<boolean>(n + 1).fill(true);
      const expected: Answer[] = [...records.map((record) => ({ status: 0 as const, record })), { status: 3, record: null }];
      const splits = n <= 3 ? chunkings(bytes) : chunkings(bytes).slice(0, 2);
      for (const [how, chunks] of splits) assert.deepEqual(readAnswers(shapes, chunks), expected, how);
    });
  }

  test('AnswerReader waits for the whole record and does not consume a partial answer', () => {
    const record = randomBytes(400);
    const r = new AnswerReader();
    assert.equal(r.next(true), null);
    r.push(cat(0x00, record.subarray(0, 399)));
    assert.equal(r.next(true), null);
    assert.equal(r.buffered, 400);
    r.push(cat(record.subarray(399), 0x01));
    assert.deepEqual(r.next(true), { status: 0, record });
    assert.deepEqual(r.next(true), { status: 1, record: null });
    assert.equal(r.buffered, 0);
    assert.equal(r.next(false), null);
  });

  test('a status-only answer of 0 carries no record', () => {
    const r = new AnswerReader();
    r.push(hex('00 00'));
    assert.deepEqual(r.next(false), { status: 0, record: null });
    assert.equal(r.buffered, 1);
  });
});

// ---------------------------------------------------------------------------------------
// errno

describe('errno', () => {
  test('names and numbers round-trip', () => {
    const pairs: Array<[string, number]> = [
      ['EPERM', 1],
      ['ESRCH', 3],
      ['EPROTO', 71],
      ['ETIMEDOUT', 110],
    ];
    for (const [name, n] of pairs) {
      assert.equal(errnoName(n), name);
      assert.equal(errnoNumber(name), n);
      assert.equal(errnoName(errnoNumber(name) as number), name);
      assert.equal(errnoNumber(errnoName(n)), n);
    }
    assert.equal(Errno.EPERM, 1);
    assert.equal(Errno.ESRCH, 3);
    assert.equal(Errno.EPROTO, 71);
    assert.equal(Errno.ETIMEDOUT, 110);
    assert.equal(Errno.OK, 0);
  });

  test('aliases get their usual name', () => {
    assert.equal(errnoName(11), 'EAGAIN');
    assert.equal(errnoNumber('EWOULDBLOCK'), 11);
  });

  test('unknown values', () => {
    assert.equal(errnoName(9999), 'E9999');
    assert.equal(errnoNumber('ENOTANERRNO'), undefined);
    assert.equal(errnoNumber('toString'), undefined);
  });

  test('errnoOf', () => {
    assert.equal(errnoOf(Object.assign(new Error('x'), { errno: -13, code: 'EACCES' })), Errno.EACCES);
    assert.equal(errnoOf({ code: 'ENOSPC' }), Errno.ENOSPC);
    assert.equal(errnoOf(new ProtocolError('bad')), Errno.EPROTO);
    assert.equal(errnoOf(new Error('plain')), Errno.EIO);
    assert.equal(errnoOf(null, Errno.EINVAL), Errno.EINVAL);
  });
});
