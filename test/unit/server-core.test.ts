// The server's rules without a daemon: every Policy decision with fake name lookups and a
// fake utmp view, both services over temporary files, and the wtmp read request checked
// against bytes written out by hand (docs/PROTOCOL-EXTENSIONS.md).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeRequest, type Request, RequestParser } from '../../src/protocol/request.js';
import { type Peer, Policy, type PolicyOptions, type UtmpView } from '../../src/server/policy.js';
import { RateLimiter } from '../../src/server/rate-limit.js';
import type { SessionEnd } from '../../src/server/session.js';
import { UtmpService } from '../../src/server/utmp-service.js';
import { WtmpService } from '../../src/server/wtmp-service.js';
import { UtmpFile } from '../../src/store/utmp-file.js';
import { WtmpFile } from '../../src/store/wtmp-file.js';
import { byteByByte, cat, hex, le, padded } from '../helpers/bytes.js';

// errno values on Linux, written out: the module under test must agree with them.
const EPERM = 1;
const ESRCH = 3;
const EDQUOT = 122;
const EUSERS = 87;

const T = { EMPTY: 0, RUN_LVL: 1, BOOT_TIME: 2, NEW_TIME: 3, OLD_TIME: 4, INIT_PROCESS: 5, LOGIN_PROCESS: 6, USER_PROCESS: 7, DEAD_PROCESS: 8, ACCOUNTING: 9 };

/** A utmps record (400 bytes), laid out by hand: type@0, pid@4, line@8, id@40, user@44, tv_sec@344. */
function record(type: number, user: string | Buffer, line: string, sec = 1_700_000_000, id = 'p1'): Buffer {
  return cat(
    le(type, 2),
    Buffer.alloc(2),
    le(4242, 4),
    padded(line, 32),
    padded(id, 4),
    padded(user, 32),
    Buffer.alloc(344 - 76),
    le(BigInt(sec), 8),
    Buffer.alloc(400 - 352),
  );
}

const ALICE: Peer = { uid: 1000, gid: 1000 };
const ROOT: Peer = { uid: 0, gid: 0 };
const UTMP_GID = 43;

const NAMES = new Map<number, string>([
  [1000, 'alice'],
  [1001, 'bob'],
  [1002, 'x'.repeat(33)],
  [1003, 'y'.repeat(32)],
]);

function policy(extra: Partial<PolicyOptions> = {}): Policy {
  return new Policy({
    daemonGid: () => UTMP_GID,
    nameOfUid: async (uid) => NAMES.get(uid) ?? null,
    uidOfName: async (name) => [...NAMES].find(([, n]) => n === name)?.[0] ?? null,
    userNameOf: (uid) => NAMES.get(uid) ?? null,
    ...extra,
  });
}

/** utmp with the given live entries per line. */
function view(entries: Record<string, Buffer[]>): UtmpView {
  return { liveEntries: async (line) => entries[Buffer.from(line).toString('latin1').replace(/\0+$/, '')] ?? [] };
}

describe('Policy.utmpWrite', () => {
  test('root and the daemon group may write; anyone else gets EPERM', () => {
    const p = policy();
    assert.equal(p.utmpWrite(ROOT), null);
    assert.equal(p.utmpWrite({ uid: 1000, gid: UTMP_GID }), null);
    assert.equal(p.utmpWrite(ALICE)?.errno, EPERM);
  });

  test('allowed writes count against the rate: past the burst, EDQUOT; root is never limited', () => {
    const p = policy({ rateLimiter: new RateLimiter({ perMinute: 1, burst: 2 }, () => 0) });
    const writer = { uid: 1000, gid: UTMP_GID };
    assert.equal(p.utmpWrite(writer), null);
    assert.equal(p.utmpWrite(writer), null);
    assert.equal(p.utmpWrite(writer)?.errno, EDQUOT);
    for (let i = 0; i < 5; i++) assert.equal(p.utmpWrite(ROOT), null);
  });
});

