// Plays one fuzz conversation on a Unix socket: the chunks go out one write each (so a
// chunk of one byte is a byte-at-a-time client), then the connection ends the way the case
// says. Everything received is kept for the oracle. Used in-process (as root) and by the
// agent (as nobody); nothing here comes from src/.

import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { frame, type Framing, parseAnswers, type ParsePosition, type Service, type Who } from './model.js';

/**
 * eof:   send everything, shut down our side, read until the server closes.
 * close: send everything, read until every framed request is answered (or the server
 *        closes), then close both directions.
 * abort: send the first `abortAfter` chunks, then close at once without reading.
 * stall: never read; send what the server takes, keep the connection open `holdMs`, then
 *        close at once (a pipelining client that lets its answers pile up).
 */
export type EndMode = 'eof' | 'close' | 'abort' | 'stall';

export interface Conversation {
  service: Service;
  who: Who;
  chunks: Buffer[];
  end: EndMode;
  abortAfter?: number;
  /** Pause between chunks in ms; 0 waits only for the write to be taken. */
  gapMs?: number;
  /** 'stall': how long to hold the connection without reading. */
  holdMs?: number;
}

export interface Outcome {
  received: Buffer;
  /** The server closed its side. */
  serverEof: boolean;
  connectError?: string;
  /** The first socket error: a failed write (EPIPE after the server closed), ECONNRESET... */
  socketError?: string;
  /** The hang guard fired: answers were missing and the server did not close. */
  hung: boolean;
  /** The server stopped taking our bytes (a write was not accepted within the stall guard). */
  stalled?: boolean;
}

/** How long one write may wait for the server to read before the client gives up. */
export const STALL_MS = 3000;

/** A growing byte buffer, so a long burst of answers costs linear time to collect. */
class Sink {
  private buf = Buffer.allocUnsafe(4096);
  length = 0;

  push(chunk: Buffer): void {
    if (this.length + chunk.length > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + chunk.length));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    chunk.copy(this.buf, this.length);
    this.length += chunk.length;
  }

  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function connect(path: string, guardMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path, allowHalfOpen: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
    }, guardMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (e: Error): void => {
      clearTimeout(timer);
      reject(e);
    };
    socket.once('error', onError);
  });
}

/** One write; 'stalled' when the server has not taken it within stallMs. */
function write(socket: Socket, chunk: Buffer, stallMs: number): Promise<'ok' | 'stalled'> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed || !socket.writable) return reject(Object.assign(new Error('socket closed'), { code: 'EPIPE' }));
    const timer = setTimeout(() => resolve('stalled'), stallMs);
    socket.write(chunk, (err) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve('ok');
    });
  });
}

export async function converse(path: string, conv: Conversation, guardMs: number, stallMs = STALL_MS): Promise<Outcome> {
  let socket: Socket;
  try {
    socket = await connect(path, guardMs);
  } catch (e) {
    return { received: Buffer.alloc(0), serverEof: true, connectError: String((e as NodeJS.ErrnoException).code ?? e), hung: false };
  }
  const sink = new Sink();
  const framing: Framing = frame(conv.service, Buffer.concat(conv.chunks));
  let resume: ParsePosition = { frame: 0, at: 0 };
  let answered = framing.frames.length === 0;
  let serverEof = false;
  let closed = false;
  let socketError: string | undefined;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  socket.on('data', (chunk: Buffer) => {
    sink.push(chunk);
    if (!answered) {
      const p = parseAnswers(conv.service, conv.who, framing.frames, sink.view(), resume);
      resume = p.resume;
      answered = p.complete;
    }
    poke();
  });
  socket.on('end', () => {
    serverEof = true;
    poke();
  });
  socket.on('close', () => {
    closed = true;
    serverEof = true;
    poke();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => {
    socketError ??= String(e.code ?? e.message);
    poke();
  });

  if (conv.end === 'stall') {
    socket.pause();
    for (const chunk of conv.chunks) {
      if (socketError !== undefined || closed) break;
      try {
        if ((await write(socket, chunk, Math.min(stallMs, conv.holdMs ?? 0))) === 'stalled') break;
      } catch (e) {
        socketError ??= String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
        break;
      }
    }
    await sleep(conv.holdMs ?? 0);
    socket.destroy();
    return { received: Buffer.from(sink.view()), serverEof, socketError, hung: false };
  }
  const count = conv.end === 'abort' ? Math.min(conv.abortAfter ?? conv.chunks.length, conv.chunks.length) : conv.chunks.length;
  for (let i = 0; i < count && socketError === undefined && !closed; i++) {
    try {
      if ((await write(socket, conv.chunks[i], stallMs)) === 'stalled') {
        socket.destroy();
        return { received: Buffer.from(sink.view()), serverEof, socketError, hung: false, stalled: true };
      }
    } catch (e) {
      socketError ??= String((e as NodeJS.ErrnoException).code ?? (e as Error).message);
      break;
    }
    if (conv.gapMs && i + 1 < count) await sleep(conv.gapMs);
  }
  if (conv.end === 'abort') {
    socket.destroy();
    return { received: Buffer.from(sink.view()), serverEof, socketError, hung: false };
  }
  if (conv.end === 'eof' && !socket.destroyed) socket.end();

  const done = (): boolean => (conv.end === 'eof' ? serverEof : answered || serverEof);
  const deadline = Date.now() + guardMs;
  let hung = false;
  while (!done()) {
    const left = deadline - Date.now();
    if (left <= 0) {
      hung = true;
      break;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  socket.destroy();
  return { received: Buffer.from(sink.view()), serverEof, socketError, hung };
}

// ---- the wire form of a conversation, for the agent ----

export interface ConversationJson {
  service: Service;
  who: Who;
  chunks: string[];
  end: EndMode;
  abortAfter?: number;
  gapMs?: number;
  holdMs?: number;
}

export interface OutcomeJson {
  received: string;
  serverEof: boolean;
  connectError?: string;
  socketError?: string;
  hung: boolean;
}

export const toJson = (c: Conversation): ConversationJson => ({ ...c, chunks: c.chunks.map((b) => b.toString('base64')) });
export const fromJson = (c: ConversationJson): Conversation => ({ ...c, chunks: c.chunks.map((s) => Buffer.from(s, 'base64')) });
export const outcomeToJson = (o: Outcome): OutcomeJson => ({ ...o, received: o.received.toString('base64') });
export const outcomeFromJson = (o: OutcomeJson): Outcome => ({ ...o, received: Buffer.from(o.received, 'base64') });
