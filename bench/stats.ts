// Pure helpers for the figures, with the definitions utmps-bench uses (its README, "How it
// measures"), so the two load generators report comparable numbers.

/** The value at index round(p·(n−1)) of the sorted samples; 0 for no samples. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.round(p * (sorted.length - 1));
  return sorted[Math.min(sorted.length - 1, Math.max(0, i))];
}

export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 and max of unsorted samples (sorts a copy). */
export function summarise(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const arr = Array.from(sorted);
  return { p50: percentile(arr, 0.5), p99: percentile(arr, 0.99), max: arr.length ? arr[arr.length - 1] : 0 };
}

/** The median of a few repetitions; for an even count, the mean of the middle two. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Rounds for display: 3 significant digits below 100, whole numbers above. */
export function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  if (Math.abs(v) >= 100) return Math.round(v);
  return Number(v.toPrecision(3));
}
