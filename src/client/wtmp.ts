// updwtmpx through wtmpd: one connection per record (PROTOCOL.md section 4).

import { encodeRequest } from '../protocol/index.js';
import { Connection, withDeadline } from './connection.js';
import { statusError } from './errors.js';
import { wtmpdSocketPath } from './paths.js';
import { type ConnectOptions, type RecordInput, recordBytes } from './types.js';

/**
 * Appends one record to wtmp. One deadline covers connect, request and answer; every
 * failure, the connect included, is a UtmpsError with op 'append'.
 */
export async function appendWtmp(record: RecordInput, options: ConnectOptions = {}): Promise<void> {
  const bytes = recordBytes(record); // refuse a bad record before connecting
  const path = wtmpdSocketPath(options.path);
  await withDeadline(options, async (signal) => {
    const each = { signal, timeoutMs: 0 };
    const conn = await Connection.open(path, { ...each, op: 'append' });
    try {
      const answer = await conn.request(encodeRequest.append(bytes), 'status', 'append', each);
      if (answer.status !== 0) throw statusError(answer.status, 'append', path);
    } finally {
      conn.close();
    }
  });
}
