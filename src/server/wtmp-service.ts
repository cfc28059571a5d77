// The wtmp service: one append per connection (PROTOCOL.md section 4).

import { statusAnswer } from '../protocol/answer.js';
import { Errno, errnoName, errnoOf } from '../protocol/errno.js';
import type { Request } from '../protocol/request.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import type { Peer, Policy } from './policy.js';
import type { ReadGate } from './read-slots.js';
import type { HandlerResult, ServiceHandler } from './session.js';
import type { ServiceEvents } from './utmp-service.js';
import { serveRead } from './wtmp-read.js';

export class WtmpService implements ServiceHandler {
  readonly oneRequest = true;
  readonly service = 'wtmp' as const;

  constructor(
    private readonly file: WtmpFile,
    private readonly peer: Peer,
    private readonly policy: Policy,
    private readonly events: ServiceEvents,
    /** Asked before each history read: utmpsd's per-uid cap, or the UCSPI daemon's low priority. */
    private readonly readGate?: ReadGate,
  ) {}

  async handle(request: Request, signal?: AbortSignal): Promise<HandlerResult> {
    if (request.op === 'read') {
      const filter = { query: request, onlyUser: this.policy.readableUser(this.peer) };
      const gate = this.readGate;
      const slot = gate ? (stop: AbortSignal) => gate.acquire(this.peer.uid, stop) : undefined;
      return { answer: Buffer.alloc(0), stream: (send, signals) => serveRead(this.file, filter, send, signals, slot) };
    }
    if (request.op !== 'append') return { answer: statusAnswer(Errno.EINVAL), end: { reason: 'done' } };
    let refusal;
    try {
      refusal = await this.policy.wtmpAppend(this.peer, request.record);
    } catch (e) {
      // The name service failed: we cannot tell who this is, so nothing is written.
      const message = `unable to verify ut_user identity: ${(e as Error).message}`;
      this.events.report(`append for uid ${this.peer.uid} failed: ${message}`);
      return { answer: statusAnswer(errnoOf(e)), end: { reason: 'error', message } };
    }
    if (refusal) {
      if (!refusal.quiet) this.events.report(`append refused for uid ${this.peer.uid}: ${refusal.reason}`);
      return { answer: statusAnswer(refusal.errno), end: { reason: 'refused', message: refusal.reason } };
    }
    try {
      await this.file.append(request.record, signal);
      return { answer: statusAnswer(Errno.OK), end: { reason: 'done' } };
    } catch (e) {
      // The client hung up while its append waited for the lock: it was dropped unwritten.
      if (signal?.aborted) return { answer: Buffer.alloc(0), end: { reason: 'hangup' } };
      const errno = errnoOf(e);
      const message = `unable to append to wtmp: ${(e as Error).message}`;
      this.events.report(`append for uid ${this.peer.uid} failed: ${errnoName(errno)}: ${message}`);
      return { answer: statusAnswer(errno), end: { reason: 'error', message } };
    }
  }
}
