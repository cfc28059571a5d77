// One client connection's state machine, shared by every transport (stdin/stdout under a
// superserver, an accepted socket in utmpsd, a fake stream in tests). Bytes go in through
// push()/eof(); answers come out through the transport. An answer is never split across
// writes, and answers are merged into one write only when the client had already sent
// the next request (libutmps waits for each answer and reads it with one recv()).

import { type Request, RequestParser } from '../protocol/request.js';
import type { Service } from '../protocol/commands.js';

export interface Transport {
  /**
   * Queues bytes in one write; resolves once they (and everything queued before) have
   * been handed to the kernel.
   */
  write(data: Buffer): Promise<void>;
  /** Bytes queued in this process and not yet handed to the kernel. */
  unsent(): number;
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
  /**
   * Called once the answer has left for the client, or the session has ended: what the
   * answer held (a per-uid read slot, read-slots.ts) is free only then, so a client that
   * does not read keeps its own slot and no one else's.
   */
  release?: () => void;
}

export interface ServiceHandler {
  readonly service: Service;
  /** One request per connection: its deadline runs from the connect, not the first byte. */
  readonly oneRequest: boolean;
  /**
   * signal aborts when the session ends (the client hung up): drop what still waits. A
   * result known at once may come back as it is (a getent served from the read-ahead).
   */
  handle(request: Request, signal: AbortSignal): Promise<HandlerResult> | HandlerResult;
}

/** Each deadline in milliseconds; 0 means none, as in skarnet's tools. */
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
/**
 * Past this many bytes of answers the client has not taken (queued here and not yet in the
 * kernel), stop reading its requests until they are gone. A session never holds more than
 * this plus one answer (SECURITY.md: bounded buffering).
 */
export const UNSENT_CAP = 4096;
/** After an EOF, how often to look whether the client is gone altogether. */
const HANGUP_POLL_MS = 100;

export class Session {
  private readonly parser: RequestParser;
  private busy = false;
  private sawEof = false;
  private draining = false;
  private paused = false;
  /** Input held back: too many unread requests, or too many untaken answers. */
  private holdBacklog = false;
  private holdAnswers = false;
  /** Answers to requests already pipelined, waiting to go out in one write. */
  private batch: Buffer[] = [];
  private batchBytes = 0;
  /** Releases of the batched answers (HandlerResult.release), run once they have left. */
  private releases: (() => void)[] = [];
  /** Releases of answers being sent; the session's end runs them at once. */
  private sending: (() => void)[] = [];
  private peak = 0;
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

  /** The most answer bytes this session has held at once (batched plus unsent). */
  get peakBuffered(): number {
    return this.peak;
  }

  push(chunk: Uint8Array): void {
    if (this.ended || this.streamActive) return;
    this.parser.push(chunk);
    if (this.parser.buffered > BACKLOG_LIMIT) this.hold('backlog', true);
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
          // The answers to the requests before it are owed.
          if (await this.flush()) this.finish({ reason: 'protocol', message: (e as Error).message });
          return;
        }
        if (!request) break;
        this.disarm();
        // A result known at once costs no promise hop (the request path's floor, BENCHMARKS.md).
        const pending = this.handler.handle(request, this.gone.signal);
        const result = pending instanceof Promise ? await pending : pending;
        if (this.ended) return;
        if (result.release) this.releases.push(result.release);
        if (result.answer.length > 0) {
          this.batch.push(result.answer);
          this.batchBytes += result.answer.length;
          this.note(this.batchBytes + this.transport.unsent());
        }
        // Hold the answer back only while the client has already sent its next request
        // (it did not wait for this answer), and only up to the cap.
        // An answer that holds something (a read slot) goes at once, so that the session
        // never waits for a slot that its own batched answers hold.
        const more = !result.stream && !result.end && !result.release && !this.draining && this.requestWaiting();
        if (!more || this.batchBytes + this.transport.unsent() >= UNSENT_CAP) {
          const sent = this.flush();
          if (!(sent instanceof Promise ? await sent : sent)) return;
        }
        if (result.stream) {
          this.streamActive = true;
          this.hold('backlog', false);
          this.hold('answers', false);
          const signals = { stop: this.streaming.signal, eof: this.clientEof.signal };
          const end = await result.stream((data) => Promise.resolve(this.send(data)), signals);
          this.finish(this.draining ? { reason: 'shutdown' } : end);
          return;
        }
        if (result.end || this.draining) {
          this.finish(result.end ?? { reason: 'shutdown' });
          return;
        }
        if (this.parser.buffered <= BACKLOG_LIMIT / 2) this.hold('backlog', false);
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

