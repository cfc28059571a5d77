// Connection limits like s6-ipcserver's -c/-C: a total cap and a per-uid cap, so one
// user's idle or slow connections cannot use up the server. Root is exempt from the
// per-uid cap (login programs run as root; the cap protects against other users).

export interface ConnectionLimitOptions {
  maxConnections: number;
  maxPerUid: number;
}

export const DEFAULT_LIMITS: ConnectionLimitOptions = { maxConnections: 1000, maxPerUid: 40 };

export class ConnectionLimits {
  private total = 0;
  private readonly perUid = new Map<number, number>();

  constructor(private readonly options: ConnectionLimitOptions) {}

  get connections(): number {
    return this.total;
  }

  /** Counts the connection in and returns null, or returns why it is refused. */
  admit(uid: number): string | null {
    if (this.total >= this.options.maxConnections) {
      return `the server has its maximum of ${this.options.maxConnections} connections`;
    }
    const mine = this.perUid.get(uid) ?? 0;
    if (uid !== 0 && mine >= this.options.maxPerUid) {
      return `uid ${uid} has its maximum of ${this.options.maxPerUid} connections`;
    }
    this.total++;
    this.perUid.set(uid, mine + 1);
    return null;
  }

  release(uid: number): void {
    this.total--;
    const mine = (this.perUid.get(uid) ?? 1) - 1;
    if (mine === 0) this.perUid.delete(uid);
    else this.perUid.set(uid, mine);
  }
}
