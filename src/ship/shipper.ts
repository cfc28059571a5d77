// The ship loop: a source fills a bounded queue, a sender empties it in batches into the
// target and, after each batch is handed over, writes the cursor. Memory is bounded by
// the queue and one batch in flight. When the queue is full, `wait` stops reading (the
// file is the buffer: nothing is lost) and `drop` drops the oldest queued message,
// counting it; the count is reported when sending resumes and in the exit summary.

import { type Cursor, writeCursor } from './cursor.js';
import type { Report, Source, SourceItem } from './source.js';
import type { Target } from './target.js';

export interface ShipperOptions {
  source: Source;
  target: Target;
  format: (item: SourceItem) => Buffer;
  cursorFile: string | null;
  /** Messages held in memory at most (besides one batch in flight). */
  capacity: number;
  /** Messages per send at most. */
  batch: number;
  whenFull: 'wait' | 'drop';
  /**
   * While a backlog is being sent, write the cursor at most this often (ms); it is always
   * written once the queue is empty and at the end. 0: after every batch.
   */
  cursorIntervalMs?: number;
  /** After stop, how long the queue may take to drain before the rest is left for the next run. */
  drainMs: number;
  report: Report;
}

export interface ShipStats {
  sent: number;
  dropped: number;
  /** Read but neither sent nor dropped when the run ended (still after the cursor). */
  unsent: number;
  cursor: Cursor | null;
}

interface Queued {
  message: Buffer;
  cursor: Cursor;
}

export class Shipper {
  private readonly queue: Queued[] = [];
  private wakeSender: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;
  private sourceDone = false;
  private episodeDrops = 0;
  private cursorWritten = 0;
  private cursorDirty = false;
  readonly stats: ShipStats = { sent: 0, dropped: 0, unsent: 0, cursor: null };

  constructor(private readonly o: ShipperOptions) {}

  private enqueue(item: SourceItem): Queued {
    return { message: this.o.format(item), cursor: item.cursor };
  }

  private async read(signal: AbortSignal): Promise<void> {
    try {
      for await (const items of this.o.source.items(signal)) {
        for (const item of items) {
          while (this.queue.length >= this.o.capacity) {
            if (this.o.whenFull === 'drop') {
              this.queue.shift();
              this.stats.dropped++;
              if (this.episodeDrops++ === 0) {
                this.o.report(`queue full (${this.o.capacity} messages) while ${this.o.target.name} is slow or unreachable: dropping the oldest`);
              }
              break;
            }
            await new Promise<void>((resolve) => (this.wakeReader = resolve));
            if (signal.aborted) return;
          }
          this.queue.push(this.enqueue(item));
          this.wakeSender?.();
        }
        if (signal.aborted) return;
      }
    } finally {
      this.sourceDone = true;
      this.wakeSender?.();
    }
  }

  private async send(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        if (this.sourceDone) return;
        await new Promise<void>((resolve) => (this.wakeSender = resolve));
        this.wakeSender = null;
        continue;
      }
      const batch = this.queue.splice(0, this.o.batch);
      this.wakeReader?.();
      this.wakeReader = null;
      try {
        await this.o.target.send(
          batch.map((q) => q.message),
          signal,
        );
      } catch (e) {
        this.stats.unsent += batch.length;
        throw e;
      }
      this.stats.sent += batch.length;
      this.stats.cursor = batch[batch.length - 1].cursor;
      this.cursorDirty = true;
      const interval = this.o.cursorIntervalMs ?? 0;
      if (interval === 0 || this.queue.length === 0 || Date.now() - this.cursorWritten >= interval) this.saveCursor();
      if (this.episodeDrops > 0) {
        this.o.report(`${this.o.target.name} takes messages again: ${this.episodeDrops} dropped meanwhile (${this.stats.dropped} in all)`);
        this.episodeDrops = 0;
      }
    }
  }

  private saveCursor(): void {
    if (this.o.cursorFile === null || !this.cursorDirty || this.stats.cursor === null) return;
    writeCursor(this.o.cursorFile, this.stats.cursor);
    this.cursorWritten = Date.now();
    this.cursorDirty = false;
  }

  /** Ships until the source ends (no follow) or `stop` aborts, then drains for drainMs at most. */
  async run(stop: AbortSignal): Promise<ShipStats> {
    const reading = new AbortController();
    const sending = new AbortController();
    let drainTimer: NodeJS.Timeout | undefined;
    const onStop = (): void => {
      reading.abort(stop.reason);
      this.wakeReader?.();
      drainTimer = setTimeout(() => sending.abort(new Error('drain deadline')), this.o.drainMs);
    };
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    // A source failure (unreadable file) ends the run with that error, unless we stopped it.
    let readError: unknown = null;
    const reader = this.read(reading.signal).catch((e: unknown) => {
      if (!stop.aborted) readError = e;
    });
    try {
      await this.send(sending.signal);
    } catch (e) {
      if (!sending.signal.aborted) throw e;
    } finally {
      stop.removeEventListener('abort', onStop);
      clearTimeout(drainTimer);
      reading.abort();
      this.wakeReader?.();
      await reader;
      this.stats.unsent += this.queue.length;
      this.queue.length = 0;
      this.saveCursor();
    }
    if (readError !== null) throw readError;
    return this.stats;
  }
}
