// utmps last --follow: new logins, logouts and boots as they are appended, read through
// the wtmpd socket's read extension (docs/PROTOCOL-EXTENSIONS.md), one line or one JSON
// object per record, for people and for log shippers. Runs until interrupted.

import { readWtmp } from '../client/wtmp-read.js';
import { wtmpEvent, wtmpEventLine } from '../format/events.js';
import { fatalError, reason, writeAll } from './utmps-io.js';

export interface FollowOptions {
  socket: string | undefined;
  json: boolean;
  /** Positional user or tty names, as last takes them; empty matches everything. */
  filters: string[];
}

export async function follow(options: FollowOptions): Promise<number> {
  const stop = new AbortController();
  const end = (): void => stop.abort();
  process.once('SIGINT', end);
  process.once('SIGTERM', end);
  const wanted = new Set(options.filters);
  try {
    for await (const { record } of readWtmp({ path: options.socket, liveOnly: true, signal: stop.signal })) {
      const entry = record.entry;
      if (wanted.size > 0 && !wanted.has(entry.user) && !wanted.has(entry.line)) continue;
      const event = wtmpEvent(entry);
      writeAll(1, Buffer.from(`${options.json ? JSON.stringify(event) : wtmpEventLine(event)}\n`));
    }
    return 0;
  } catch (e) {
    if (stop.signal.aborted) return 0;
    throw fatalError(`unable to follow wtmp: ${reason(e)}`);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}
