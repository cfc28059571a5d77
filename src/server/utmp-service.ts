// The utmp service: one handler per command over a UtmpFile, a cursor per session
// (PROTOCOL.md section 3).

import { recordAnswer, recordsAnswer, statusAnswer } from '../protocol/answer.js';
import { Errno, errnoName, errnoOf } from '../errno.js';
import type { Request } from '../protocol/request.js';
import { newCursor } from '../store/utmp-file.js';
import type { UtmpFile } from '../store/utmp-file.js';
import type { Peer, Policy } from './policy.js';
import type { ReadGate } from './read-slots.js';
import type { HandlerResult, ServiceHandler } from './session.js';

export interface ServiceEvents {
  /**
   * A refused or failed request, never with record contents. `reason` is the kind, in the
   * plural ("putline refusals"): the log summarises a non-root peer's events per kind.
   */
  report(reason: string, message: string): void;
  /** A putline is on disk (utmpsd's reaper watches the entry's process). */
  written?(record: Buffer): void;
}

export class UtmpService implements ServiceHandler {
  readonly oneRequest = false;
  readonly service = 'utmp' as const;
  private readonly cursor = newCursor();

  constructor(
    private readonly file: UtmpFile,
    private readonly peer: Peer,
    private readonly policy: Policy,
    private readonly events: ServiceEvents,
    /**
     * Asked before a getall: a whole-file answer costs CPU and memory in proportion to
     * utmp, so utmpsd lets each non-root uid have only a few at once (read-slots.ts).
     */
    private readonly readGate?: ReadGate,
  ) {}

  handle(request: Request, signal?: AbortSignal): Promise<HandlerResult> | HandlerResult {
    // The common step of a listing, served from the read-ahead: no promise at all.
    if (request.op === 'getent') {
      let next: Buffer | null | Promise<Buffer | null>;
      try {
        next = this.file.getent(this.cursor, signal);
      } catch (e) {
        return this.failed(request, e, signal);
      }
      if (!(next instanceof Promise)) return { answer: found(next) };
      return next.then(
        (record) => ({ answer: found(record) }),
        (e: unknown) => this.failed(request, e, signal),
      );
    }
    return this.handleAsync(request, signal);
  }

  private async handleAsync(request: Request, signal?: AbortSignal): Promise<HandlerResult> {
    try {
      if (request.op === 'getall' && this.readGate) return await this.gatedGetall(signal);
      return { answer: await this.dispatch(request, signal) };
    } catch (e) {
      return this.failed(request, e, signal);
    }
  }

  private failed(request: Request, e: unknown, signal?: AbortSignal): HandlerResult {
    // The client is gone and its request was dropped unserved: nobody to answer or report.
    if (signal?.aborted) return { answer: Buffer.alloc(0) };
    const errno = errnoOf(e);
    this.events.report(
      `${request.op} failures (${errnoName(errno)})`,
      `${request.op} for uid ${this.peer.uid} failed: ${errnoName(errno)}: ${(e as Error).message}`,
    );
    return { answer: statusAnswer(errno) };
  }

  /** A getall holding one of the peer's read slots until its answer has left. */
  private async gatedGetall(signal: AbortSignal | undefined): Promise<HandlerResult> {
    const release = await this.readGate!.acquire(this.peer.uid, signal ?? new AbortController().signal);
    try {
      return { answer: recordsAnswer(await this.file.getall(this.cursor, signal)), release };
    } catch (e) {
      release();
      throw e;
    }
  }

  private async dispatch(request: Request, signal?: AbortSignal): Promise<Buffer> {
    switch (request.op) {
      case 'rewind':
        this.cursor.index = 0;
        this.cursor.ahead = null;
        return statusAnswer(Errno.OK);
      case 'getent':
        return found(await this.file.getent(this.cursor, signal));
      case 'getid':
        return found(await this.file.getid(this.cursor, request.type, request.id, signal));
      case 'getline':
        return found(await this.file.getline(this.cursor, request.line, signal));
      case 'getall':
        return recordsAnswer(await this.file.getall(this.cursor, signal));
      case 'putline': {
        const refusal = this.policy.utmpWrite(this.peer);
        if (refusal) {
          this.events.report('putline refusals', `putline refused: ${refusal.reason}`);
          return statusAnswer(refusal.errno);
        }
        await this.file.putline(this.cursor, request.record, signal);
        this.events.written?.(request.record);
        return statusAnswer(Errno.OK);
      }
      default:
        // The parser only yields utmp commands here.
        return statusAnswer(Errno.EINVAL);
    }
  }
}

function found(record: Buffer | null): Buffer {
  return record ? recordAnswer(record) : statusAnswer(Errno.ESRCH);
}
