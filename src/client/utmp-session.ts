// A session with utmpd: one connection, one cursor (PROTOCOL.md section 3).

import { encodeRequest, Errno } from '../protocol/index.js';
import { FIELD_SIZE, RecordError, parseTypeName } from '../record/index.js';
import { Connection, withDeadline } from './connection.js';
import { statusError, type UtmpsOp, UtmpsError } from './errors.js';
import { utmpdSocketPath } from './paths.js';
import { type CallOptions, type ConnectOptions, fieldBytes, type RecordInput, recordBytes, type UtmpRecord, utmpRecord } from './types.js';

function typeNumber(type: number | string): number {
  const n = typeof type === 'number' ? type : parseTypeName(type);
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 0xffff) throw new RecordError('type', `unknown record type '${type}'`);
  return n;
}

/**
 * One connection to utmpd with its own cursor. An idle session does not keep the process
 * alive; close it (or `await using`) when done.
 */
export class UtmpSession implements AsyncDisposable, Disposable {
  readonly path: string;
  #conn: Connection;
  readonly #timeoutMs: number | undefined;
  // Whether the server knows our extension commands; undefined until a readAll finds out.
  #extensions: boolean | undefined;

  private constructor(conn: Connection, timeoutMs: number | undefined) {
    this.path = conn.path;
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects to utmpd. `signal` and `timeoutMs` bound the connect; `timeoutMs` also becomes
   * the default deadline of every later call (10 s when unset; 0: none).
   */
  static async connect(options: ConnectOptions = {}): Promise<UtmpSession> {
    const path = utmpdSocketPath(options.path);
    const conn = await Connection.open(path, { signal: options.signal, timeoutMs: options.timeoutMs });
    return new UtmpSession(conn, options.timeoutMs);
  }

  /** True after close() or a transport error; a closed session cannot be reused. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Whether the server answered the getall extension; undefined until readAll() tried. */
  get extensions(): boolean | undefined {
    return this.#extensions;
  }

  async rewind(options?: CallOptions): Promise<void> {
    await this.#status(encodeRequest.rewind(), 'rewind', options);
  }

  /** getutxent: the record at the cursor, or null at the end (ESRCH). */
  async next(options?: CallOptions): Promise<UtmpRecord | null> {
    return this.#read(encodeRequest.getent(), 'getent', options);
  }

  /** getutxid from the cursor on; the type as a number or a name ('USER_PROCESS'). */
  async findId(type: number | string, id: string | Uint8Array, options?: CallOptions): Promise<UtmpRecord | null> {
    return this.#read(encodeRequest.getid(typeNumber(type), fieldBytes('id', id, FIELD_SIZE.id)), 'getid', options);
  }

  /** getutxline from the cursor on (LOGIN_PROCESS and USER_PROCESS records). */
  async findLine(line: string | Uint8Array, options?: CallOptions): Promise<UtmpRecord | null> {
    return this.#read(encodeRequest.getline(fieldBytes('line', line, FIELD_SIZE.line)), 'getline', options);
  }

  /** pututxline: returns the record as written. Throws UtmpsError (EPERM...) on refusal. */
  async put(record: RecordInput, options?: CallOptions): Promise<UtmpRecord> {
    const bytes = recordBytes(record);
    await this.#status(encodeRequest.putline(bytes), 'putline', options);
    return utmpRecord(bytes);
  }

  /**
   * Every record, from a rewind to the end. Uses the getall extension ('A') in one request;
   * a server without it (the C daemon closes the connection on an unknown command) is
   * remembered, and the session reconnects and reads with getent instead.
   * One deadline covers the whole call.
   */
  async readAll(options?: CallOptions): Promise<UtmpRecord[]> {
    return withDeadline(this.#options(options), async (signal) => {
      const each: CallOptions = { signal, timeoutMs: 0 };
      await this.rewind(each);
      if (this.#extensions !== false) {
        try {
          const { records, status } = await this.#conn.requestRecords(encodeRequest.getall(), 'getall', each);
          this.#extensions = true;
          if (status !== Errno.ESRCH) throw statusError(status, 'getall', this.path);
          return records.map(utmpRecord);
        } catch (e) {
          const unanswered = e instanceof UtmpsError && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
          if (!unanswered || this.#extensions === true) throw e;
          this.#extensions = false;
          this.#conn.close();
          this.#conn = await Connection.open(this.path, each);
          await this.rewind(each);
        }
      }
      const out: UtmpRecord[] = [];
      for (let r = await this.next(each); r; r = await this.next(each)) out.push(r);
      return out;
    });
  }

  /** endutxent: closes the connection. Idempotent; later calls on the session fail with EPIPE. */
  close(): void {
    this.#conn.close();
  }

  /** `await using session = await UtmpSession.connect()` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /** `using` works too: closing needs no waiting. */
  [Symbol.dispose](): void {
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<UtmpRecord> {
    for (let r = await this.next(); r; r = await this.next()) yield r;
  }

  #options(options: CallOptions = {}): CallOptions {
    return { signal: options.signal, timeoutMs: options.timeoutMs ?? this.#timeoutMs };
  }

  async #status(bytes: Buffer, op: UtmpsOp, options?: CallOptions): Promise<void> {
    const answer = await this.#conn.request(bytes, 'status', op, this.#options(options));
    if (answer.status !== 0) throw statusError(answer.status, op, this.path);
  }

  async #read(bytes: Buffer, op: UtmpsOp, options?: CallOptions): Promise<UtmpRecord | null> {
    const answer = await this.#conn.request(bytes, 'record', op, this.#options(options));
    if (answer.status === Errno.ESRCH) return null;
    if (answer.status !== 0 || !answer.record) throw statusError(answer.status, op, this.path);
    return utmpRecord(answer.record);
  }
}
