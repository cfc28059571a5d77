// Reading wtmp through the wtmpd socket with the read extension
// (docs/PROTOCOL-EXTENSIONS.md): history with filters, then optionally live records.
// A C utmps wtmpd closes the connection on the unknown command: that is ENOSYS here.

import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { AnswerReader } from '../protocol/answer.js';
import { Errno } from '../errno.js';
import { encodeRequest } from '../protocol/request.js';
import { FIELD_SIZE } from '../record/layout.js';
import { DEFAULT_TIMEOUT_MS, withDeadline } from './connection.js';
import { abortError, statusError, systemError, UtmpsError } from './errors.js';
import { wtmpdSocketPath } from './paths.js';
import { type ConnectOptions, fieldBytes, type UtmpRecord, utmpRecord } from './types.js';

export interface WtmpReadOptions extends ConnectOptions {
  /** History newest first (default oldest first). */
  newestFirst?: boolean;
  /** After the history, keep yielding records as they are appended, until the signal aborts. */
  follow?: boolean;
  /** No history: only records appended from now on (implies follow). */
  liveOnly?: boolean;
  /** At most this many history records. */
  limit?: number;
  /** Only records with since <= tv_sec <= until (seconds). */
  since?: bigint | number;
  until?: bigint | number;
  user?: string;
  line?: string;
}

export interface WtmpReadItem {
  record: UtmpRecord;
  /** False for history, true for records appended while following. */
  live: boolean;
}

function connect(path: string, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal.reason, 'read', path));
    const socket = createConnection({ path });
    const onAbort = (): void => {
      socket.destroy();
      reject(abortError(signal.reason, 'read', path));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(systemError(e, 'read', path));
    });
  });
}

function historyTimeout(ms: number, path: string): UtmpsError {
  return new UtmpsError('ETIMEDOUT', 'read', path, { reason: `the deadline of ${ms} ms passed before the history was read` });
}

/** Yields wtmp records from the server; timeoutMs bounds the connect and the history. */
export async function* readWtmp(options: WtmpReadOptions = {}): AsyncGenerator<WtmpReadItem> {
  for await (const batch of readWtmpBatches(options)) {
    for (const record of batch.records) yield { record: utmpRecord(record), live: batch.live };
  }
}

/** Records as the socket delivers them: the 400-byte records of the answers one read completed. */
export interface WtmpReadBatch {
  records: Buffer[];
  live: boolean;
}

/**
 * readWtmp in batches, one per socket read, for readers of whole histories (lastlog,
 * lastb): one step of the async iteration per batch rather than per record.
 */
export async function* readWtmpBatches(options: WtmpReadOptions = {}): AsyncGenerator<WtmpReadBatch> {
  const path = wtmpdSocketPath(options.path);
  const follow = options.follow === true || options.liveOnly === true;
  const request = encodeRequest.read({
    newestFirst: options.newestFirst,
    follow,
    liveOnly: options.liveOnly,
    limit: options.limit ?? 0,
    since: options.since === undefined ? null : BigInt(options.since),
    until: options.until === undefined ? null : BigInt(options.until),
    user: options.user === undefined ? undefined : fieldBytes('user', options.user, FIELD_SIZE.user),
    line: options.line === undefined ? undefined : fieldBytes('line', options.line, FIELD_SIZE.line),
  });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const socket = await withDeadline(options, (signal) => connect(path, signal));
  const stop = (): void => {
    socket.destroy();
  };
  options.signal?.addEventListener('abort', stop, { once: true });
  let timedOut = false;
  const historyTimer =
    timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, timeoutMs)
      : undefined;
  const reader = new AnswerReader();
  let live = false;
  let received = 0;
  try {
    socket.write(request);
    const chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    for (;;) {
      let records: Buffer[] = [];
      for (let answer = reader.next(true); answer; answer = reader.next(true)) {
        if (answer.status === 0 && answer.record) {
          records.push(answer.record);
        } else if (answer.status === Errno.ESRCH && !live) {
          if (records.length > 0) yield { records, live };
          records = [];
          if (!follow) return;
          live = true;
          clearTimeout(historyTimer);
        } else {
          if (records.length > 0) yield { records, live };
          throw statusError(answer.status, 'read', path);
        }
      }
      if (records.length > 0) yield { records, live };
      let step: IteratorResult<Buffer>;
      try {
        step = await chunks.next();
      } catch (e) {
        if (options.signal?.aborted) throw abortError(options.signal?.reason, 'read', path);
        if (timedOut) throw historyTimeout(timeoutMs, path);
        throw systemError(e, 'read', path);
      }
      if (step.done) {
        if (options.signal?.aborted) throw abortError(options.signal?.reason, 'read', path);
        if (timedOut) throw historyTimeout(timeoutMs, path);
        if (received === 0) {
          throw new UtmpsError('ENOSYS', 'read', path, { reason: 'the wtmp server does not support reading (a C utmps wtmpd?)' });
        }
        throw new UtmpsError('ECONNRESET', 'read', path, { reason: 'the server closed the stream' });
      }
      received += step.value.length;
      reader.push(step.value);
    }
  } finally {
    clearTimeout(historyTimer);
    options.signal?.removeEventListener('abort', stop);
    socket.destroy();
    if (!socket.closed) await once(socket, 'close').catch(() => undefined);
  }
}
