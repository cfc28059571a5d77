// Connection limits like s6-ipcserver's -c/-C: a total cap and a per-uid cap, so one
// user's idle or slow connections cannot use up the server. Root is exempt from the
// per-uid cap (login programs run as root; the cap protects against other users), and
// the last few slots of the total are root's alone, so that other users together (25
// uids at 40 each reach 1,000) still cannot lock the login programs out.

export interface ConnectionLimitOptions {
  maxConnections: number;
  maxPerUid: number;
  /** Slots of maxConnections only root may use (default: defaultRootReserve). */
  rootReserve?: number;
  /** wtmp followers per non-root uid, within its connections (default 8; 0: none allowed). */
  maxFollowersPerUid?: number;
}

export const DEFAULT_LIMITS: ConnectionLimitOptions = { maxConnections: 1000, maxPerUid: 40 };
export const DEFAULT_MAX_FOLLOWERS_PER_UID = 8;

/** A tenth of the total, at least 1 and at most 20, always leaving one slot for others. */
export function defaultRootReserve(maxConnections: number): number {
  return Math.max(0, Math.min(maxConnections - 1, Math.max(1, Math.min(20, Math.floor(maxConnections / 10)))));
}

export class ConnectionLimits {
  private total = 0;
  private readonly perUid = new Map<number, number>();
  private readonly followers = new Map<number, number>();
  private readonly reserve: number;
  private readonly maxFollowers: number;

  constructor(private readonly options: ConnectionLimitOptions) {
    this.reserve = options.rootReserve ?? defaultRootReserve(options.maxConnections);
    this.maxFollowers = options.maxFollowersPerUid ?? DEFAULT_MAX_FOLLOWERS_PER_UID;
  }

  get connections(): number {
    return this.total;
  }

  /** Counts the connection in and returns null, or returns why it is refused. */
  admit(uid: number): string | null {
    if (this.total >= this.options.maxConnections) {
      return `the server has its maximum of ${this.options.maxConnections} connections`;
    }
    if (uid !== 0 && this.total >= this.options.maxConnections - this.reserve) {
      return `the server has its maximum of ${this.options.maxConnections - this.reserve} connections for users other than root`;
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

  /**
   * Counts a wtmp follower of uid in; returns its release, or null when the uid has its
   * maximum (root has none).
   */
  admitFollower(uid: number): (() => void) | null {
    const mine = this.followers.get(uid) ?? 0;
    if (uid !== 0 && mine >= this.maxFollowers) return null;
    this.followers.set(uid, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.followers.get(uid) ?? 1) - 1;
      if (left === 0) this.followers.delete(uid);
      else this.followers.set(uid, left);
    };
  }
}
