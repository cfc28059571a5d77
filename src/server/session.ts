// One client connection's state machine, shared by every transport (stdin/stdout under a
// superserver, an accepted socket in utmpsd, a fake stream in tests). Bytes go in through
// push()/eof(); answers come out through the transport, one write per answer.

import { type Request, RequestParser } from '../protocol/request.js';
import type { Service } from '../protocol/commands.js';

export interface Transport {
  /**
   * Sends one answer in one write. 'sent' when the bytes left at once (the usual case);
   * otherwise a promise that resolves once they have.
   */
  write(data: Buffer): Promise<void> | 'sent';
  /** Closes the connection (both directions). */
  close(): void;
  /** Optional flow control for clients that pipeline faster than we answer. */
  pause?(): void;
  resume?(): void;
  /** True once the client has closed both directions (not just shut down its writing side). */
  hungUp?(): boolean;
}

export type SessionEnd =
  | { reason: 'eof' } // the client closed between requests
  | { reason: 'done' } // the service ends the session after an answer (wtmp)
  | { reason: 'refused'; message: string } // answered, then closed on purpose
  | { reason: 'protocol'; message: string } // unknown command byte: no answer
  | { reason: 'truncated'; message: string } // EOF in the middle of a request
  | { reason: 'timeout'; message: string }
  | { reason: 'shutdown' } // the server is stopping; no request was cut short
  | { reason: 'hangup' } // the client closed both directions before its answer: nothing to answer
  | { reason: 'error'; message: string }; // transport failure or a bug

export interface StreamSignals {
  stop: AbortSignal;
  eof: AbortSignal;
}

/** Sends one chunk of answers; false once the session has ended. */
export type Send = (data: Buffer) => Promise<boolean>;

export interface HandlerResult {
  answer: Buffer;
  /** End the session once the answer is sent. */
  end?: SessionEnd;
  /**
   * A stream of answers after the first (the wtmp read extension): runs until it returns
   * how the session ends. `stop` says the session is over (server shutdown, transport
   * error); `eof` says the client has closed its side, which ends a follower but must not
   * cut short an answer already asked for.
   */
  stream?: (send: Send, signals: StreamSignals) => Promise<SessionEnd>;
}

export interface ServiceHandler {
  readonly service: Service;
  /** One request per connection: its deadline runs from the connect, not the first byte. */
  readonly oneRequest: boolean;
  /** signal aborts when the session ends (the client hung up): drop what still waits. */
  handle(request: Request, signal: AbortSignal): Promise<HandlerResult>;
}

export interface SessionTimeouts {
  /** From a request's first byte to its last (C utmps: 30 s). */
  bodyMs: number;
  /** For an answer to leave (C utmps: 30 s). */
  answerMs: number;
  /** Between requests; 0 waits forever, as C utmps does. */
  idleMs: number;
}

export const DEFAULT_TIMEOUTS: SessionTimeouts = { bodyMs: 30_000, answerMs: 30_000, idleMs: 0 };

/** Past this many unread request bytes, stop reading until the backlog drains. */
const BACKLOG_LIMIT = 64 * 1024;
/** After an EOF, how often to look whether the client is gone altogether. */
const HANGUP_POLL_MS = 100;

export class Session {
  private readonly parser: RequestParser;
  private busy = false;
  private sawEof = false;
  private draining = false;
  private paused = false;
  private ended: SessionEnd | null = null;
  private timer: NodeJS.Timeout | null = null;
  private timerPhase: 'body' | 'idle' | null = null;
  /** Aborted when a stream must stop: shutdown, or the end of the session. */
  private readonly streaming = new AbortController();
  /** Aborted when the client closes its side. */
  private readonly clientEof = new AbortController();
  /** Aborted when the session ends, whatever the reason: work still queued for it is dropped. */
  private readonly gone = new AbortController();
  private hangupTimer: NodeJS.Timeout | null = null;
  /** While a stream runs, the request is over: input is read (to notice a close) and dropped. */
  private streamActive = false;

  constructor(
    private readonly handler: ServiceHandler,
    private readonly transport: Transport,
    private readonly timeouts: SessionTimeouts,
    private readonly onEnd: (end: SessionEnd) => void,
  ) {
    this.parser = new RequestParser(handler.service);
    this.arm();
  }

  get isEnded(): boolean {
    return this.ended !== null;
  }

  push(chunk: Uint8Array): void {
    if (this.ended || this.streamActive) return;
    this.parser.push(chunk);
    if (!this.paused && this.parser.buffered > BACKLOG_LIMIT && this.transport.pause) {
      this.paused = true;
      this.transport.pause();
    }
    void this.pump();
  }

