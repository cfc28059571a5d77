// Crash safety: utmpsd killed with SIGKILL in the middle of a storm of concurrent writes
// (utmp putlines from several sessions, wtmp appends from several clients), five times
// over the same state directory. After each kill: every write the server acknowledged is
// in the files, byte for byte; the files hold whole records only and nothing that was
// never sent; and the server starts again cleanly (the stale sockets replaced, no warning).

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { startTarget, type Target } from '../../fuzz/target.js';
import { appendWtmp, UtmpSession } from '../../src/client/index.js';
import { eventually, RECORD, record, recordsOf, scratchDir } from '../helpers/fuzz-hardening.js';

const ROUNDS = 5;
const UTMP_WORKERS = 4;
const WTMP_WORKERS = 4;
/** utmp entries per session: each is overwritten again and again (putline replaces by ut_id). */
const KEYS = 6;
/** Acknowledged writes each worker makes in a round before the kill. */
const BEFORE_KILL = 15;

interface Slot {
  acked?: Buffer;
  inFlight?: Buffer;
}

const idOf = (w: number, k: number): string => `c${w}${k}`;

/** The 4-byte ut_id field of a record, as text. */
const idText = (rec: Buffer): string => rec.subarray(40, 44).toString('latin1').replace(/\0+$/, '');

describe('crash safety (utmpsd, SIGKILL)', () => {
  test(`${ROUNDS} rounds of kill -9 under concurrent writes: acknowledged records survive intact`, async () => {
    const { dir, remove } = await scratchDir('cr-');
    let seq = 1;
    const slots = new Map<string, Slot>();
    const sentWtmp = new Set<string>();
    const ackedWtmp: Buffer[] = [];
    let server: Target | undefined;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round > 0) {
          assert.ok(existsSync(`${dir}/.utmpd-socket`), 'a killed server leaves its socket behind');
        }
        server = await startTarget('utmpsd', { dir, utmpsdArgs: ['--rate-limit', '0'] });
        const t = server;
        const lines = t.stderr().trim().split('\n');
        assert.deepEqual(
          lines.filter((l) => !/^utmpsd: info: ready: /.test(l)),
          [],
          `round ${round}: the server starts without a warning`,
        );

        const acks = new Array<number>(UTMP_WORKERS + WTMP_WORKERS).fill(0);
        let killed = false;
        const early: string[] = [];

        const utmpWorker = async (w: number): Promise<void> => {
          let session: UtmpSession;
          try {
            session = await UtmpSession.connect({ path: t.utmpSocket, timeoutMs: 10_000 });
          } catch (e) {
            if (!killed) early.push(`utmp worker ${w}: ${(e as Error).message}`);
            return;
          }
          try {
            for (let n = 0; ; n++) {
              const id = idOf(w, n % KEYS);
              const slot = slots.get(id) ?? {};
              slots.set(id, slot);
              const rec = record({ type: 7, id, line: `crash/${id}`, user: 'root', session: seq++, host: `round ${round}` });
              // setutxent + pututxline, as login programs do: the search starts at the cursor.
              await session.rewind();
              slot.inFlight = rec;
              await session.put(rec);
              slot.acked = rec;
              slot.inFlight = undefined;
              acks[w]++;
            }
          } catch (e) {
            if (!killed) early.push(`utmp worker ${w}: ${(e as Error).message}`);
          } finally {
            session.close();
          }
        };
        const wtmpWorker = async (w: number): Promise<void> => {
          for (;;) {
            const rec = record({ type: 7, id: `w${w}`, line: `wtmp/${w}`, user: 'root', session: seq++, host: `round ${round}` });
            sentWtmp.add(rec.toString('hex'));
            try {
              await appendWtmp(rec, { path: t.wtmpSocket, timeoutMs: 10_000 });
            } catch (e) {
              if (!killed) early.push(`wtmp worker ${w}: ${(e as Error).message}`);
              return;
            }
            ackedWtmp.push(rec);
            acks[UTMP_WORKERS + w]++;
          }
        };
        const workers = [
          ...Array.from({ length: UTMP_WORKERS }, (_, w) => utmpWorker(w)),
          ...Array.from({ length: WTMP_WORKERS }, (_, w) => wtmpWorker(w)),
        ];
        const stormOn = await eventually(() => acks.every((n) => n >= BEFORE_KILL) || early.length > 0, 60_000);
        killed = true;
        await t.crash();
        await Promise.all(workers);
        assert.deepEqual(early, [], `round ${round}: no worker failed before the kill`);
        assert.ok(stormOn, `round ${round}: every worker had ${BEFORE_KILL} writes acknowledged before the kill`);

        // wtmp: whole records, each one sent (and only once), every acknowledged one there.
        const wtmp = readFileSync(t.wtmpFile);
        assert.equal(wtmp.length % RECORD, 0, `round ${round}: wtmp holds whole records only`);
        const onDisk = new Map<string, number>();
        for (const r of recordsOf(wtmp)) {
          const k = r.toString('hex');
          assert.ok(sentWtmp.has(k), `round ${round}: wtmp holds a record nobody sent`);
          onDisk.set(k, (onDisk.get(k) ?? 0) + 1);
        }
        for (const [k, n] of onDisk) assert.equal(n, 1, `round ${round}: a wtmp record appears ${n} times (${k.slice(0, 16)}...)`);
        for (const r of ackedWtmp) assert.ok(onDisk.has(r.toString('hex')), `round ${round}: an acknowledged wtmp append is missing`);

        // utmp: whole records; each entry is its last acknowledged value, or the write in flight.
        const utmp = readFileSync(t.utmpFile);
        assert.equal(utmp.length % RECORD, 0, `round ${round}: utmp holds whole records only`);
        const byId = new Map<string, Buffer[]>();
        for (const r of recordsOf(utmp)) byId.set(idText(r), [...(byId.get(idText(r)) ?? []), r]);
        for (const [id, slot] of slots) {
          const found = byId.get(id) ?? [];
          assert.ok(found.length <= 1, `round ${round}: utmp entry ${id} appears ${found.length} times`);
          const allowed = [slot.acked, slot.inFlight].filter((b): b is Buffer => b !== undefined);
          if (slot.acked) assert.equal(found.length, 1, `round ${round}: acknowledged utmp entry ${id} is missing`);
          if (found.length === 1) {
            assert.ok(
              allowed.some((b) => b.equals(found[0])),
              `round ${round}: utmp entry ${id} is neither its last acknowledged value nor the write in flight`,
            );
          }
          // What was in flight is settled now, one way or the other.
          if (found.length === 1 && slot.inFlight?.equals(found[0])) slot.acked = slot.inFlight;
          slot.inFlight = undefined;
        }
        assert.equal(byId.size, slots.size, `round ${round}: utmp holds only the entries the sessions wrote`);
      }

      // A last start on what the kills left: clean, and serving what is on disk.
      server = await startTarget('utmpsd', { dir, utmpsdArgs: ['--rate-limit', '0'] });
      assert.deepEqual(server.stderr().trim().split('\n').filter((l) => !/^utmpsd: info: ready: /.test(l)), []);
      const session = await UtmpSession.connect({ path: server.utmpSocket, timeoutMs: 10_000 });
      try {
        const served = (await session.readAll()).map((r) => r.bytes);
        assert.deepEqual(served, recordsOf(readFileSync(server.utmpFile)), 'the restarted server reads back the file as it is');
      } finally {
        session.close();
      }
      await appendWtmp(record({ user: 'root', line: 'after' }), { path: server.wtmpSocket, timeoutMs: 10_000 });
    } finally {
      await server?.stop();
      await remove();
    }
  });
});
