// What `utmps ship` reads: records with the cursor that names each one. Two sources,
// one shape: tailing a wtmp file (file-source.ts) or following the wtmpd socket
// (socket-source.ts).

import type { ShipRecord } from '../format/ship.js';
import type { Cursor } from './cursor.js';

export interface SourceItem {
  record: ShipRecord;
  /** Where to resume after this record once it is delivered. */
  cursor: Cursor;
}

/** Something worth telling the operator (stderr), e.g. a rotation or a lost cursor. */
export type Report = (message: string) => void;

export interface Source {
  /** Items in order; ends when the signal aborts, or at the current end without follow. */
  items(signal: AbortSignal): AsyncGenerator<SourceItem[]>;
}

/** Waits ms, or less when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
