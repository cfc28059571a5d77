// Refusals and failed connections, summarised per (uid, reason): a peer that is not root
// can make requests far faster than anyone can read log lines, and under journald a flood
// would push the server's real messages out through the rate limiter. So the first event of
// a (uid, reason) in a window is logged whole, the rest only counted, and one count line
// ends the window: "uid 65534: 305,999 more putline refusals in 10 s". Root's events stay
// one line each: login programs run as root, and their failures are worth every line.

export interface LogSummaryOptions {
  /** Length of a window (default 10 s). */
  windowMs?: number;
  /** Past this many (uid, reason) pairs in one window, further uids share one count. */
  maxKeys?: number;
  now?: () => number;
}

export const DEFAULT_SUMMARY_WINDOW_MS = 10_000;

interface Tally {
  uid: number | null;
  reason: string;
  first: number;
  more: number;
}

export class LogSummary {
  private readonly tallies = new Map<string, Tally>();
  private timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(
    private readonly out: (line: string) => void,
    options: LogSummaryOptions = {},
  ) {
    this.windowMs = options.windowMs ?? DEFAULT_SUMMARY_WINDOW_MS;
    this.maxKeys = options.maxKeys ?? 1024;
    this.now = options.now ?? Date.now;
  }

  /**
   * One event: `reason` names its kind in the plural ("putline refusals"), `message` is
   * the whole line for the first of a window.
   */
  report(uid: number, reason: string, message: string): void {
    if (uid === 0) {
      this.out(message);
      return;
    }
    let key = `${uid}\0${reason}`;
    let tally = this.tallies.get(key);
    if (!tally && this.tallies.size >= this.maxKeys) {
      // Many uids at once: count the rest together, so memory stays bounded.
      key = `*\0${reason}`;
      tally = this.tallies.get(key);
      if (!tally) {
        tally = { uid: null, reason, first: this.now(), more: 0 };
        this.tallies.set(key, tally);
        this.out(`other uids: ${reason} (not logged one by one; counted until the end of the window)`);
        this.arm();
        return;
      }
    }
    if (tally) {
      tally.more++;
      return;
    }
    this.tallies.set(key, { uid, reason, first: this.now(), more: 0 });
    this.out(message);
    this.arm();
  }

  /** Ends the window now: one count line per (uid, reason) that had more than its first. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const now = this.now();
    for (const t of this.tallies.values()) {
      if (t.more === 0) continue;
      const who = t.uid === null ? 'other uids' : `uid ${t.uid}`;
      const seconds = Math.max(1, Math.round((now - t.first) / 1000));
      this.out(`${who}: ${t.more.toLocaleString('en-US')} more ${t.reason} in ${seconds} s`);
    }
    this.tallies.clear();
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.windowMs);
    // A count line must never keep a stopping process alive; shutdown flushes it.
    this.timer.unref();
  }
}
