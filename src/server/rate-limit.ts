// Per-uid write rate limits for non-root peers (a token bucket each). A non-root peer may
// append wtmp records for itself, so without a limit it could fill the disk; C utmps
// leaves this open. Root is never limited: login programs run as root.

export interface RateLimitOptions {
  /** Writes per minute each non-root uid earns; 0 turns limiting off. */
  perMinute: number;
  /** Writes a uid may make at once before the rate applies. */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perMinute: 60, burst: 30 };

interface Bucket {
  tokens: number;
  updated: number;
  /** True while refusals are going on: only the first of a burst is logged. */
  refusing: boolean;
}

export type RateDecision = { allowed: true } | { allowed: false; firstOfBurst: boolean };

/** Past this many tracked uids, forget the ones whose buckets are full again. */
const PRUNE_AT = 4096;

export class RateLimiter {
  private readonly buckets = new Map<number, Bucket>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {}

  take(uid: number): RateDecision {
    if (uid === 0 || this.options.perMinute <= 0) return { allowed: true };
    const now = this.now();
    let bucket = this.buckets.get(uid);
    if (!bucket) {
      if (this.buckets.size >= PRUNE_AT) this.prune(now);
      bucket = { tokens: this.options.burst, updated: now, refusing: false };
      this.buckets.set(uid, bucket);
    }
    this.refill(bucket, now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.refusing = false;
      return { allowed: true };
    }
    const firstOfBurst = !bucket.refusing;
    bucket.refusing = true;
    return { allowed: false, firstOfBurst };
  }

  private refill(bucket: Bucket, now: number): void {
    const earned = ((now - bucket.updated) * this.options.perMinute) / 60_000;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + earned);
    bucket.updated = now;
  }

  private prune(now: number): void {
    for (const [uid, bucket] of this.buckets) {
      this.refill(bucket, now);
      if (bucket.tokens >= this.options.burst) this.buckets.delete(uid);
    }
  }
}
