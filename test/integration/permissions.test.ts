// Who may write what (PROTOCOL.md sections 3 and 4), with bin/utmps-write run under setpriv
// as in test/vectors/direct-permission-checks.txt: the commands, exit statuses and messages are
// read from that file and run as they are there, against our daemons.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeEntry, type UtmpEntry } from '../../src/record/index.js';
import { type Daemons, startDaemons } from '../helpers/daemons.js';
import { BIN, VECTORS } from '../helpers/paths.js';
import { type Credentials, replayAs, setprivArgs } from '../helpers/raw-client.js';
import { TRANSPORTS } from '../helpers/transports.js';

const RECORD = 400;
const NOBODY: Credentials = { uid: 65534, gid: 65534 };
const UPSTREAM_EPERM = 'Operation not permitted';

interface Case {
  /** The command line as the vector file shows it. */
  shown: string;
  setpriv: string[];
  args: string[];
  /** stderr lines the C tool printed (with DIR standing for the daemons' directory). */
  messages: string[];
  exit: number;
}

interface Vector {
  cases: Case[];
  utmpLines: string[];
  wtmpUsers: string[];
}

/** Reads direct-permission-checks.txt: `$ setpriv OPTS DIR/uw ARGS`, messages, `exit status: N`. */
function readVector(): Vector {
  const lines = readFileSync(join(VECTORS, 'direct-permission-checks.txt'), 'utf8').split('\n');
  const cases: Case[] = [];
  const utmpLines: string[] = [];
  const wtmpUsers: string[] = [];
  let current: Case | null = null;
  let section: 'cases' | 'utmp' | 'wtmp' = 'cases';
  for (const line of lines) {
    if (line.startsWith('$ ')) {
      const words = line.slice(2).split(' ');
      const program = words.indexOf('DIR/uw');
      assert.equal(words[0], 'setpriv', `unexpected command in the vector: ${line}`);
      assert.ok(program > 0, `no DIR/uw in: ${line}`);
      current = { shown: line.slice(2), setpriv: words.slice(1, program), args: words.slice(program + 1), messages: [], exit: -1 };
    } else if (current && line.startsWith('exit status: ')) {
      current.exit = Number(line.slice('exit status: '.length));
      cases.push(current);
      current = null;
    } else if (current && line !== '') {
      current.messages.push(line);
    } else if (line.startsWith('# resulting utmp')) {
      section = 'utmp';
    } else if (line.startsWith('# resulting wtmp')) {
      section = 'wtmp';
    } else if (section === 'utmp' && /"ut_line": "(.*)"/.test(line)) {
      utmpLines.push(/"ut_line": "(.*)"/.exec(line)![1]);
    } else if (section === 'wtmp' && /"ut_user": "(.*)"/.test(line)) {
      wtmpUsers.push(/"ut_user": "(.*)"/.exec(line)![1]);
    }
  }
  assert.equal(cases.length, 6, 'the vector has six commands');
  return { cases, utmpLines, wtmpUsers };
}

