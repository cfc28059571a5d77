// Group commit: writers that finish while an fsync is running share the next one, so a
// burst of N writes costs about two fsyncs instead of N, and no answer goes out before
// its bytes are on disk. One GroupSync per open file; a retired one (log rotation) closes
// its file once the last fsync covering its writes is done.

/** What a GroupSync needs of a file: a FileHandle, or a bare descriptor wrapped. */
export interface Syncable {
  sync(): Promise<void>;
  close(): Promise<void>;
}

export class GroupSync {
  private running: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private retired = false;
  private closed = false;

  constructor(private readonly handle: Syncable) {}

  /** Resolves once everything written to the file before this call is on stable storage. */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (!this.running) {
      this.running = this.start();
      return this.running;
    }
    // The running fsync may have started before our write: wait for the one after it.
    this.next ??= this.running.then(
      () => this.promote(),
      () => this.promote(),
    );
    return this.next;
  }

  /** No more writes will come: sync what was written, then close the file. */
  retire(): Promise<void> {
    this.retired = true;
    return this.sync();
  }

  private start(): Promise<void> {
    const p = this.handle.sync();
    const done = (): void => this.finish(p);
    p.then(done, done);
    return p;
  }

  private promote(): Promise<void> {
    this.next = null;
    this.running = this.start();
    return this.running;
  }

  private finish(p: Promise<void>): void {
    if (this.running !== p || this.next) return;
    this.running = null;
    if (this.retired && !this.closed) {
      this.closed = true;
      this.handle.close().catch(() => undefined);
    }
  }
}
