// Privilege. utmpsd started as root with --user/--group keeps no root privilege after
// start-up. And no client can write as someone else: the daemons judge a peer by the
// credentials the kernel took when it connected (SO_PEERCRED; s6-ipcserver passes the same
// as IPCREMOTEEUID/IPCREMOTEEGID), whatever the process holding the connection is now.
//  - A root process that connects and then drops to nobody is still root to the server:
//    intended, a root process that opened the socket is trusted (docs/SECURITY.md).
//  - A connection opened by nobody stays nobody's when its descriptor is handed to a root
//    process (SCM_RIGHTS): root writing through it is refused EPERM.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { append, NOBODY, procStatus, PYTHON, putline, record, recordsOf, REWIND, withTarget } from '../helpers/fuzz-hardening.js';
import { ROOT } from '../helpers/paths.js';
import { TRANSPORTS } from '../helpers/transports.js';

const PEER = join(ROOT, 'dist', 'test', 'helpers', 'fuzz-peer.js');
const UTMP_GROUP = 43;

// As root: fork; the child drops to nobody, connects to both sockets and passes the two
// descriptors back over a socketpair; the parent (still root) writes through them.
const PY_PASS_FDS = `
import json, os, socket, sys
utmp_path, wtmp_path, utmp_req, wtmp_req = sys.argv[1:5]
parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
pid = os.fork()
if pid == 0:
    parent.close()
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.connect(utmp_path)
    w = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    w.connect(wtmp_path)
    socket.send_fds(child, [b'x'], [u.fileno(), w.fileno()])
    os._exit(0)
child.close()
_, fds, _, _ = socket.recv_fds(parent, 1, 2)
os.waitpid(pid, 0)
def ask(fd, hexreq, n):
    s = socket.socket(fileno=fd)
    s.settimeout(10)
    s.sendall(bytes.fromhex(hexreq))
    got = b''
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            break
        got += b
    return got.hex()
print(json.dumps({'uid': os.getuid(), 'utmp': ask(fds[0], utmp_req, 2), 'wtmp': ask(fds[1], wtmp_req, 1)}))
`;

const FOR_ROOT = record({ type: 7, id: 'pr', line: 'pts/77', user: 'root', host: 'privilege' });

describe('privilege', () => {
  test('utmpsd --user nobody --group 43: no root privilege left after start-up', () =>
    withTarget('utmpsd', { utmpsdArgs: ['--user', 'nobody', '--group', String(UTMP_GROUP)] }, async (d) => {
      const st = procStatus(d.pids[0]);
      assert.deepEqual(st.get('Uid')?.split(/\s+/), ['65534', '65534', '65534', '65534'], 'real, effective, saved and fs uid');
      assert.deepEqual(st.get('Gid')?.split(/\s+/), ['43', '43', '43', '43'], 'real, effective, saved and fs gid');
      assert.equal(st.get('Groups'), String(UTMP_GROUP), 'no supplementary group but utmp');
      // CapBnd may stay full for a non-root process: it only limits what could be gained.
      for (const cap of ['CapInh', 'CapPrm', 'CapEff', 'CapAmb']) assert.match(st.get(cap) ?? '', /^0+$/, `${cap} is empty`);
      for (const file of [d.utmpFile, d.wtmpFile]) {
        const s = statSync(file);
        assert.deepEqual([s.uid, s.gid], [NOBODY.uid, UTMP_GROUP], `${file} belongs to the service account`);
      }
    }));

  for (const kind of TRANSPORTS) {
    test(`${kind}: a root process that connects, then drops to nobody, is still root to the server (connect-time credentials)`, () =>
      withTarget(kind, { utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
        const job = {
          utmpSocket: d.utmpSocket,
          wtmpSocket: d.wtmpSocket,
          dropTo: NOBODY,
          utmp: Buffer.concat([REWIND, putline(FOR_ROOT)]).toString('hex'),
          utmpAnswer: 2,
          wtmp: append(FOR_ROOT).toString('hex'),
          wtmpAnswer: 1,
        };
        const r = spawnSync(process.execPath, [PEER], { input: JSON.stringify(job), encoding: 'utf8', timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { uid: number; gid: number; utmp: string; wtmp: string };
        assert.deepEqual([out.uid, out.gid], [NOBODY.uid, NOBODY.gid], 'the peer really was nobody when it wrote');
        assert.equal(out.utmp, '0000', 'its putline was accepted as root');
        assert.equal(out.wtmp, '00', "its append of root's record was accepted as root");
        assert.deepEqual(recordsOf(readFileSync(d.utmpFile)), [FOR_ROOT]);
        assert.deepEqual(recordsOf(readFileSync(d.wtmpFile)), [FOR_ROOT]);
      }));

    test(`${kind}: a connection nobody opened stays nobody's when root writes through it (SCM_RIGHTS): EPERM`, () =>
      withTarget(kind, { utmpsdArgs: ['--rate-limit', '0'] }, async (d) => {
        const utmpReq = Buffer.concat([REWIND, putline(FOR_ROOT)]).toString('hex');
        const wtmpReq = append(FOR_ROOT).toString('hex');
        const r = spawnSync(PYTHON, ['-c', PY_PASS_FDS, d.utmpSocket, d.wtmpSocket, utmpReq, wtmpReq], { encoding: 'utf8', timeout: 30_000 });
        assert.equal(r.status, 0, r.stderr);
        const out = JSON.parse(r.stdout) as { uid: number; utmp: string; wtmp: string };
        assert.equal(out.uid, 0, 'the writer was root');
        assert.equal(out.utmp, '0001', 'rewind answered, putline refused EPERM');
        assert.equal(out.wtmp, '01', 'append refused EPERM');
        assert.equal(readFileSync(d.utmpFile, { flag: 'a+' }).length, 0, 'utmp unchanged');
        assert.equal(readFileSync(d.wtmpFile, { flag: 'a+' }).length, 0, 'wtmp unchanged');
      }));
  }
});
