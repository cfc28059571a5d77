// glibc's own utmp test (login/tst-utmp.c, PROTOCOL.md section 8) through our TypeScript
// client against our daemons. Every check must pass, getid(RUN_LVL) included (C utmps fails
// that one: test/vectors/scenario.driver-output.txt), and the files must end byte for byte as
// test/vectors/scenario-utmp.bin and scenario-wtmp.bin.
//
// The records are built here by hand at the utmps offsets (PROTOCOL.md section 1) rather
// than with src/record, so the golden files check the client and the daemons, not a codec
// against itself.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appendWtmp, createUtmpx, type UtmpRecord, UtmpSession } from '../../src/client/index.js';
import { decodeEntry } from '../../src/record/index.js';
import { type Daemons, startDaemons } from '../helpers/daemons.js';
import { VECTORS } from '../helpers/paths.js';
import { TRANSPORTS } from '../helpers/transports.js';

const RECORD = 400;
const EMPTY = 0;
const RUN_LVL = 1;
const BOOT_TIME = 2;
const INIT_PROCESS = 5;
const LOGIN_PROCESS = 6;
const USER_PROCESS = 7;
const DEAD_PROCESS = 8;

// utmps layout offsets (PROTOCOL.md section 1).
const AT = { type: 0, pid: 4, line: 8, id: 40, user: 44, tvSec: 344 } as const;
const SIZE = { line: 32, id: 4, user: 32 } as const;

function setText(rec: Buffer, at: number, size: number, text: string): void {
  rec.fill(0, at, at + size);
  rec.write(text, at, size, 'latin1');
}

function entry(type: number, pid: number, line: string, id: string, user: string, tvSec: number): Buffer {
  const rec = Buffer.alloc(RECORD);
  rec.writeInt16LE(type, AT.type);
  rec.writeInt32LE(pid, AT.pid);
  setText(rec, AT.line, SIZE.line, line);
  setText(rec, AT.id, SIZE.id, id);
  setText(rec, AT.user, SIZE.user, user);
  rec.writeBigInt64LE(BigInt(tvSec), AT.tvSec);
  return rec;
}

const lineOf = (rec: Buffer): string => rec.toString('latin1', AT.line, AT.line + SIZE.line).replace(/\0.*$/s, '');
const idOf = (rec: Buffer): string => rec.toString('latin1', AT.id, AT.id + SIZE.id).replace(/\0.*$/s, '');
const typeOf = (rec: Buffer): number => rec.readInt16LE(AT.type);

function initialEntries(): Buffer[] {
  return [
    entry(BOOT_TIME, 1, '', '', '', 1000),
    entry(RUN_LVL, 1, '', '', '', 2000),
    entry(INIT_PROCESS, 5, '', 'si', '', 3000),
    entry(LOGIN_PROCESS, 23, 'tty1', '1', 'LOGIN', 4000),
    entry(USER_PROCESS, 24, 'tty2', '2', 'albert', 8000),
    entry(USER_PROCESS, 196, 'ttyp0', 'p0', 'niels', 10000),
    entry(DEAD_PROCESS, 0, 'ttyp1', 'p1', '', 16000),
    entry(EMPTY, 0, '', '', '', 0),
    entry(EMPTY, 0, '', '', '', 0),
  ];
}

/** The utmpx calls the scenario makes, so it runs over the facade and over UtmpSession alike. */
interface UtmpApi {
  setutxent(): Promise<void>;
  getutxent(): Promise<UtmpRecord | null>;
  getutxid(type: number, id: string): Promise<UtmpRecord | null>;
  getutxline(line: string): Promise<UtmpRecord | null>;
  pututxline(rec: Buffer): Promise<UtmpRecord>;
  endutxent(): Promise<void>;
  updwtmpx(rec: Buffer): Promise<void>;
}

function facadeApi(d: Daemons): UtmpApi {
  const ux = createUtmpx({ utmpdPath: d.utmpSocket, wtmpdPath: d.wtmpSocket, timeoutMs: 5000 });
  return {
    setutxent: () => ux.setutxent(),
    getutxent: () => ux.getutxent(),
    getutxid: (type, id) => ux.getutxid({ type, id }),
    getutxline: (line) => ux.getutxline({ line }),
    pututxline: (rec) => ux.pututxline(rec),
    endutxent: () => ux.endutxent(),
    updwtmpx: (rec) => ux.updwtmpx('/var/log/wtmp', rec), // the file name is ignored, as in libutmps
  };
}

/** The same calls on an explicit UtmpSession, reconnecting after endutxent as libutmps does. */
function sessionApi(d: Daemons): UtmpApi & { close(): void } {
  let session: UtmpSession | null = null;
  const open = async (): Promise<UtmpSession> => (session ??= await UtmpSession.connect({ path: d.utmpSocket, timeoutMs: 5000 }));
  return {
    setutxent: async () => (await open()).rewind(),
    getutxent: async () => (await open()).next(),
    getutxid: async (type, id) => (await open()).findId(type, id),
    getutxline: async (line) => (await open()).findLine(line),
    pututxline: async (rec) => (await open()).put(rec),
    endutxent: async () => {
      session?.close();
      session = null;
    },
    updwtmpx: (rec) => appendWtmp(rec, { path: d.wtmpSocket, timeoutMs: 5000 }),
    close: () => session?.close(),
  };
}

function show(rec: Buffer | null | undefined): string {
  if (!rec) return 'nothing';
  const e = decodeEntry(rec);
  return `${e.typeName} pid ${e.pid} id '${e.id}' line '${e.line}' user '${e.user}' tv ${e.tvSec}`;
}

