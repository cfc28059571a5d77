// What a user other than root may append to wtmp, and read from it under --private-reads
// (docs/PROTOCOL-EXTENSIONS.md, "wtmp appends by users other than root"; issue 8 items 5
// and 7), run as real users through setpriv:
//  - ut_user must be the whole passwd name of the peer's uid: a 31-byte user cannot name
//    the 32-byte user its name starts, and a name longer than the field matches nothing;
//  - only LOGIN_PROCESS, USER_PROCESS and DEAD_PROCESS, and a DEAD_PROCESS only for a line
//    whose live utmp entries are all the peer's own: no forged logout of root's session,
//    no fake boot.

import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Agent, append, eventually, NOBODY, putline, record, recordsOf, REWIND, status, talk, talkAs, withTarget } from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';
import { withUsers } from '../helpers/users.js';
import { Errno } from '../../src/errno.js';

const { EPERM } = Errno;
const T = { EMPTY: 0, RUN_LVL: 1, BOOT_TIME: 2, NEW_TIME: 3, OLD_TIME: 4, INIT_PROCESS: 5, LOGIN_PROCESS: 6, USER_PROCESS: 7, DEAD_PROCESS: 8, ACCOUNTING: 9 };

// 31, 32 and 34 bytes; each longer one starts with the shorter one's name.
const N31 = 'pq' + 'a'.repeat(29);
const N32 = N31 + 'b';
const N34 = N32 + 'cc';

/** The wtmp read extension: oldest first, no follow, no limit, no filters. */
function readAll(): Buffer {
  const body = Buffer.alloc(85);
  body.writeBigInt64BE(-(1n << 63n), 5);
  body.writeBigInt64BE((1n << 63n) - 1n, 13);
  return Buffer.concat([Buffer.of(0x52), body]);
}

/** Records of a read's answer (00 + record each, then ESRCH). */
function answerRecords(answer: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < answer.length && answer[at] === 0) {
    out.push(answer.subarray(at + 1, at + 401));
    at += 401;
  }
  assert.equal(answer[at], 3, 'the read ends with ESRCH');
  return out;
}

const userOf = (rec: Buffer): string => {
  const f = rec.subarray(44, 76);
  const nul = f.indexOf(0);
  return f.subarray(0, nul < 0 ? 32 : nul).toString('latin1');
};

describe('user names are compared whole (31-, 32- and 34-byte names)', () => {
  for (const kind of TRANSPORTS) {
    test(`${kind}: each user may append records naming itself only, and a name longer than ut_user nothing`, () =>
      withUsers([N31, N32, N34], ([u31, u32, u34]) =>
        withTarget(kind, { utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
          const agents = await Promise.all([u31, u32, u34].map((u) => Agent.start(u.uid, u.gid)));
          try {
            const [a31, a32, a34] = agents;
            const rec = (user: string, n: number): Buffer => record({ type: T.USER_PROCESS, user, line: `pts/${n}`, id: `q${n}`, session: n });
            const tries: [string, Agent, Buffer, number][] = [
              ['31-byte user, its own name', a31, rec(N31, 1), 0],
              ['31-byte user, the 32-byte name it starts', a31, rec(N32, 2), EPERM],
              ['32-byte user, its own name (no NUL in the field)', a32, rec(N32, 3), 0],
              ['32-byte user, the 31-byte name it starts with', a32, rec(N31, 4), EPERM],
              ['34-byte user, its first 32 bytes (the 32-byte user)', a34, rec(N32, 5), EPERM],
              ['34-byte user, its first 31 bytes', a34, rec(N31, 6), EPERM],
            ];
            const got: string[] = [];
            for (const [what, agent, r, want] of tries) {
              got.push(`${what}: ${status(await talkAs(agent, d.wtmpSocket, append(r)))}`);
              assert.equal(got.at(-1), `${what}: ${want}`);
            }
            assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)).map(userOf), [N31, N32], 'only the two own-name appends landed');
          } finally {
            await Promise.all(agents.map((a) => a.stop()));
          }
        }),
      ));
  }

  test('utmpsd --private-reads: each user reads the records of its whole name; a 34-byte name reads nothing', () =>
    withUsers([N31, N32, N34], ([u31, u32, u34]) =>
      withTarget('utmpsd', { utmpsdArgs: ['--private-reads'] }, async (d) => {
        for (const [n, user] of [N31, N32, N34.slice(0, 32), 'root'].entries()) {
          assert.equal(status(await talk(d.wtmpSocket, append(record({ type: T.USER_PROCESS, user, line: `pts/${n}`, session: n })))), 0);
        }
        const agents = await Promise.all([u31, u32, u34].map((u) => Agent.start(u.uid, u.gid)));
        try {
          const seen = [];
          for (const a of agents) seen.push(answerRecords((await talkAs(a, d.wtmpSocket, readAll())).received).map(userOf));
          // The third root append names the 34-byte user's first 32 bytes, which are the
          // 32-byte user's name: it is that user's record, not the 34-byte user's.
          assert.deepEqual(seen, [[N31], [N32, N32], []]);
        } finally {
          await Promise.all(agents.map((a) => a.stop()));
        }
      }),
    ));
});

