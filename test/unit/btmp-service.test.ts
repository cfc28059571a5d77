// The btmp rules without a daemon: Policy.btmpAccess and BtmpService, which refuses a
// peer that is not root before it builds (and so opens) anything, and hands root's
// requests to the wtmp service it builds once.

import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Request, RequestParser } from '../../src/protocol/request.js';
import { BtmpService } from '../../src/server/btmp-service.js';
import { type Peer, Policy } from '../../src/server/policy.js';
import type { ServiceHandler } from '../../src/server/session.js';
import { WtmpService } from '../../src/server/wtmp-service.js';
import { WtmpFile } from '../../src/store/wtmp-file.js';
import { cat, hex, le, padded } from '../helpers/bytes.js';

const EPERM = 1;
const UTMP_GID = 43;

function policy(): Policy {
  return new Policy({ daemonGid: () => UTMP_GID, nameOfUid: async () => 'alice', userNameOf: () => 'alice' });
}

/** A LOGIN_PROCESS record by hand: type@0, pid@4, line@8, user@44, tv_sec@344. */
function failedLogin(user: string): Buffer {
  return cat(le(6, 2), Buffer.alloc(2), le(4242, 4), padded('ssh:notty', 32), padded('', 4), padded(user, 32), Buffer.alloc(268), le(1_700_000_000n, 8), Buffer.alloc(48));
}

function parse(bytes: Buffer): Request {
  const parser = new RequestParser('wtmp');
  parser.push(bytes);
  const request = parser.next();
  assert.ok(request);
  return request;
}

const APPEND = cat(0x2b, failedLogin('mallory'));
const READ = cat(0x52, hex('00 00000000 8000000000000000 7fffffffffffffff'), Buffer.alloc(64));

describe('Policy.btmpAccess', () => {
  test('root only: the daemon group, a utmp member and alice are refused with EPERM', () => {
    const p = policy();
    assert.equal(p.btmpAccess({ uid: 0, gid: 0 }), null);
    for (const peer of [{ uid: 1000, gid: UTMP_GID }, { uid: 1000, gid: 1000 }, { uid: 65534, gid: 0 }]) {
      assert.equal(p.btmpAccess(peer)?.errno, EPERM, JSON.stringify(peer));
    }
  });
});

describe('BtmpService', () => {
  const noEvents = { report: () => {} };

  test('a peer that is not root: 01 and the end, for an append and for a read, and the service behind is never built', async () => {
    for (const bytes of [APPEND, READ]) {
      let built = 0;
      const peer: Peer = { uid: 1000, gid: UTMP_GID };
      const service = new BtmpService(peer, policy(), noEvents, () => {
        built++;
        throw new Error('must not be built');
      });
      const result = await service.handle(parse(bytes), new AbortController().signal);
      assert.deepEqual(result.answer, Buffer.of(EPERM));
      assert.equal(result.end?.reason, 'refused');
      assert.equal(result.stream, undefined, 'no stream: nothing follows the refusal');
      assert.equal(built, 0);
    }
  });

  test("root: the append goes to the wtmp service over the btmp file, created 0600 by the caller's mode", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'btu-'));
    try {
      const path = join(dir, 'btmp');
      let built = 0;
      let file: WtmpFile | undefined;
      const root: Peer = { uid: 0, gid: 0 };
      const serve = async (): Promise<ServiceHandler> => {
        built++;
        file = await WtmpFile.open(path, { mode: 0o600 });
        return new WtmpService(file, root, policy(), noEvents);
      };
      const service = new BtmpService(root, policy(), noEvents, serve);
      const result = await service.handle(parse(APPEND), new AbortController().signal);
      assert.deepEqual(result.answer, Buffer.of(0));
      assert.equal(built, 1);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(path)).size, 400);
      await file?.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
