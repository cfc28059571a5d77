// Slow and idle clients: one user (nobody) opening many idle connections, or sending its
// requests a byte at a time, must not deny service to anyone else. The per-uid connection
// cap (utmpsd -C, s6-ipcserver -C) refuses its excess connections; the body deadline (-t)
// closes dribblers; root and another user are served all along.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { TargetKind } from '../../fuzz/target.js';
import {
  Agent,
  append,
  DAEMON,
  eventually,
  GETALL,
  holdConnections,
  NOBODY,
  putline,
  record,
  recordsOf,
  REWIND,
  status,
  talk,
  talkAs,
  withTarget,
} from '../helpers/fuzz-hardening.js';
import { TRANSPORTS } from '../helpers/transports.js';

const PER_UID = 4;
const BODY_TIMEOUT_MS = 500;

function limits(kind: TargetKind): { daemonArgs: string[]; utmpsdArgs: string[]; ipcserverArgs: string[] } {
  return {
    daemonArgs: ['-t', String(BODY_TIMEOUT_MS)],
    utmpsdArgs: ['-C', String(PER_UID), '--rate-limit', '0'],
    ipcserverArgs: kind === 'ucspi' ? ['-C', String(PER_UID)] : [],
  };
}

const byteByByte = (bytes: Buffer): Buffer[] => Array.from(bytes, (b) => Buffer.of(b));

for (const kind of TRANSPORTS) {
  describe(`slow and idle clients (${kind}, -C ${PER_UID}, -t ${BODY_TIMEOUT_MS})`, () => {
    test("idle connections: nobody's excess is refused, root and uid 1 are served meanwhile", () =>
      withTarget(kind, limits(kind), async (d) => {
        const daemon = await Agent.start(DAEMON.uid, DAEMON.gid);
        const held = await holdConnections(NOBODY, d.utmpSocket, PER_UID + 2);
        try {
          assert.deepEqual(held.outcomes, [...new Array(PER_UID).fill('ok'), 'closed', 'closed'], 'the cap refuses exactly the excess');
          const rec = record({ type: 7, id: 'r1', line: 'pts/1', user: 'root' });
          assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(rec)]))).received.toString('hex'), '0000', 'root writes utmp');
          assert.equal(status(await talk(d.wtmpSocket, append(rec))), 0, 'root appends to wtmp');
          assert.equal(status(await talkAs(daemon, d.utmpSocket, REWIND)), 0, 'uid 1 reads utmp');
          assert.equal(status(await talkAs(daemon, d.wtmpSocket, append(record({ user: 'daemon', line: 'x' })))), 0, 'uid 1 appends its own record');
        } finally {
          await held.release();
          await daemon.stop();
        }
        // Once nobody lets go, it is served again.
        const again = await holdConnections(NOBODY, d.utmpSocket, 1);
        await again.release();
        assert.deepEqual(again.outcomes, ['ok']);
        if (kind === 'utmpsd') assert.match(d.stderr(), new RegExp(`refused a connection from uid ${NOBODY.uid} .*maximum of ${PER_UID} connections`));
      }));

    test('byte-at-a-time dribblers are closed at the body deadline while others are served', () =>
      withTarget(kind, limits(kind), async (d) => {
        const nobody = await Agent.start(NOBODY.uid, NOBODY.gid);
        const daemon = await Agent.start(DAEMON.uid, DAEMON.gid);
        try {
          const slow = record({ type: 7, id: 'sl', line: 'slow', user: 'nobody' });
          // 401 bytes, one every 50 ms: 20 s if nobody stopped them.
          const dribblers = [
            talkAs(nobody, d.utmpSocket, byteByByte(putline(slow)), 'eof', 50, 30_000),
            talkAs(nobody, d.utmpSocket, byteByByte(putline(slow)), 'eof', 50, 30_000),
            talkAs(nobody, d.wtmpSocket, byteByByte(append(slow)), 'eof', 50, 30_000),
          ];
          // Meanwhile, everyone else.
          const rec = record({ type: 7, id: 'r2', line: 'pts/2', user: 'root' });
          assert.equal((await talk(d.utmpSocket, Buffer.concat([REWIND, putline(rec)]))).received.toString('hex'), '0000');
          assert.equal(status(await talk(d.wtmpSocket, append(rec))), 0);
          assert.equal(status(await talkAs(daemon, d.wtmpSocket, append(record({ user: 'daemon', line: 'y' })))), 0);
          assert.equal(status(await talkAs(daemon, d.utmpSocket, Buffer.concat([REWIND, GETALL]))), 0);

          for (const [i, o] of (await Promise.all(dribblers)).entries()) {
            assert.equal(o.hung, false, `dribbler ${i} was not left hanging`);
            assert.equal(o.received.length, 0, `dribbler ${i} got no answer`);
            assert.ok(o.serverEof || o.socketError !== undefined, `dribbler ${i} was cut off by the server`);
          }
          assert.ok(!recordsOf(readFileSync(d.utmpFile)).some((r) => r.equals(slow)), 'no dribbled record landed');
          const said =
            kind === 'utmpsd'
              ? /closed the connection of uid 65534 .*timeout: request incomplete after 500 ms/
              : /utmps-(utmpd|wtmpd): fatal: .*Connection timed out/;
          assert.ok(await eventually(() => said.test(d.stderr())), `the deadline is logged:\n${d.stderr()}`);
        } finally {
          await nobody.stop();
          await daemon.stop();
        }
      }));

    test(
      'a wtmp follower that sent more than the server reads is let go when it closes',
      () =>
        withTarget(kind, limits(kind), async (d) => {
          // The read extension's request: follow (flag 2), no limit, no time bounds, user 'nothing-matches'.
          const body = Buffer.alloc(85);
          body[0] = 2;
          body.writeBigInt64BE(-(1n << 63n), 5);
          body.writeBigInt64BE((1n << 63n) - 1n, 13);
          body.write('nothing-matches', 21, 'latin1');
          const request = Buffer.concat([Buffer.of(0x52), body]);
          // The request and 300 KB more in two writes, then, a moment later, the client goes.
          const socket = createConnection({ path: d.wtmpSocket, allowHalfOpen: true });
          socket.on('error', () => undefined);
          await once(socket, 'connect');
          socket.write(request);
          socket.write(Buffer.alloc(300_000, 0x41));
          await new Promise((resolve) => setTimeout(resolve, 1000));
          socket.destroy();
          assert.ok(await eventually(() => !d.busy(), 5000), 'the server let go of the closed connection');
        }),
    );
  });
}
