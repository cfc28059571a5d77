// One Unix stream connection to a utmps daemon. Requests go out in one write; answers are
// read with the pure AnswerReader however the bytes arrive. Every step is bounded by a
// deadline and/or the caller's AbortSignal. After any transport failure the connection is
// dead: the socket is destroyed and every later request fails with EPIPE.
//
// End of stream while an answer is awaited: ECONNRESET if no byte of it arrived (the C
// daemons close without answering on a command they do not know), EPROTO if part of it did
// (a short answer).

import { createConnection, type Socket } from 'node:net';
import { type Answer, AnswerReader } from '../protocol/index.js';
import { abortError, deadlineReason, systemError, type UtmpsOp, UtmpsError } from './errors.js';
import type { CallOptions } from './types.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * One operation's deadline as an AbortSignal. Not AbortSignal.timeout(): its timer cannot be
 * cleared, and a finished request must leave no timer or listener behind.
 */
export class Deadline {
  readonly #controller = new AbortController();
  readonly #outer: AbortSignal | undefined;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #onOuterAbort = (): void => this.#controller.abort(this.#outer?.reason);

  constructor(options: CallOptions = {}) {
    const ms = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(ms >= 0)) throw new RangeError(`timeoutMs must be >= 0, got ${ms}`);
    this.#outer = options.signal;
    if (this.#outer?.aborted) this.#onOuterAbort();
    else this.#outer?.addEventListener('abort', this.#onOuterAbort, { once: true });
    // 0 means no deadline, as for skarnet's tools.
    if (ms > 0 && Number.isFinite(ms) && !this.signal.aborted) {
      this.#timer = setTimeout(() => this.#controller.abort(deadlineReason(ms)), ms);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener('abort', this.#onOuterAbort);
  }
}

/** Runs fn under a fresh deadline and always disposes of it. */
export async function withDeadline<T>(options: CallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new Deadline(options);
  try {
    return await fn(deadline.signal);
  } finally {
    deadline.dispose();
  }
}

/** Consumes buffered answer bytes; returns undefined until the whole answer is there. */
type Collect<T> = (reader: AnswerReader) => T | undefined;

interface Pending {
  op: UtmpsOp;
  received: number;
  collect: Collect<unknown>;
  resolve(value: unknown): void;
  reject(error: UtmpsError): void;
}

export interface RecordsAnswer {
  records: Buffer[];
  /** The status that closed the list: ESRCH at the end, or another errno. */
  status: number;
}

function connectSocket(path: string, op: UtmpsOp, signal: AbortSignal, adopt: (socket: Socket) => Connection): Promise<Connection> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError(signal.reason, op, path));
    const socket = createConnection({ path });
    const finish = (error?: UtmpsError): void => {
      socket.off('connect', onConnect).off('error', onError);
      signal.removeEventListener('abort', onAbort);
      // Adopted at once, so the connection's own 'error' handler is in place before any error.
      if (error === undefined) return resolve(adopt(socket));
      socket.destroy();
      reject(error);
    };
    const onConnect = (): void => finish();
    const onError = (e: Error): void => finish(systemError(e, op, path));
    const onAbort = (): void => finish(abortError(signal.reason, op, path));
    socket.once('connect', onConnect).once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class Connection {
  readonly path: string;
  readonly #socket: Socket;
  readonly #reader = new AnswerReader();
  #pending: Pending | undefined;
  #dead: UtmpsError | undefined;
  #fault: Error | undefined;
  // Requests queue up: the protocol has one answer in flight per connection.
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(path: string, socket: Socket) {
    this.path = path;
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (e: Error) => {
      this.#fault ??= e;
    });
    socket.on('close', () => this.#onClose());
    // Idle, the connection must not keep the process alive: no answer can come unasked,
    // so a program with nothing else to do may exit (and the kernel closes the socket).
    socket.unref();
  }

  static async open(path: string, options: CallOptions & { op?: UtmpsOp } = {}): Promise<Connection> {
    return withDeadline(options, (signal) => connectSocket(path, options.op ?? 'connect', signal, (socket) => new Connection(path, socket)));
  }

  get closed(): boolean {
    return this.#dead !== undefined;
  }

  /** One request, one answer: a bare status ('status'), or a status then a record iff 0 ('record'). */
  request(bytes: Uint8Array, shape: 'status' | 'record', op: UtmpsOp, options: CallOptions = {}): Promise<Answer> {
    const withRecord = shape === 'record';
    return this.#exchange(bytes, op, options, (reader) => reader.next(withRecord) ?? undefined);
  }

  /** One request answered by records (status 0 + record each) until a non-zero status. */
  requestRecords(bytes: Uint8Array, op: UtmpsOp, options: CallOptions = {}): Promise<RecordsAnswer> {
    const records: Buffer[] = [];
    return this.#exchange(bytes, op, options, (reader) => {
      for (let answer = reader.next(true); answer; answer = reader.next(true)) {
        if (answer.status !== 0) return { records, status: answer.status };
        if (answer.record) records.push(answer.record);
      }
      return undefined;
    });
  }

  close(): void {
    this.#kill(new UtmpsError('EPIPE', 'close', this.path, { reason: 'connection closed by the client' }));
  }

  #exchange<T>(bytes: Uint8Array, op: UtmpsOp, options: CallOptions, collect: Collect<T>): Promise<T> {
    const deadline = new Deadline(options); // started now: time spent queued counts
    const run = (): Promise<T> => this.#run(bytes, op, deadline.signal, collect);
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => undefined);
    return result.finally(() => deadline.dispose());
  }

  #run<T>(bytes: Uint8Array, op: UtmpsOp, signal: AbortSignal, collect: Collect<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#dead) {
        return reject(new UtmpsError('EPIPE', op, this.path, { reason: 'connection is closed', cause: this.#dead }));
      }
      // Nothing sent yet, so the connection stays usable.
      if (signal.aborted) return reject(abortError(signal.reason, op, this.path));
      const onAbort = (): void => this.#kill(abortError(signal.reason, op, this.path));
      const settle = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.#pending = undefined;
        this.#socket.unref();
      };
      this.#pending = {
        op,
        received: 0,
        collect,
        resolve: (value) => {
          settle();
          resolve(value as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#socket.ref();
      this.#socket.write(bytes);
    });
  }

  #onData(chunk: Buffer): void {
    const pending = this.#pending;
    if (!pending) {
      this.#kill(new UtmpsError('EPROTO', 'read', this.path, { reason: 'bytes from the server with no request pending' }));
      return;
    }
    pending.received += chunk.length;
    this.#reader.push(chunk);
    const result = pending.collect(this.#reader);
    if (result === undefined) return;
    pending.resolve(result);
    if (this.#reader.buffered > 0) {
      this.#kill(new UtmpsError('EPROTO', pending.op, this.path, { reason: 'bytes after the answer' }));
    }
  }

  #onClose(): void {
    const pending = this.#pending;
    const op = pending?.op ?? 'read';
    let error: UtmpsError;
    if (this.#fault) error = systemError(this.#fault, op, this.path);
    else if (pending && pending.received > 0) error = new UtmpsError('EPROTO', op, this.path, { reason: 'short answer: the server closed the connection' });
    else error = new UtmpsError('ECONNRESET', op, this.path, { reason: 'the server closed the connection without answering' });
    this.#dead ??= error;
    pending?.reject(error);
  }

  /** Marks the connection dead, fails the request in flight and destroys the socket. */
  #kill(error: UtmpsError): void {
    this.#dead ??= error;
    this.#pending?.reject(error);
    this.#socket.destroy();
  }
}