describe('Policy.wtmpAppend', () => {
  test('root may append any type, for any user and line, without utmp', async () => {
    const p = policy();
    for (const type of Object.values(T)) assert.equal(await p.wtmpAppend(ROOT, record(type, 'mallory', 'pts/9')), null);
  });

  test('a user may append only LOGIN_PROCESS, USER_PROCESS and DEAD_PROCESS', async () => {
    const p = policy();
    const mine = view({ 'pts/1': [record(T.USER_PROCESS, 'alice', 'pts/1')] });
    for (const [name, type] of Object.entries(T)) {
      const refusal = await p.wtmpAppend(ALICE, record(type, 'alice', 'pts/1'), mine);
      const allowed = type === T.LOGIN_PROCESS || type === T.USER_PROCESS || type === T.DEAD_PROCESS;
      assert.equal(refusal === null, allowed, `${name}: ${refusal?.reason}`);
      if (!allowed) assert.equal(refusal?.errno, EPERM);
    }
    const unknown = await p.wtmpAppend(ALICE, record(77, 'alice', 'pts/1'), mine);
    assert.match(unknown?.reason ?? '', /type 77/);
  });

  test('ut_user must be the whole passwd name of the uid, in upstream words otherwise', async () => {
    const p = policy();
    const free = view({});
    const reasons: Record<string, RegExp> = {
      bob: /uid mismatch/,
      nobody_here: /no such user/,
      '': /empty user name/,
      alic: /no such user/,
      alicex: /no such user/,
    };
    for (const [user, why] of Object.entries(reasons)) {
      const refusal = await p.wtmpAppend(ALICE, record(T.USER_PROCESS, user, 'pts/1'), free);
      assert.equal(refusal?.errno, EPERM, user);
      assert.match(refusal!.reason, why, user);
    }
    assert.equal(await p.wtmpAppend(ALICE, record(T.USER_PROCESS, 'alice', 'pts/1'), free), null);
  });

  test('no passwd entry, or a name that does not fit ut_user whole: EPERM', async () => {
    const p = policy();
    const free = view({});
    assert.match((await p.wtmpAppend({ uid: 2000, gid: 2000 }, record(T.USER_PROCESS, 'ghost', 'pts/1'), free))!.reason, /no passwd entry/);
    const long = { uid: 1002, gid: 1002 };
    assert.match((await p.wtmpAppend(long, record(T.USER_PROCESS, 'x'.repeat(32), 'pts/1'), free))!.reason, /does not fit/);
    // 32 bytes fit exactly, with no NUL in the field.
    assert.equal(await p.wtmpAppend({ uid: 1003, gid: 1003 }, record(T.USER_PROCESS, 'y'.repeat(32), 'pts/1'), free), null);
  });

  test('line ownership: only lines whose live entries are all the peer\'s; DEAD_PROCESS needs one', async () => {
    const p = policy();
    const utmp = view({
      mine: [record(T.USER_PROCESS, 'alice', 'mine')],
      theirs: [record(T.USER_PROCESS, 'root', 'theirs')],
      shared: [record(T.LOGIN_PROCESS, 'alice', 'shared'), record(T.USER_PROCESS, 'bob', 'shared')],
    });
    const cases: [number, string, boolean][] = [
      [T.DEAD_PROCESS, 'mine', true],
      [T.USER_PROCESS, 'mine', true],
      [T.DEAD_PROCESS, 'empty', false],
      [T.USER_PROCESS, 'empty', true],
      [T.LOGIN_PROCESS, 'empty', true],
      [T.DEAD_PROCESS, 'theirs', false],
      [T.USER_PROCESS, 'theirs', false],
      [T.DEAD_PROCESS, 'shared', false],
    ];
    for (const [type, line, allowed] of cases) {
      const refusal = await p.wtmpAppend(ALICE, record(type, 'alice', line), utmp);
      assert.equal(refusal === null, allowed, `type ${type} on ${line}: ${refusal?.reason}`);
    }
  });

  test('utmp that cannot be read, or none at all: refused', async () => {
    const p = policy();
    const broken: UtmpView = { liveEntries: async () => Promise.reject(new Error('EIO')) };
    assert.match((await p.wtmpAppend(ALICE, record(T.USER_PROCESS, 'alice', 'pts/1'), broken))!.reason, /unable to read utmp: EIO/);
    assert.match((await p.wtmpAppend(ALICE, record(T.USER_PROCESS, 'alice', 'pts/1')))!.reason, /utmp is not available/);
  });

  test('a failing name service rejects: nobody can tell who the peer is', async () => {
    const p = policy({ nameOfUid: async () => Promise.reject(new Error('NSS down')) });
    await assert.rejects(p.wtmpAppend(ALICE, record(T.USER_PROCESS, 'alice', 'pts/1'), view({})), /NSS down/);
  });

  test('allowed appends count against the rate', async () => {
    const p = policy({ rateLimiter: new RateLimiter({ perMinute: 1, burst: 1 }, () => 0) });
    const rec = record(T.USER_PROCESS, 'alice', 'pts/1');
    assert.equal(await p.wtmpAppend(ALICE, rec, view({})), null);
    assert.equal((await p.wtmpAppend(ALICE, rec, view({})))?.errno, EDQUOT);
    assert.equal(await p.wtmpAppend(ROOT, rec), null);
  });
});

