// btmp checks the service tests share: root's round trip through the btmpd socket, and a
// refused user (the daemon says EPERM; the classic services' access rules close the
// connection before any daemon runs) who writes nothing.

import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBtmp } from '../../src/client/index.js';
import { type Outcome, run } from './commands.js';
import { BIN } from './paths.js';

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return -1;
  }
}

/** Root appends a failed login with utmps-write -b; it is the newest record read back, and on disk. */
export async function btmpRoundTrip(socket: string, file: string, user: string): Promise<void> {
  const before = await sizeOf(file);
  const write = await run(process.execPath, [join(BIN, 'utmps-write'), '-b', '-B', socket, '-l', user, 'bt1', 'LOGIN_PROCESS', 'ssh:notty']);
  assert.equal(write.code, 0, `utmps-write -b: ${write.stderr}`);
  const newest = [];
  for await (const { record } of readBtmp({ path: socket, newestFirst: true, limit: 1, timeoutMs: 10_000 })) newest.push(record.entry);
  assert.deepEqual(
    newest.map((e) => [e.typeName, e.user, e.line]),
    [['LOGIN_PROCESS', user, 'ssh:notty']],
  );
  assert.ok((await sizeOf(file)) > Math.max(before, 0), 'btmp grew');
  assert.ok((await readFile(file)).includes(Buffer.from(user)), 'the record is in the file');
}

/** utmps-write -b as uid/gid (not root): exit 111, btmp unchanged. */
export async function btmpRefused(socket: string, file: string, uid: number, gid: number): Promise<Outcome> {
  const before = await sizeOf(file);
  const out = await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, join(BIN, 'utmps-write'), '-b', '-B', socket, '-l', 'nobody', 'bt2', 'LOGIN_PROCESS', 'tty9']);
  assert.equal(out.code, 111, `refused: ${out.stderr}`);
  assert.match(out.stderr, /^utmps-write: fatal: unable to write btmp entry via btmpd at /);
  assert.equal(await sizeOf(file), before, 'btmp unchanged');
  return out;
}
