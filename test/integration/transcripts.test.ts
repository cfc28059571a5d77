// Replays every captured C utmps transcript (test/vectors/transcripts.json) against our
// daemons with a raw socket client, in order and on one pair of daemons, so the database
// state carries over from one transcript to the next exactly as in the capture. The server's
// bytes must equal the recorded ones, except where PROTOCOL.md marks a difference as Ours.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeEntry } from '../../src/record/index.js';
import { type Daemons, startDaemons } from '../helpers/daemons.js';
import { VECTORS } from '../helpers/paths.js';
import { type Chunk, type Credentials, eventually, replayAs } from '../helpers/raw-client.js';
import { TRANSPORTS } from '../helpers/transports.js';

const RECORD = 400;

interface CapturedChunk {
  dir: 'C>S' | 'S>C';
  len?: number;
  hex?: string;
  event?: 'EOF';
}

interface Transcript {
  name: string;
  description: string;
  credentials: string;
  server: string;
  utmpd_stderr: string[];
  wtmpd_stderr: string[];
  connections: Array<{ chunks: CapturedChunk[] }>;
}

const TRANSCRIPTS: Transcript[] = (
  JSON.parse(readFileSync(join(VECTORS, 'transcripts.json'), 'utf8')) as { transcripts: Transcript[] }
).transcripts;

function byName(prefix: string): Transcript {
  const t = TRANSCRIPTS.find((x) => x.name.startsWith(prefix));
  if (!t) throw new Error(`no transcript ${prefix} in transcripts.json`);
  return t;
}

function isWtmp(t: Transcript): boolean {
  return t.server.includes('utmps-wtmpd');
}

/** "uid 65534 gid 0 (nobody, ...), no supplementary groups" -> the ids to run as. */
function credentialsOf(t: Transcript): Credentials {
  const m = /^uid (\d+) gid (\d+)/.exec(t.credentials);
  if (!m) throw new Error(`${t.name}: cannot read credentials '${t.credentials}'`);
  // Every capture ran its client with no supplementary groups (setpriv --clear-groups).
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

function toChunk(c: CapturedChunk): Chunk {
  if (c.event === 'EOF') return { dir: c.dir, event: 'EOF' };
  if (c.hex === undefined || c.len === undefined || c.hex.length !== c.len * 2) {
    throw new Error(`malformed captured chunk ${JSON.stringify(c)}`);
  }
  return { dir: c.dir, hex: c.hex };
}

// The RUN_LVL record exactly as transcript 04 put it: its third request, minus the 'E'.
const RUN_LVL_RECORD_HEX = ((): string => {
  const put = byName('04-').connections[0].chunks.filter((c) => c.dir === 'C>S' && c.hex !== undefined)[2];
  assert.equal(put.hex!.slice(0, 2), '45', 'the third request of transcript 04 is a putline');
  const record = put.hex!.slice(2);
  assert.equal(record.length, RECORD * 2);
  assert.equal(Buffer.from(record, 'hex').readInt16LE(0), 1, 'and it puts a RUN_LVL record');
  return record;
})();

/**
 * The conversation we must have, as a plan to replay and the expectation to compare with.
 *
 * Ours differences (PROTOCOL.md section 3):
 * - 09: getid(RUN_LVL) finds the RUN_LVL record (glibc's rule), where C utmps answers ESRCH.
 *   We expect status 00 followed by exactly the record transcript 04 put.
 * - The glibc put rule (replace on id alone, RUN_LVL by type) changes no transcript here.
 *   Worked out: 03 and 04 put USER ts/1, LOGIN "2", BOOT_TIME, RUN_LVL into an empty file;
 *   no two share an id or a time type, so both rules append all four. 14 puts USER ts/8,
 *   whose id no record has: appended by both. 15 puts DEAD ts/1 line pts/1 after a rewind:
 *   C utmps replaces the USER ts/1 pts/1 record (id and line equal), glibc's rule replaces
 *   the same record (id equal). So 04, 14 and 15, and the final file, are byte-identical to
 *   the capture.
 *
 * EOF order: the capture's relay logged the two EOFs in whichever order it saw them (the
 * README says this varies between runs). Where the server closes on its own (after every
 * wtmpd answer; after an unknown command byte) we expect its EOF before we send ours, which
 * is the stronger claim. Where it cannot know the request is over without our EOF (23: a
 * short body), the order stays client first.
 */
function conversation(t: Transcript): Chunk[] {
  if (t.connections.length !== 1) throw new Error(`${t.name}: expected one connection`);
  const chunks = t.connections[0].chunks.map(toChunk);
  if (t.name.startsWith('09-')) {
    const i = chunks.findIndex((c) => c.dir === 'S>C' && 'hex' in c);
    assert.deepEqual(chunks[i], { dir: 'S>C', hex: '03' }, 'C utmps answered ESRCH');
    chunks[i] = { dir: 'S>C', hex: `00${RUN_LVL_RECORD_HEX}` };
  }
  const serverClosesFirst = (isWtmp(t) && !t.name.startsWith('23-')) || t.name.startsWith('21-');
  if (serverClosesFirst) {
    const n = chunks.length;
    const last2 = chunks.slice(n - 2);
    const clientEof = last2.findIndex((c) => c.dir === 'C>S' && 'event' in c);
    const serverEof = last2.findIndex((c) => c.dir === 'S>C' && 'event' in c);
    assert.ok(clientEof >= 0 && serverEof >= 0, `${t.name} ends with both EOFs`);
    chunks.splice(n - 2, 2, { dir: 'S>C', event: 'EOF' }, { dir: 'C>S', event: 'EOF' });
  }
  return chunks;
}

/**
 * What our daemon must say on stderr for this transcript (UCSPI only: there each connection
 * is one daemon process that ends with its own fatal message). Taken from the capture,
 * minus C's stray ': ' after 'fatal:' in the wtmpd identity messages. Ours for 20: C reports
 * an empty ut_user as 'no such user' (getpwnam("") fails); ours says 'empty user name'. Same
 * answer (EPERM), so only the common part is required.
 */
function expectedMessages(t: Transcript): string[] {
  const lines = [...t.utmpd_stderr, ...t.wtmpd_stderr].filter((l) => /^utmps-[uw]tmpd: fatal: /.test(l));
  return lines.map((line) => {
    const text = line.replace('fatal: : ', 'fatal: ');
    if (t.name.startsWith('20-')) return text.replace(/: no such user$/, '');
    return text;
  });
}

function describeRecords(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let off = 0; off + RECORD <= bytes.length; off += RECORD) {
    const e = decodeEntry(bytes.subarray(off, off + RECORD));
    out.push(`${e.typeName} id '${e.id}' line '${e.line}' user '${e.user}'`);
  }
  return out;
}