describe('wtmp appends by users other than root: what a login program as that user writes', () => {
  for (const kind of TRANSPORTS) {
    test(`${kind}: own USER/LOGIN_PROCESS accepted; a forged DEAD_PROCESS, USER_PROCESS or LOGIN_PROCESS for root's pts/7, BOOT_TIME and the other types refused`, () =>
      withTarget(kind, { utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
        // root's session on pts/7 and nobody's own on pts/3, as a login program records them.
        const rootLogin = record({ type: T.USER_PROCESS, user: 'root', line: 'pts/7', id: 'ts/7', pid: 700 });
        const nobodyLogin = record({ type: T.USER_PROCESS, user: 'nobody', line: 'pts/3', id: 'ts/3', pid: 300 });
        assert.deepEqual([...(await talk(d.utmpSocket, Buffer.concat([REWIND, putline(rootLogin), putline(nobodyLogin)]))).received], [0, 0, 0]);
        assert.equal(status(await talk(d.wtmpSocket, append(rootLogin))), 0);

        const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
        try {
          const as = async (r: Buffer): Promise<number | undefined> => status(await talkAs(nobody, d.wtmpSocket, append(r)));
          const mine = (type: number, line: string): Buffer => record({ type, user: 'nobody', line, id: line.slice(-4), pid: 4242 });
          const results: Record<string, number | undefined> = {};
          results['DEAD_PROCESS for root pts/7'] = await as(mine(T.DEAD_PROCESS, 'pts/7'));
          results['DEAD_PROCESS for a line with no session'] = await as(mine(T.DEAD_PROCESS, 'pts/9'));
          // last reads a later login on the same line as the end of the session before it.
          results['USER_PROCESS for root pts/7'] = await as(mine(T.USER_PROCESS, 'pts/7'));
          results['LOGIN_PROCESS for root pts/7'] = await as(mine(T.LOGIN_PROCESS, 'pts/7'));
          for (const name of ['EMPTY', 'RUN_LVL', 'BOOT_TIME', 'NEW_TIME', 'OLD_TIME', 'INIT_PROCESS', 'ACCOUNTING'] as const) {
            results[name] = await as(mine(T[name], '~'));
          }
          results['own LOGIN_PROCESS'] = await as(mine(T.LOGIN_PROCESS, 'pts/4'));
          results['own USER_PROCESS'] = await as(mine(T.USER_PROCESS, 'pts/4'));
          results['DEAD_PROCESS for its own pts/3'] = await as(mine(T.DEAD_PROCESS, 'pts/3'));
          assert.deepEqual(results, {
            'DEAD_PROCESS for root pts/7': EPERM,
            'DEAD_PROCESS for a line with no session': EPERM,
            'USER_PROCESS for root pts/7': EPERM,
            'LOGIN_PROCESS for root pts/7': EPERM,
            EMPTY: EPERM,
            RUN_LVL: EPERM,
            BOOT_TIME: EPERM,
            NEW_TIME: EPERM,
            OLD_TIME: EPERM,
            INIT_PROCESS: EPERM,
            ACCOUNTING: EPERM,
            'own LOGIN_PROCESS': 0,
            'own USER_PROCESS': 0,
            'DEAD_PROCESS for its own pts/3': 0,
          });
          const types = recordsOf(readFileSync(d.wtmpFile)).map((r) => `${r.readInt16LE(0)} ${userOf(r)} ${r.subarray(8, 13).toString('latin1')}`);
          assert.deepEqual(types, ['7 root pts/7', '6 nobody pts/4', '7 nobody pts/4', '8 nobody pts/3']);

          // Root, the login programs' usual identity, may still write every type.
          assert.equal(status(await talk(d.wtmpSocket, append(record({ type: T.BOOT_TIME, user: 'reboot', line: '~' })))), 0);
          assert.equal(status(await talk(d.wtmpSocket, append(record({ type: T.DEAD_PROCESS, line: 'pts/7', id: 'ts/7' })))), 0);
        } finally {
          await nobody.stop();
        }
      }));
  }

  test('ucspi: a non-root login or logout is refused when utmps-wtmpd cannot read utmp (-U); a missing utmp has no sessions', () =>
    withTarget('ucspi', {}, async (d) => {
      rmSync(d.utmpFile, { force: true }); // no utmp connection yet: nothing created it
      const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
      try {
        const dead = record({ type: T.DEAD_PROCESS, user: 'nobody', line: 'pts/3', id: 'ts/3' });
        const login = record({ type: T.USER_PROCESS, user: 'nobody', line: 'pts/3', id: 'ts/3' });
        assert.equal(status(await talkAs(nobody, d.wtmpSocket, append(dead))), EPERM, 'no utmp: no session of its own to end');
        assert.equal(status(await talkAs(nobody, d.wtmpSocket, append(login))), 0, 'no utmp: nobody else is on the line');
        symlinkSync('/etc/passwd', d.utmpFile); // never followed: utmp cannot be read
        assert.equal(status(await talkAs(nobody, d.wtmpSocket, append(login))), EPERM);
        const why = /utmps-wtmpd: fatal: uid 65534 may not end the session on that line: unable to read utmp: .*ELOOP/;
        assert.ok(await eventually(() => why.test(d.stderr())), d.stderr());
      } finally {
        await nobody.stop();
      }
    }));
});
