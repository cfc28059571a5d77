// pututxline's replace-or-append rule (PROTOCOL.md section 3). Ours is glibc's rule, so the
// 12 setutxent()+pututxline() calls of test/vectors/put-semantics-glibc.txt must leave exactly
// the 6 records listed there, where C utmps leaves 9 (put-semantics-utmps.txt).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createUtmpx, type Utmpx } from '../../src/client/index.js';
import { decodeEntry } from '../../src/record/index.js';
import { type Daemons, startDaemons } from '../helpers/daemons.js';
import { VECTORS } from '../helpers/paths.js';
import { TRANSPORTS } from '../helpers/transports.js';

const RECORD = 400;

interface Fields {
  type: number;
  id: string;
  line: string;
  user: string;
}

const FIELDS = /type (\d+) id '([^']*)' line '([^']*)' user '([^']*)'$/;

function fields(line: string): Fields {
  const m = FIELDS.exec(line);
  if (!m) throw new Error(`cannot read '${line}'`);
  return { type: Number(m[1]), id: m[2], line: m[3], user: m[4] };
}

/** The calls (`put ...` lines), the records left (`record N: ...`) and the stated count. */
function readVector(name: string): { puts: Fields[]; records: Fields[]; count: number } {
  const lines = readFileSync(join(VECTORS, name), 'utf8').split('\n');
  const puts = lines.filter((l) => l.startsWith('put ')).map(fields);
  const records = lines.filter((l) => /^record \d+: /.test(l)).map(fields);
  const countLine = lines.find((l) => /^\d+ records$/.test(l));
  if (!countLine) throw new Error(`${name}: no record count`);
  return { puts, records, count: Number.parseInt(countLine, 10) };
}

const GLIBC = readVector('put-semantics-glibc.txt');
const UTMPS = readVector('put-semantics-utmps.txt');

/** A record with these fields at the utmps offsets (PROTOCOL.md section 1), every other byte zero. */
function record(f: Fields): Buffer {
  const rec = Buffer.alloc(RECORD);
  rec.writeInt16LE(f.type, 0);
  rec.write(f.line, 8, 32, 'latin1');
  rec.write(f.id, 40, 4, 'latin1');
  rec.write(f.user, 44, 32, 'latin1');
  return rec;
}

function fieldsOf(bytes: Buffer): Fields {
  const e = decodeEntry(bytes);
  return { type: e.type, id: e.id, line: e.line, user: e.user };
}

for (const kind of TRANSPORTS) {
  describe(`pututxline replaces or appends as glibc does (${kind})`, () => {
    let d: Daemons;
    let ux: Utmpx;

    before(async () => {
      d = await startDaemons(kind);
      ux = createUtmpx({ utmpdPath: d.utmpSocket, wtmpdPath: d.wtmpSocket, timeoutMs: 5000 });
    });

    after(async () => {
      await ux?.endutxent().catch(() => undefined);
      await d?.stop();
    });

    test('the vectors are what this test expects', () => {
      assert.equal(GLIBC.puts.length, 12);
      assert.deepEqual(GLIBC.puts, UTMPS.puts, 'both files come from the same 12 calls');
      assert.equal(GLIBC.records.length, GLIBC.count);
      assert.equal(GLIBC.count, 6);
      assert.equal(UTMPS.count, 9);
    });

    test('12 setutxent+pututxline calls leave exactly the 6 records of put-semantics-glibc.txt', async () => {
      for (const put of GLIBC.puts) {
        await ux.setutxent();
        const written = await ux.pututxline(record(put));
        assert.deepEqual(fieldsOf(written.bytes), put);
      }
      await ux.endutxent();

      // What the file holds...
      const file = await readFile(d.utmpFile);
      assert.equal(file.length % RECORD, 0);
      const inFile: Fields[] = [];
      for (let off = 0; off < file.length; off += RECORD) inFile.push(fieldsOf(file.subarray(off, off + RECORD)));
      assert.deepEqual(inFile, GLIBC.records);
      assert.notDeepEqual(inFile, UTMPS.records, 'and not what C utmps leaves');

      // ...and what a client reads back, every record byte-equal to the put that made it.
      await ux.setutxent();
      const read: Fields[] = [];
      for (let r = await ux.getutxent(); r; r = await ux.getutxent()) {
        const f = fieldsOf(r.bytes);
        assert.ok(r.bytes.equals(record(f)), `record ${read.length} carries no stray bytes`);
        read.push(f);
      }
      await ux.endutxent();
      assert.deepEqual(read, GLIBC.records);
    });
  });
}
