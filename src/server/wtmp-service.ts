// The wtmp service: one append per connection (PROTOCOL.md section 4).

import { statusAnswer } from '../protocol/answer.js';
import { Errno, errnoName, errnoOf } from '../errno.js';
import type { Request } from '../protocol/request.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import type { Peer, Policy, UtmpView } from './policy.js';
import type { ReadGate } from './read-slots.js';
import type { HandlerResult, ServiceHandler } from './session.js';
import type { ServiceEvents } from './utmp-service.js';
import { DEFAULT_FOLLOW_TIMEOUT_MS, serveRead } from './wtmp-read.js';

export interface WtmpReadOptions {
  /** A follower sent nothing for this long is closed; 0: never. */
  followTimeoutMs: number;
  /** Counts this connection in as a follower; false when its uid has too many (utmpsd). */
  admitFollower?: () => boolean;
  /** Asked before each history read: utmpsd's per-uid cap, or the UCSPI daemon's low priority. */
  readGate?: ReadGate;
}

export class WtmpService implements ServiceHandler {
  readonly oneRequest = true;
  readonly service = 'wtmp' as const;

  constructor(
    private readonly file: WtmpFile,
    private readonly peer: Peer,
    private readonly policy: Policy,
    private readonly events: ServiceEvents,
    private readonly reads: WtmpReadOptions = { followTimeoutMs: DEFAULT_FOLLOW_TIMEOUT_MS },
    /** utmp, to check a non-root peer's DEAD_PROCESS; without it those are refused. */
    private readonly utmp?: UtmpView,
  ) {}

  async handle(request: Request, signal?: AbortSignal): Promise<HandlerResult> {
    if (request.op === 'read') {
      if (request.follow && this.reads.admitFollower && !this.reads.admitFollower()) {
        // Followers must not take the slots a uid's own appends need.
        return { answer: statusAnswer(Errno.EUSERS), end: { reason: 'refused', message: 'too many followers for this uid' } };
      }
      const filter = { query: request, onlyUser: this.policy.readableUser(this.peer) };
      const timeout = this.reads.followTimeoutMs;
      const gate = this.reads.readGate;
      const slot = gate ? (stop: AbortSignal) => gate.acquire(this.peer.uid, stop) : undefined;
      return { answer: Buffer.alloc(0), stream: (send, signals) => serveRead(this.file, filter, send, signals, timeout, slot) };
    }
    if (request.op !== 'append') return { answer: statusAnswer(Errno.EINVAL), end: { reason: 'done' } };
    let refusal;
    try {
      refusal = await this.policy.wtmpAppend(this.peer, request.record, this.utmp);
    } catch (e) {
      // The name service failed: we cannot tell who this is, so nothing is written.
      const message = `unable to verify ut_user identity: ${(e as Error).message}`;
      this.events.report('append failures', `append for uid ${this.peer.uid} failed: ${message}`);
      return { answer: statusAnswer(errnoOf(e)), end: { reason: 'error', message } };
    }
    if (refusal) {
      this.events.report('append refusals', `append refused for uid ${this.peer.uid}: ${refusal.reason}`);
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
      this.events.report('append failures', `append for uid ${this.peer.uid} failed: ${errnoName(errno)}: ${message}`);
      return { answer: statusAnswer(errno), end: { reason: 'error', message } };
    }
  }
}