/** Compares two files of utmps records record by record, with readable messages. */
function assertSameRecords(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: ${actual.length / RECORD} records, expected ${expected.length / RECORD}\n` +
      `  got:      ${describeRecords(actual).join('\n            ')}\n` +
      `  expected: ${describeRecords(expected).join('\n            ')}`,
  );
  for (let off = 0; off < expected.length; off += RECORD) {
    const a = actual.subarray(off, off + RECORD);
    const e = expected.subarray(off, off + RECORD);
    assert.ok(
      a.equals(e),
      `${what}: record ${off / RECORD} differs: got ${describeRecords(a)[0]}, expected ${describeRecords(e)[0]}\n` +
        `  got      ${a.toString('hex')}\n  expected ${e.toString('hex')}`,
    );
  }
}

for (const kind of TRANSPORTS) {
  describe(`C utmps transcripts replayed in order (${kind})`, () => {
    let d: Daemons;

    before(async () => {
      d = await startDaemons(kind);
      // The non-root transcripts connect from processes running as nobody.
      await chmod(d.dir, 0o755);
    });

    after(async () => {
      await d?.stop();
    });

    for (const t of TRANSCRIPTS) {
      test(`${t.name}: ${t.description}`, async () => {
        const plan = conversation(t);
        const socket = isWtmp(t) ? d.wtmpSocket : d.utmpSocket;
        const stderrBefore = d.stderr().length;
        const seen = await replayAs(credentialsOf(t), socket, plan);
        assert.deepEqual(seen, plan);

        if (t.name.startsWith('01-')) {
          // The daemon creates utmp on first access, 0640 in the utmps layout (upstream uses
          // 0644, PROTOCOL.md section 6; ours keeps others from locking it: docs/SECURITY.md).
          const st = await stat(d.utmpFile);
          assert.ok(st.isFile());
          assert.equal(st.mode & 0o777, 0o640);
          assert.equal(st.size, 0);
        }

        if (kind === 'ucspi') {
          for (const message of expectedMessages(t)) {
            const said = await eventually(() => d.stderr().slice(stderrBefore).includes(message));
            assert.ok(said, `stderr should contain '${message}'; it has:\n${d.stderr().slice(stderrBefore)}`);
          }
        }
      });
    }

    test('the files after all transcripts equal the captured ones, record by record', async () => {
      // No Ours difference reaches the files: the only one that shows in the transcripts
      // (09, getid RUN_LVL) is a read, and the put rules agree here (see conversation()).
      const expectedUtmp = await readFile(join(VECTORS, 'transcripts-final-utmp.bin'));
      const expectedWtmp = await readFile(join(VECTORS, 'transcripts-final-wtmp.bin'));
      assertSameRecords(await readFile(d.utmpFile), expectedUtmp, 'utmp');
      assertSameRecords(await readFile(d.wtmpFile), expectedWtmp, 'wtmp');
    });
  });
}
