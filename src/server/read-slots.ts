// A cap on the wtmp histories one uid has utmpsd read at the same time. A history read
// costs the server CPU in proportion to the file; without a cap, one user's many readers
// of a large wtmp take the event loop from everyone's appends. Readers over the cap wait
// their turn, in order (nothing is refused: the wait only delays that user's own reads,
// and a reader that hangs up leaves the queue). Root is exempt, as from the connection
// caps: login programs and the administrator's tools run as root.
//
// Under a superserver each client has its own process, so there is no one place to count
// readers. There a history read instead drops its own process to the lowest CPU priority:
// any number of readers then leave most of the CPU to the appenders' processes.

import { setPriority } from 'node:os';

export const DEFAULT_READS_PER_UID = 2;

export type ReleaseSlot = () => void;

/** What a wtmp service asks before it reads history for a peer. */
export interface ReadGate {
  acquire(uid: number, signal: AbortSignal): Promise<ReleaseSlot>;
}

/** Nice value of a process serving a history read (UCSPI): the lowest priority. */
export const READER_NICE = 19;

/** Drops this process to the readers' priority (one process per client only). */
export function runInBackground(): void {
  try {
    setPriority(READER_NICE);
  } catch {
    // Not allowed here (a seccomp filter?): serve at the priority we have.
  }
}

/**
 * The gate for one process per client. Priority is not raised again afterwards (that needs
 * privilege), so a follower stays in the background too; its live phase is light work.
 */
export const backgroundReads: ReadGate = {
  async acquire(_uid, signal) {
    signal.throwIfAborted();
    runInBackground();
    return () => {};
  },
};

export class ReadSlots implements ReadGate {
  private readonly active = new Map<number, number>();
  private readonly queues = new Map<number, (() => void)[]>();

  constructor(readonly perUid: number = DEFAULT_READS_PER_UID) {
    if (!Number.isInteger(perUid) || perUid < 1) throw new RangeError(`reads per uid must be an integer >= 1, got ${perUid}`);
  }

  /** Histories uid is being served now (for tests and stats). */
  reading(uid: number): number {
    return this.active.get(uid) ?? 0;
  }

  /** Waits for a free slot; rejects with the signal's reason if it aborts first. */
  acquire(uid: number, signal: AbortSignal): Promise<ReleaseSlot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (uid === 0) return Promise.resolve(() => {});
    if (this.reading(uid) < this.perUid) return Promise.resolve(this.take(uid));
    return new Promise((resolve, reject) => {
      const queue = this.queues.get(uid) ?? [];
      this.queues.set(uid, queue);
      const onAbort = (): void => {
        const at = queue.indexOf(grant);
        if (at >= 0) queue.splice(at, 1);
        if (queue.length === 0) this.queues.delete(uid);
        reject(signal.reason);
      };
      const grant = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(this.take(uid));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      queue.push(grant);
    });
  }

  private take(uid: number): ReleaseSlot {
    this.active.set(uid, this.reading(uid) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.reading(uid) - 1;
      if (left === 0) this.active.delete(uid);
      else this.active.set(uid, left);
      const queue = this.queues.get(uid);
      const next = queue?.shift();
      if (queue && queue.length === 0) this.queues.delete(uid);
      next?.();
    };
  }
}
