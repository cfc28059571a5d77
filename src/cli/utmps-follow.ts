// utmps last --follow: new logins, logouts and boots as they are appended, read through
// the wtmpd socket's read extension (docs/PROTOCOL-EXTENSIONS.md), one line or one JSON
// object per record, for people and for log shippers. Runs until interrupted.

import { terminalSafeJson } from '../format/text.js';
import { UtmpsError } from '../client/errors.js';
import { readWtmp } from '../client/wtmp-read.js';

/** A follow that lasted this long before ETIMEDOUT was closed by the server for quiet. */
const REFOLLOW_AFTER_MS = 1000;
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
    for (;;) {
      const since = Date.now();
      try {
        for await (const { record } of readWtmp({ path: options.socket, liveOnly: true, signal: stop.signal })) {
          const entry = record.entry;
          if (wanted.size > 0 && !wanted.has(entry.user) && !wanted.has(entry.line)) continue;
          const event = wtmpEvent(entry);
          writeAll(1, Buffer.from(`${options.json ? terminalSafeJson(JSON.stringify(event)) : wtmpEventLine(event)}\n`));
        }
        return 0;
      } catch (e) {
        // The server closes a follower it has sent nothing for its follow timeout (an hour
        // by default): follow again. Only a quick ETIMEDOUT (our own deadline) is an error.
        const quiet = e instanceof UtmpsError && e.code === 'ETIMEDOUT' && e.op === 'read' && Date.now() - since > REFOLLOW_AFTER_MS;
        if (!quiet || stop.signal.aborted) throw e;
      }
    }
  } catch (e) {
    if (stop.signal.aborted) return 0;
    throw fatalError(`unable to follow wtmp: ${reason(e)}`);
  } finally {
    process.off('SIGINT', end);
    process.off('SIGTERM', end);
  }
}
