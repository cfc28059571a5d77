// Peer credentials and socket checks on real sockets: a child process running as
// nobody connects, and the server side must see the child's pid, uid, gid and groups.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, open } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  isUnixSocket,
  type PeerCredentials,
  peerCredentials,
  socketFd,
  SysError,
} from '../../src/sys/native.js';
import { firstLine, makeTempDir, stop } from '../helpers/support.js';

const NOBODY = 65534;

// Connects, says its pid, and leaves when the server ends the connection.
const CLIENT = `
const s = require('node:net').connect(process.argv[1], () => s.write(process.pid + '\\n'));
s.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

interface Seen {
  cred: PeerCredentials;
  childPid: number | undefined;
  saidPid: number;
  unix: boolean;
}

/** Runs CLIENT under setpriv with the given options and reports what the server saw. */
async function credentialsOfChild(setprivOptions: string[]): Promise<Seen> {
  const { dir, remove } = await makeTempDir();
  const server = net.createServer();
  try {
    await chmod(dir, 0o755); // nobody must reach the socket
    const path = join(dir, 's');
    server.listen({ path, writableAll: true });
    await once(server, 'listening');

    const child = spawn('setpriv', [...setprivOptions, process.execPath, '-e', CLIENT, path], {
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = once(child, 'exit').then(([code]) => {
        throw new Error(`client exited (${String(code)}) before connecting: ${stderr}`);
      });
      exited.catch(() => {}); // only matters while racing below
      const [sock] = (await Promise.race([once(server, 'connection'), exited])) as [net.Socket];
      try {
        const saidPid = Number(await new Promise<string>((resolve) => sock.once('data', (d: Buffer) => resolve(d.toString()))));
        const fd = socketFd(sock);
        return { cred: peerCredentials(fd), childPid: child.pid, saidPid, unix: isUnixSocket(fd) };
      } finally {
        sock.destroy();
      }
    } finally {
      await stop(child);
    }
  } finally {
    server.close();
    await once(server, 'close');
    await remove();
  }
}

test('peerCredentials sees the uid, gid and pid of a client running as nobody', async () => {
  const seen = await credentialsOfChild([`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups']);
  assert.equal(seen.cred.uid, NOBODY);
  assert.equal(seen.cred.gid, NOBODY);
  assert.equal(seen.cred.pid, seen.saidPid);
  assert.equal(seen.cred.pid, seen.childPid); // setpriv execs node in place
  if (seen.cred.groups !== null) assert.deepEqual(seen.cred.groups, []);
  assert.equal(seen.unix, true);
});

test('peerCredentials reports supplementary groups (SO_PEERGROUPS)', async () => {
  const seen = await credentialsOfChild([`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--groups=43']);
  assert.equal(seen.cred.uid, NOBODY);
  if (seen.cred.groups !== null) assert.deepEqual(seen.cred.groups, [43]);
});

test('peerCredentials on both ends of an in-process connection shows this process', async () => {
  const { dir, remove } = await makeTempDir();
  const server = net.createServer();
  try {
    const path = join(dir, 's');
    server.listen(path);
    await once(server, 'listening');
    const client = net.connect(path);
    try {
      const [[accepted]] = await Promise.all([once(server, 'connection'), once(client, 'connect')]);
      try {
        for (const sock of [accepted as net.Socket, client]) {
          const cred = peerCredentials(socketFd(sock));
          assert.equal(cred.pid, process.pid);
          assert.equal(cred.uid, process.geteuid?.());
          assert.equal(cred.gid, process.getegid?.());
        }
      } finally {
        (accepted as net.Socket).destroy();
      }
    } finally {
      client.destroy();
    }
  } finally {
    server.close();
    await once(server, 'close');
    await remove();
  }
});

test('a regular file is not a socket', async () => {
  const { dir, remove } = await makeTempDir();
  const file = await open(join(dir, 'f'), 'w');
  try {
    assert.equal(isUnixSocket(file.fd), false);
    assert.throws(
      () => peerCredentials(file.fd),
      (err: unknown) =>
        err instanceof SysError &&
        err.code === 'ENOTSOCK' &&
        err.errno === 88 &&
        err.syscall === 'getsockopt(SO_PEERCRED)' &&
        err.message.startsWith('getsockopt(SO_PEERCRED): '),
    );
  } finally {
    await file.close();
    await remove();
  }
});

test('a TCP socket is not a Unix socket and has no peer credentials', async () => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = net.connect(port, '127.0.0.1');
  try {
    await once(client, 'connect');
    const fd = socketFd(client);
    assert.equal(isUnixSocket(fd), false);
    assert.throws(() => peerCredentials(fd), { name: 'SysError', code: 'EAFNOSUPPORT' });
  } finally {
    client.destroy();
    server.close();
    await once(server, 'close');
  }
});

test('a closed descriptor number is refused with EBADF', () => {
  const unused = 1_000_000; // above any RLIMIT_NOFILE here, so never open
  assert.throws(() => isUnixSocket(unused), { code: 'EBADF' });
  assert.throws(() => peerCredentials(unused), { code: 'EBADF' });
  assert.throws(() => peerCredentials(-1), TypeError);
});

test('socketFd throws for a socket without a handle', () => {
  assert.throws(() => socketFd(new net.Socket()), /no file descriptor/);
});