describe('Policy.readableUser', () => {
  test('reads are open to all unless private; root always sees everything', () => {
    assert.equal(policy().readableUser(ALICE), null);
    assert.equal(policy({ privateReads: true }).readableUser(ROOT), null);
  });

  test('private reads: the peer\'s own name as a 32-byte field, or a field that matches nothing', () => {
    const p = policy({ privateReads: true });
    assert.deepEqual(p.readableUser(ALICE), padded('alice', 32));
    assert.deepEqual(p.readableUser({ uid: 2000, gid: 2000 }), Buffer.alloc(32, 0xff));
    assert.deepEqual(p.readableUser({ uid: 1002, gid: 1002 }), Buffer.alloc(32, 0xff));
  });
});

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'core-'));
}

function parse(service: 'utmp' | 'wtmp', bytes: Buffer): Request {
  const p = new RequestParser(service);
  p.push(bytes);
  const r = p.next();
  assert.ok(r);
  return r;
}

describe('UtmpService over a temporary file', () => {
  test('putline by the daemon group, then getline, getent and getall find it; a refused putline changes nothing', async () => {
    const dir = await tempDir();
    const file = await UtmpFile.open(join(dir, 'utmp'), { mode: 0o640 });
    const reports: string[] = [];
    const events = { report: (reason: string) => reports.push(reason) };
    try {
      const rec = record(T.USER_PROCESS, 'alice', 'pts/1');
      const writer = new UtmpService(file, { uid: 1000, gid: UTMP_GID }, policy(), events);
      const putline = parse('utmp', cat(0x45, rec));
      assert.deepEqual((await writer.handle(putline)).answer, Buffer.of(0));
      assert.deepEqual(await readFile(join(dir, 'utmp')), rec, 'putline wrote exactly the record');

      const reader = new UtmpService(file, ALICE, policy(), events);
      assert.deepEqual((await reader.handle(putline)).answer, Buffer.of(EPERM));
      assert.deepEqual(reports, ['putline refusals']);
      assert.equal((await readFile(join(dir, 'utmp'))).length, 400, 'the refused putline wrote nothing');

      assert.deepEqual((await reader.handle(parse('utmp', cat(0x6c, padded('pts/1', 32))))).answer, cat(0, rec));
      assert.deepEqual((await reader.handle(parse('utmp', Buffer.of(0x72)))).answer, Buffer.of(0));
      assert.deepEqual((await reader.handle(parse('utmp', Buffer.of(0x65)))).answer, cat(0, rec));
      assert.deepEqual((await reader.handle(parse('utmp', Buffer.of(0x65)))).answer, Buffer.of(ESRCH));
      assert.deepEqual((await reader.handle(parse('utmp', Buffer.of(0x72)))).answer, Buffer.of(0));
      assert.deepEqual((await reader.handle(parse('utmp', Buffer.of(0x41)))).answer, cat(0, rec, ESRCH));
      // A second putline for the same line replaces the entry, as pututxline does.
      const out = record(T.DEAD_PROCESS, 'alice', 'pts/1', 1_700_000_100);
      assert.deepEqual((await writer.handle(parse('utmp', cat(0x45, out)))).answer, Buffer.of(0));
      assert.deepEqual(await readFile(join(dir, 'utmp')), out);
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A read request with no time bounds and any user and line (flags, limit). */
function readAll(flags = 0, limit = 0): Buffer {
  return cat(0x52, flags, le(limit, 4).reverse(), hex('8000000000000000'), hex('7fffffffffffffff'), Buffer.alloc(64));
}

/** Runs a stream to its end, collecting what it sends. */
async function drain(stream: NonNullable<Awaited<ReturnType<WtmpService['handle']>>['stream']>): Promise<{ sent: Buffer; end: SessionEnd }> {
  const sent: Buffer[] = [];
  const end = await stream(async (data) => (sent.push(data), true), { stop: new AbortController().signal, eof: new AbortController().signal });
  return { sent: Buffer.concat(sent), end };
}

describe('WtmpService over a temporary file', () => {
  test('appends: root\'s is written and ends the session; a refused one is answered EPERM and writes nothing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'wtmp');
    const file = await WtmpFile.open(path, { mode: 0o640 });
    const reports: string[] = [];
    try {
      const boot = record(T.BOOT_TIME, 'reboot', '~');
      const asRoot = await new WtmpService(file, ROOT, policy(), { report: (r) => reports.push(r) }).handle(parse('wtmp', cat(0x2b, boot)));
      assert.deepEqual(asRoot.answer, Buffer.of(0));
      assert.deepEqual(asRoot.end, { reason: 'done' });
      const refused = await new WtmpService(file, ALICE, policy(), { report: (r) => reports.push(r) }, undefined, view({})).handle(parse('wtmp', cat(0x2b, boot)));
      assert.deepEqual(refused.answer, Buffer.of(EPERM));
      assert.equal(refused.end?.reason, 'refused');
      assert.deepEqual(reports, ['append refusals']);
      assert.deepEqual(await readFile(path), boot);
      const login = record(T.USER_PROCESS, 'alice', 'pts/3', 1_700_000_200);
      const own = await new WtmpService(file, ALICE, policy(), { report: () => undefined }, undefined, view({})).handle(parse('wtmp', cat(0x2b, login)));
      assert.deepEqual(own.answer, Buffer.of(0));
      assert.deepEqual(await readFile(path), cat(boot, login));
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a read streams the matching records, each 00 + record, then 03; private reads show only the peer\'s own', async () => {
    const dir = await tempDir();
    const path = join(dir, 'wtmp');
    const file = await WtmpFile.open(path, { mode: 0o640 });
    try {
      const recs = [record(T.BOOT_TIME, 'reboot', '~', 100), record(T.USER_PROCESS, 'alice', 'pts/1', 200), record(T.USER_PROCESS, 'bob', 'pts/2', 300)];
      for (const r of recs) await file.append(r);
      const all = await new WtmpService(file, ALICE, policy(), { report: () => undefined }).handle(parse('wtmp', readAll()));
      assert.equal(all.answer.length, 0, 'the answers come from the stream');
      assert.deepEqual(await drain(all.stream!), { sent: cat(0, recs[0], 0, recs[1], 0, recs[2], ESRCH), end: { reason: 'done' } });

      const newestTwo = readAll(0x01, 2);
      const some = await new WtmpService(file, ALICE, policy(), { report: () => undefined }).handle(parse('wtmp', newestTwo));
      assert.deepEqual((await drain(some.stream!)).sent, cat(0, recs[2], 0, recs[1], ESRCH));

      const own = await new WtmpService(file, ALICE, policy({ privateReads: true }), { report: () => undefined }).handle(parse('wtmp', readAll()));
      assert.deepEqual((await drain(own.stream!)).sent, cat(0, recs[1], ESRCH));
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a follower past its uid\'s cap is answered EUSERS and closed', async () => {
    const dir = await tempDir();
    const file = await WtmpFile.open(join(dir, 'wtmp'), { mode: 0o640 });
    try {
      const follow = cat(0x52, 0x02, Buffer.alloc(84));
      const reads = { followTimeoutMs: 0, admitFollower: () => false };
      const result = await new WtmpService(file, ALICE, policy(), { report: () => undefined }, reads).handle(parse('wtmp', follow));
      assert.deepEqual(result.answer, Buffer.of(EUSERS));
      assert.equal(result.end?.reason, 'refused');
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the wtmp read request, golden bytes', () => {
  // 52, flags newest-first|follow, limit 10, since 1700000000, until none (INT64_MAX),
  // user "root", line "pts/1": all big-endian, 1 + 85 bytes.
  const GOLDEN = hex(
    '52' +
      '03' +
      '0000000a' +
      '000000006553f100' +
      '7fffffffffffffff' +
      '726f6f74' + '00'.repeat(28) +
      '7074732f31' + '00'.repeat(27),
  );

  test('is 86 bytes and decodes to the query at every split point', () => {
    assert.equal(GOLDEN.length, 86);
    const want = {
      op: 'read',
      newestFirst: true,
      follow: true,
      liveOnly: false,
      limit: 10,
      since: 1_700_000_000n,
      until: null,
      user: padded('root', 32),
      line: padded('pts/1', 32),
    };
    const splits = [[GOLDEN], byteByByte(GOLDEN), ...Array.from({ length: 85 }, (_, i) => [GOLDEN.subarray(0, i + 1), GOLDEN.subarray(i + 1)])];
    for (const chunks of splits) {
      const p = new RequestParser('wtmp');
      for (const c of chunks) p.push(c);
      assert.deepEqual(p.next(), want);
      assert.equal(p.buffered, 0);
    }
  });

  test('the client encoder writes exactly these bytes', () => {
    const q = { newestFirst: true, follow: true, limit: 10, since: 1_700_000_000n, user: Buffer.from('root'), line: Buffer.from('pts/1') };
    assert.deepEqual(encodeRequest.read(q), GOLDEN);
  });

  test('no bounds: since INT64_MIN and until INT64_MAX decode as none; live-only is flag 4', () => {
    const bytes = cat(0x52, 0x04, 0, 0, 0, 0, hex('8000000000000000'), hex('7fffffffffffffff'), Buffer.alloc(64));
    const r = parse('wtmp', bytes) as Extract<Request, { op: 'read' }>;
    assert.equal(r.since, null);
    assert.equal(r.until, null);
    assert.equal(r.liveOnly, true);
    assert.equal(r.newestFirst, false);
    assert.deepEqual(encodeRequest.read({ liveOnly: true }), bytes);
  });
});
