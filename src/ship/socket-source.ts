// Following wtmp through the wtmpd socket's read extension for `utmps ship`, when the file
// cannot be read. The extension has no offsets, so the cursor is the last record's time
// and hash: the history is asked from that second on (since=), records of that second are
// skipped up to the one with the cursor's hash, and everything after it is shipped. When
// no record of that second has the hash (the file was rotated away), the records of that
// second are shipped and that is reported: they may repeat. Records appended with a time
// before the cursor's (a clock stepped back) are not in the history: see docs/SHIPPING.md.

import { UtmpsError } from '../client/errors.js';
import { readWtmp } from '../client/wtmp-read.js';
import { shipRecord } from '../format/ship.js';
import { UTMPS_LAYOUT } from '../record/layout.js';
import type { Cursor } from './cursor.js';
import { sha256 } from './file-source.js';
import { pause, type Report, type Source, type SourceItem } from './source.js';

export interface SocketSourceOptions {
  socket: string | undefined;
  cursor: Cursor | null;
  follow: boolean;
  start: 'beginning' | 'end';
  report: Report;
  /** Records of the cursor's second held while looking for its hash. */
  maxSeek?: number;
}

// A follow that lasted this long before ETIMEDOUT was closed by the server for quiet.
const REFOLLOW_AFTER_MS = 1000;

export class SocketSource implements Source {
  constructor(private readonly o: SocketSourceOptions) {}

  async *items(signal: AbortSignal): AsyncGenerator<SourceItem[]> {
    let last: { tvSec: number; hash: string } | null = this.o.cursor;
    let liveOnly = last === null && this.o.start === 'end';
    let backoff = 100;
    for (;;) {
      const since = Date.now();
      let seeking: SourceItem[] | null = last === null ? null : [];
      const seekSec = last?.tvSec;
      const flush = (why: string): SourceItem[] => {
        const held = seeking ?? [];
        seeking = null;
        if (held.length > 0 || why) this.o.report(`the cursor's record (time ${seekSec}) was not found through the socket: ${why}`);
        return held;
      };
      try {
        for await (const { record } of readWtmp({
          path: this.o.socket,
          follow: this.o.follow,
          liveOnly,
          since: liveOnly || last === null ? undefined : last.tvSec,
          signal,
          timeoutMs: 0,
        })) {
          backoff = 100;
          const hash = sha256(record.bytes);
          const r = shipRecord(record.bytes, 0, hash);
          const item: SourceItem = {
            record: r,
            cursor: { version: 1, file: null, offset: null, size: UTMPS_LAYOUT.size, hash, tvSec: r.tvSec, tvUsec: r.tvUsec },
          };
          if (seeking !== null) {
            if (r.tvSec === seekSec && hash === last!.hash) {
              seeking = null; // found: everything after it is new
              continue;
            }
            if (r.tvSec === seekSec && seeking.length < (this.o.maxSeek ?? 10_000)) {
              seeking.push(item);
              continue;
            }
            const held = flush('shipping from that second on, whose records may repeat');
            if (held.length > 0) yield held;
          }
          last = { tvSec: r.tvSec, hash };
          yield [item];
        }
        if (seeking !== null && (seeking as SourceItem[]).length > 0) yield flush('shipping from that second on, whose records may repeat');
        return; // history only (no follow), or aborted
      } catch (e) {
        if (signal.aborted) return;
        // The server closes a quiet follower (ETIMEDOUT after its follow timeout) or
        // restarts: follow again from the last record seen.
        const quiet = e instanceof UtmpsError && e.code === 'ETIMEDOUT' && Date.now() - since > REFOLLOW_AFTER_MS;
        if (!quiet) this.o.report(`lost the wtmpd socket: ${(e as Error).message}; following again in ${backoff} ms`);
        liveOnly = last === null && this.o.start === 'end';
        await pause(quiet ? 0 : backoff, signal);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }
}