const VECTOR = readVector();

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program, under setpriv with these options when given, and collects its output. */
function run(setpriv: string[] | null, program: string, args: string[]): Promise<Outcome> {
  const [cmd, argv] = setpriv ? ['setpriv', [...setpriv, program, ...args]] : [program, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const UTMPS_WRITE = join(BIN, 'utmps-write');

function entries(bytes: Buffer): UtmpEntry[] {
  assert.equal(bytes.length % RECORD, 0, 'the file holds whole records');
  const out: UtmpEntry[] = [];
  for (let off = 0; off < bytes.length; off += RECORD) out.push(decodeEntry(bytes.subarray(off, off + RECORD)));
  return out;
}

function summary(e: UtmpEntry): { type: string; id: string; line: string; user: string } {
  return { type: e.typeName, id: e.id, line: e.line, user: e.user };
}

async function readOrEmpty(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
    throw e;
  }
}

for (const kind of TRANSPORTS) {
  describe(`write permissions through utmps-write under setpriv (${kind})`, () => {
    let d: Daemons;
    const here = (text: string): string => text.replaceAll('DIR/', `${d.dir}/`);

    before(async () => {
      // The vectors are C utmps's, which has no reaper: utmps-write's own pid is gone at once.
      d = await startDaemons(kind, kind === 'utmpsd' ? { extra: ['--no-reap'] } : {});
      await chmod(d.dir, 0o755); // nobody must reach the sockets
    });

    after(async () => {
      await d?.stop();
    });

    for (const [i, c] of VECTOR.cases.entries()) {
      test(`vector case ${i + 1}: ${c.shown} -> exit ${c.exit}`, async () => {
        const out = await run(c.setpriv, UTMPS_WRITE, c.args.map(here));
        assert.equal(out.code, c.exit, `exit status; stderr: ${out.stderr}`);
        // The exact upstream message, socket path included, and nothing else.
        assert.equal(out.stderr, c.messages.map((m) => `${here(m)}\n`).join(''));
        assert.equal(out.stdout, '');
      });
    }

    test('the files hold exactly the records the vector lists', async () => {
      // Only the uid nobody + egid 0 write reached utmp; both accepted wtmp appends were
      // nobody's own records (one with -l nobody, one with the default user name).
      const utmp = entries(await readOrEmpty(d.utmpFile));
      assert.deepEqual(
        utmp.map((e) => e.line),
        VECTOR.utmpLines,
      );
      assert.deepEqual(utmp.map(summary), [{ type: 'USER_PROCESS', id: 'n2', line: 'pts/6', user: 'nobody' }]);
      const wtmp = entries(await readOrEmpty(d.wtmpFile));
      assert.deepEqual(
        wtmp.map((e) => e.user),
        VECTOR.wtmpUsers,
      );
      assert.deepEqual(wtmp.map(summary), [
        { type: 'USER_PROCESS', id: 'n1', line: 'pts/5', user: 'nobody' },
        { type: 'USER_PROCESS', id: 'n1', line: 'pts/5', user: 'nobody' },
      ]);
    });

    test('wtmp refuses an unknown user name and an empty one, as nobody', async () => {
      const before = await readOrEmpty(d.wtmpFile);
      for (const user of ['nosuchuser', '']) {
        const args = ['-w', '-W', d.wtmpSocket, '-l', user, 'n4', 'USER_PROCESS', 'pts/8'];
        const out = await run(setprivArgs(NOBODY), UTMPS_WRITE, args);
        assert.equal(out.code, 111, `-l '${user}': exit status; stderr: ${out.stderr}`);
        assert.equal(out.stderr, `utmps-write: fatal: unable to write wtmp entry via wtmpd at ${d.wtmpSocket}: ${UPSTREAM_EPERM}\n`);
      }
      assert.ok((await readOrEmpty(d.wtmpFile)).equals(before), 'wtmp unchanged');
    });

    test('root may write both, under any user name', async () => {
      const utmpBefore = entries(await readOrEmpty(d.utmpFile)).map(summary);
      const wtmpBefore = entries(await readOrEmpty(d.wtmpFile)).map(summary);
      const out = await run(null, UTMPS_WRITE, ['-u', '-w', '-U', d.utmpSocket, '-W', d.wtmpSocket, '-l', 'someone', 'r1', 'USER_PROCESS', 'pts/9']);
      assert.equal(out.code, 0, `stderr: ${out.stderr}`);
      assert.equal(out.stderr, '');
      const written = { type: 'USER_PROCESS', id: 'r1', line: 'pts/9', user: 'someone' };
      assert.deepEqual(entries(await readFile(d.utmpFile)).map(summary), [...utmpBefore, written]);
      assert.deepEqual(entries(await readFile(d.wtmpFile)).map(summary), [...wtmpBefore, written]);
    });

    test('nobody may still read on the connection where its putline was refused (raw client)', async () => {
      const utmp = await readFile(d.utmpFile);
      assert.ok(utmp.length >= RECORD, 'utmp has a record to read');
      const first = utmp.subarray(0, RECORD).toString('hex');
      // USER_PROCESS, id n5, line pts/5, user nobody; every other byte zero.
      const record = Buffer.alloc(RECORD);
      record.writeInt16LE(7, 0);
      record.write('pts/5', 8, 'latin1');
      record.write('n5', 40, 'latin1');
      record.write('nobody', 44, 'latin1');
      const getlinePts6 = Buffer.alloc(33);
      getlinePts6[0] = 0x6c;
      getlinePts6.write('pts/6', 1, 'latin1');
      const pts6 = entries(utmp).findIndex((e) => e.line === 'pts/6');
      assert.ok(pts6 >= 0);
      const plan = [
        { dir: 'C>S', hex: `45${record.toString('hex')}` },
        { dir: 'S>C', hex: '01' }, // EPERM, after the whole body was read
        { dir: 'C>S', hex: '72' },
        { dir: 'S>C', hex: '00' },
        { dir: 'C>S', hex: '65' },
        { dir: 'S>C', hex: `00${first}` },
        { dir: 'C>S', hex: '72' },
        { dir: 'S>C', hex: '00' },
        { dir: 'C>S', hex: getlinePts6.toString('hex') },
        { dir: 'S>C', hex: `00${utmp.subarray(pts6 * RECORD, (pts6 + 1) * RECORD).toString('hex')}` },
        { dir: 'C>S', event: 'EOF' },
        { dir: 'S>C', event: 'EOF' },
      ] as const;
      const seen = await replayAs(NOBODY, d.utmpSocket, plan);
      assert.deepEqual(seen, plan);
      assert.ok((await readFile(d.utmpFile)).equals(utmp), 'utmp unchanged');
    });
  });
}