async function runScenario(api: UtmpApi): Promise<void> {
  const expected = initialEntries();
  let time = 20000;

  // do_init: one session, every entry put in order.
  await api.setutxent();
  for (const rec of expected) {
    const written = await api.pututxline(rec);
    assert.ok(written.bytes.equals(rec), 'pututxline returns the record as written');
  }
  await api.endutxent();

  const check = async (step: string): Promise<void> => {
    await api.setutxent();
    let n = 0;
    for (let got = await api.getutxent(); got; got = await api.getutxent()) {
      assert.ok(n < expected.length, `${step}: more than ${expected.length} entries (extra: ${show(got.bytes)})`);
      assert.ok(got.bytes.equals(expected[n]), `${step}: entry ${n} is ${show(got.bytes)}, expected ${show(expected[n])}`);
      n++;
    }
    assert.equal(n, expected.length, `${step}: entry count`);
  };

  const put = async (n: number): Promise<void> => {
    await api.setutxent();
    await api.pututxline(expected[n]);
    await api.updwtmpx(expected[n]);
  };

  const login = async (line: string, user: string): Promise<void> => {
    const n = expected.findIndex((rec) => lineOf(rec) === line || typeOf(rec) === DEAD_PROCESS);
    assert.ok(n >= 0, `login(${line}): no slot`);
    expected[n].writeInt16LE(USER_PROCESS, AT.type);
    setText(expected[n], AT.user, SIZE.user, user);
    expected[n].writeBigInt64LE(BigInt((time += 1000)), AT.tvSec);
    await put(n);
  };

  const logout = async (line: string): Promise<void> => {
    const n = expected.findIndex((rec) => lineOf(rec) === line);
    assert.ok(n >= 0, `logout(${line}): no entry`);
    expected[n].writeInt16LE(DEAD_PROCESS, AT.type);
    setText(expected[n], AT.user, SIZE.user, '');
    expected[n].writeBigInt64LE(BigInt((time += 1000)), AT.tvSec);
    await put(n);
  };

  await check('after init');
  await login('tty1', 'erwin');
  await check('after login tty1 erwin');
  await login('ttyp1', 'paul');
  await check('after login ttyp1 paul');
  await logout('tty2');
  await check('after logout tty2');
  await logout('ttyp0');
  await check('after logout ttyp0');
  await login('ttyp2', 'richard');
  await check('after login ttyp2 richard');

  // check_login(tty1)
  await api.setutxent();
  const tty1 = await api.getutxline('tty1');
  const want1 = expected.find((rec) => lineOf(rec) === 'tty1');
  assert.ok(tty1 && tty1.bytes.equals(want1!), `getutxline(tty1): ${show(tty1?.bytes)}`);

  // check_logout(ttyp0): its record is DEAD_PROCESS now, which getline does not match.
  await api.setutxent();
  assert.equal(await api.getutxline('ttyp0'), null, 'getutxline(ttyp0) finds nothing');

  // check_id: USER_PROCESS with an id matches any process type with that id.
  for (const id of ['p1', '2', 'si']) {
    await api.setutxent();
    const got = await api.getutxid(USER_PROCESS, id);
    const want = expected.find((rec) => idOf(rec) === id);
    assert.ok(got && got.bytes.equals(want!), `getutxid(USER_PROCESS, ${id}): ${show(got?.bytes)}, expected ${show(want)}`);
  }

  // check_type: BOOT_TIME, and RUN_LVL, the check C utmps fails (Ours: glibc's rule).
  for (const type of [BOOT_TIME, RUN_LVL]) {
    await api.setutxent();
    const got = await api.getutxid(type, '');
    const want = expected.find((rec) => typeOf(rec) === type);
    assert.ok(got && got.bytes.equals(want!), `getutxid(type ${type}): ${show(got?.bytes)}, expected ${show(want)}`);
  }
  await api.endutxent();
}

async function assertFileEquals(path: string, golden: string): Promise<void> {
  const got = await readFile(path);
  const want = await readFile(join(VECTORS, golden));
  assert.equal(got.length, want.length, `${golden}: ${got.length / RECORD} records, expected ${want.length / RECORD}`);
  for (let off = 0; off < want.length; off += RECORD) {
    const a = got.subarray(off, off + RECORD);
    const b = want.subarray(off, off + RECORD);
    assert.ok(a.equals(b), `${golden}: record ${off / RECORD} is ${show(a)}, expected ${show(b)}`);
  }
  assert.ok(got.equals(want), `${golden}: byte for byte`);
}

for (const kind of TRANSPORTS) {
  describe(`glibc tst-utmp scenario through the TypeScript client (${kind})`, () => {
    for (const [name, makeApi] of [
      ['POSIX facade (createUtmpx)', facadeApi],
      ['UtmpSession + appendWtmp', sessionApi],
    ] as const) {
      describe(name, () => {
        let d: Daemons;
        let api: UtmpApi & { close?(): void };

        before(async () => {
          d = await startDaemons(kind);
          api = makeApi(d);
        });

        after(async () => {
          api?.close?.();
          await api?.endutxent().catch(() => undefined);
          await d?.stop();
        });

        test('every check passes, getid(RUN_LVL) included', async () => {
          await runScenario(api);
        });

        test('utmp ends byte for byte as scenario-utmp.bin', async () => {
          await assertFileEquals(d.utmpFile, 'scenario-utmp.bin');
        });

        test('wtmp (one updwtmpx per login/logout) ends byte for byte as scenario-wtmp.bin', async () => {
          await assertFileEquals(d.wtmpFile, 'scenario-wtmp.bin');
        });
      });
    }
  });
}