  eof(): void {
    if (this.ended) return;
    this.sawEof = true;
    this.clientEof.abort();
    this.watchHangup();
    void this.pump();
  }

  /**
   * EOF alone may be a half-close by a client still waiting for its answer. While a
   * request is in hand, look whether the client left altogether; if so, end the session,
   * so that its queued work is dropped instead of waiting for a lock for nobody.
   */
  private watchHangup(): void {
    const hungUp = this.transport.hungUp?.bind(this.transport);
    if (!hungUp || this.hangupTimer) return;
    const check = (): void => {
      let gone: boolean;
      try {
        gone = hungUp();
      } catch {
        gone = false;
      }
      if (gone && this.busy) this.finish({ reason: 'hangup' });
    };
    check();
    if (!this.ended) this.hangupTimer = setInterval(check, HANGUP_POLL_MS);
  }

  /** Ends the session once the request being served (if any) is answered. */
  drain(): void {
    this.draining = true;
    this.streaming.abort();
    if (!this.busy) this.finish({ reason: 'shutdown' });
  }

  /** Ends the session from outside (transport error). */
  abort(end: SessionEnd): void {
    this.finish(end);
  }

  private async pump(): Promise<void> {
    if (this.busy || this.ended) return;
    this.busy = true;
    try {
      for (;;) {
        let request: Request | null;
        try {
          request = this.parser.next();
        } catch (e) {
          this.finish({ reason: 'protocol', message: (e as Error).message });
          return;
        }
        if (!request) break;
        this.disarm();
        const result = await this.handler.handle(request, this.gone.signal);
        if (this.ended) return;
        if (result.answer.length > 0 && !(await this.send(result.answer))) return;
        if (result.stream) {
          this.streamActive = true;
          if (this.paused) {
            this.paused = false;
            this.transport.resume?.();
          }
          const signals = { stop: this.streaming.signal, eof: this.clientEof.signal };
          const end = await result.stream((data) => this.send(data), signals);
          this.finish(this.draining ? { reason: 'shutdown' } : end);
          return;
        }
        if (result.end || this.draining) {
          this.finish(result.end ?? { reason: 'shutdown' });
          return;
        }
        if (this.paused && this.parser.buffered <= BACKLOG_LIMIT / 2) {
          this.paused = false;
          this.transport.resume?.();
        }
      }
      if (this.sawEof) {
        const n = this.parser.buffered;
        this.finish(n === 0 ? { reason: 'eof' } : { reason: 'truncated', message: `connection closed after ${n} bytes of a request` });
        return;
      }
      this.arm();
    } catch (e) {
      this.finish({ reason: 'error', message: (e as Error).message });
    } finally {
      this.busy = false;
    }
  }

  private async send(answer: Buffer): Promise<boolean> {
    let pending: Promise<void> | 'sent';
    try {
      pending = this.transport.write(answer);
    } catch (e) {
      this.finish({ reason: 'error', message: `unable to write answer: ${(e as Error).message}` });
      return false;
    }
    // Only a client that is not reading makes us wait; only then is a timer worth it.
    if (pending === 'sent') return true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeouts.answerMs);
    });
    try {
      const outcome = await Promise.race([pending.then(() => 'sent' as const), deadline]);
      if (outcome === 'timeout') {
        this.finish({ reason: 'timeout', message: `the client did not take its answer within ${this.timeouts.answerMs} ms` });
        return false;
      }
      return true;
    } catch (e) {
      this.finish({ reason: 'error', message: `unable to write answer: ${(e as Error).message}` });
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts the body deadline for a partial request, or the idle deadline between requests. */
  private arm(): void {
    const inRequest = this.parser.buffered > 0 || this.handler.oneRequest;
    const phase = inRequest ? 'body' : this.timeouts.idleMs > 0 ? 'idle' : null;
    if (phase === this.timerPhase) return;
    this.disarm();
    if (!phase) return;
    const ms = phase === 'body' ? this.timeouts.bodyMs : this.timeouts.idleMs;
    this.timerPhase = phase;
    this.timer = setTimeout(() => {
      const message =
        phase === 'body'
          ? `request incomplete after ${ms} ms (${this.parser.buffered} bytes received)`
          : `idle for ${ms} ms`;
      this.finish({ reason: 'timeout', message });
    }, ms);
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerPhase = null;
  }

  private finish(end: SessionEnd): void {
    if (this.ended) return;
    this.ended = end;
    this.streaming.abort();
    this.gone.abort();
    if (this.hangupTimer) clearInterval(this.hangupTimer);
    this.disarm();
    this.transport.close();
    this.onEnd(end);
  }
}
