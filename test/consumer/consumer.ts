// A strict TypeScript consumer of the installed package: type-checked (never run) by
// test/integration/package.test.ts against the packed tarball, with skipLibCheck off, so
// the published .d.ts files themselves must be correct.

import {
  appendWtmp,
  type CallOptions,
  createUtmpx,
  entryToJSON,
  getutxent,
  login,
  type LoginInput,
  logout,
  logwtmp,
  readWtmp,
  RecordError,
  RecordType,
  type UtmpEntry,
  type UtmpEntryJSON,
  type UtmpRecord,
  UtmpsError,
  type UtmpsErrorCode,
  UtmpSession,
} from 'utmps-ts';
import { UtmpSession as SameSession } from 'utmps-ts/client';
import { decodeEntry } from 'utmps-ts/record';

// Errors: one base class, `code` a union of literals (a typo is a compile error).
function describe(error: unknown): string {
  if (error instanceof RecordError) return `bad field ${error.field}`;
  if (!(error instanceof UtmpsError)) return 'not ours';
  const code: UtmpsErrorCode = error.code;
  switch (code) {
    case 'EPERM':
    case 'EDQUOT':
      return `refused: ${error.reason}`;
    case 'ETIMEDOUT':
    case 'ABORT_ERR':
      return `gave up during ${error.op}`;
    default:
      return `${code} (${error.errno})`;
  }
}
// @ts-expect-error: not a code a UtmpsError can carry
const wrong: UtmpsErrorCode = 'EPERMM';

export async function terminalSession(pid: number, n: number, signal: AbortSignal): Promise<void> {
  const options: CallOptions = { signal, timeoutMs: 5000 };
  const input: LoginInput = { line: `web/${n}`, id: `w${n}`, user: 'alice', host: 'h.example', pid };
  await login(input, options);
  await logout(input.line!, options);
  await logwtmp(input.line!, '', '', { pid, ...options });
}

export async function who(): Promise<UtmpEntryJSON[]> {
  await using session = await UtmpSession.connect({ timeoutMs: 5000 });
  const records: UtmpRecord[] = await session.readAll();
  return records.filter((r) => r.entry.type === RecordType.USER_PROCESS).map((r) => r.toJSON());
}

export async function last(signal: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for await (const { record, live } of readWtmp({ newestFirst: true, limit: 10, signal })) {
    const entry: UtmpEntry = record.entry;
    const tvSec: bigint = entry.tvSec;
    out.push(`${live} ${entry.user} ${tvSec} ${JSON.stringify(entryToJSON(entry))}`);
  }
  return out;
}

export async function misc(): Promise<void> {
  const utmpx = createUtmpx({ utmpdPath: '/run/utmps/.utmpd-socket', timeoutMs: 1000 });
  const next: UtmpRecord | null = await utmpx.getutxent({ timeoutMs: 50 });
  const also: UtmpRecord | null = await getutxent();
  await appendWtmp({ type: 'BOOT_TIME', line: '~', id: '~~', user: 'reboot' });
  const same: typeof SameSession = UtmpSession;
  const entry: UtmpEntry = decodeEntry(Buffer.alloc(400));
  void [next, also, same, entry, wrong, describe];
}
