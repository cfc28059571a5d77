// Closing sessions and deadlines. Every call has a deadline (10 s unless told otherwise)
// and takes an AbortSignal; a deadline is ETIMEDOUT, an abort is an AbortError (ABORT_ERR),
// and both kill that connection (the answer might still come), never the program.
//
//   node deadlines.mjs    (needs no server: it starts a silent one of its own)

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUtmpx, UtmpSession } from 'utmps-ts';

// A server that accepts and never answers: the worst case a client must survive.
const dir = mkdtempSync(join(tmpdir(), 'deadlines-'));
const path = join(dir, 'silent-socket');
const silent = createServer(() => {}).listen(path);
await new Promise((resolve) => silent.once('listening', resolve));

// 1. A deadline for every call of a session (timeoutMs at connect), or per call.
const session = await UtmpSession.connect({ path, timeoutMs: 2000 });
try {
  await session.rewind({ timeoutMs: 100 });
} catch (e) {
  console.log(`deadline: ${e.name} ${e.code}: ${e.reason}`);
}
console.log(`the session is closed after its deadline: ${session.closed}`);

// 2. An AbortSignal cancels a call: Node-style AbortError, code ABORT_ERR.
const utmpx = createUtmpx({ utmpdPath: path });
const controller = new AbortController();
const pending = utmpx.getutxent({ signal: controller.signal });
controller.abort();
try {
  await pending;
} catch (e) {
  console.log(`abort: ${e.name} ${e.code}`);
}

// 3. Closing: close() (or `await using`), endutxent() for the facade. Nothing is left
// running, so the program ends without further ado.
const other = await UtmpSession.connect({ path });
await other[Symbol.asyncDispose](); // what `await using other = ...` calls at block end
console.log(`closed: ${other.closed}`);
await utmpx.endutxent();
silent.close();
rmSync(dir, { recursive: true, force: true });