  /** A whole request is already here: the client did not wait for the answer before it. */
  private requestWaiting(): boolean {
    const spec = this.parser.peekCommand();
    return spec !== undefined && this.parser.buffered >= 1 + spec.body;
  }

  private note(buffered: number): void {
    if (buffered > this.peak) this.peak = buffered;
  }

  private hold(why: 'backlog' | 'answers', on: boolean): void {
    if (why === 'backlog') this.holdBacklog = on;
    else this.holdAnswers = on;
    const want = this.holdBacklog || this.holdAnswers;
    if (want === this.paused || !this.transport.pause) return;
    this.paused = want;
    if (want) this.transport.pause();
    else this.transport.resume?.();
  }

  /** Sends the batched answers, then runs their releases; no promise when the kernel takes them at once. */
  private flush(): boolean | Promise<boolean> {
    this.sending = this.releases;
    this.releases = [];
    let sent: boolean | Promise<boolean> = true;
    try {
      if (this.batchBytes > 0) {
        const data = this.batch.length === 1 ? this.batch[0] : Buffer.concat(this.batch, this.batchBytes);
        this.batch = [];
        this.batchBytes = 0;
        sent = this.send(data);
      }
    } catch (e) {
      this.runReleases();
      throw e;
    }
    if (sent instanceof Promise) return sent.finally(() => this.runReleases());
    this.runReleases();
    return sent;
  }

  private runReleases(): void {
    if (this.sending.length === 0 && this.releases.length === 0) return;
    const all = [...this.sending, ...this.releases];
    this.sending = [];
    this.releases = [];
    for (const release of all) release();
  }

  /** Hands data to the transport: true at once when the kernel took it, else once it has left. */
  private send(data: Buffer): boolean | Promise<boolean> {
    let flushed: Promise<void>;
    try {
      flushed = this.transport.write(data);
    } catch (e) {
      this.finish({ reason: 'error', message: `unable to write answer: ${(e as Error).message}` });
      return false;
    }
    const unsent = this.transport.unsent();
    this.note(unsent);
    if (unsent <= UNSENT_CAP) {
      // The usual case: nothing to wait for. A failed write ends the session through the
      // transport's error event.
      flushed.catch(() => undefined);
      return true;
    }
    return this.awaitSent(flushed);
  }

  /** The answer was not all taken at once: wait for it to leave, the answer deadline or the end. */
  private async awaitSent(flushed: Promise<void>): Promise<boolean> {
    // The client is not taking its answers: read no more of its requests until it has,
    // and drop it if it does not within the answer deadline. A stream keeps reading (its
    // input is dropped) so that a client's close is noticed.
    if (!this.streamActive) this.hold('answers', true);
    // The wait ends with the session too: nothing then holds a timer for a client that is gone.
    let timer: NodeJS.Timeout | undefined;
    let ended: (() => void) | undefined;
    const deadline = new Promise<'timeout' | 'gone'>((resolve) => {
      if (this.timeouts.answerMs > 0) timer = setTimeout(() => resolve('timeout'), this.timeouts.answerMs);
      ended = () => resolve('gone');
      this.gone.signal.addEventListener('abort', ended);
    });
    try {
      const outcome = await Promise.race([flushed.then(() => 'sent' as const), deadline]);
      if (outcome === 'gone') {
        flushed.catch(() => undefined);
        return false;
      }
      if (outcome === 'timeout') {
        flushed.catch(() => undefined);
        this.finish({ reason: 'timeout', message: `the client did not take its answer within ${this.timeouts.answerMs} ms` });
        return false;
      }
      this.hold('answers', false);
      return !this.ended;
    } catch (e) {
      this.finish({ reason: 'error', message: `unable to write answer: ${(e as Error).message}` });
      return false;
    } finally {
      clearTimeout(timer);
      if (ended) this.gone.signal.removeEventListener('abort', ended);
    }
  }

  /** Starts the body deadline for a partial request, or the idle deadline between requests. */
  private arm(): void {
    const inRequest = this.parser.buffered > 0 || this.handler.oneRequest;
    const ms = inRequest ? this.timeouts.bodyMs : this.timeouts.idleMs;
    const phase = ms > 0 ? (inRequest ? 'body' : 'idle') : null;
    if (phase === this.timerPhase) return;
    this.disarm();
    if (!phase) return;
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
    this.runReleases();
    if (this.hangupTimer) clearInterval(this.hangupTimer);
    this.disarm();
    this.transport.close();
    this.onEnd(end);
  }
}
