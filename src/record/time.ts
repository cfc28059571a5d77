// The current time as a struct timeval in UTC.

import { performance } from 'node:perf_hooks';

export interface Timeval {
  tvSec: bigint;
  tvUsec: number;
}

/**
 * Now, with microseconds. Date.now() only has milliseconds; the high-resolution clock has
 * more but drifts from the wall clock over a long-lived process, so it is used only while
 * it still agrees with Date.now() to the millisecond.
 */
export function nowTimeval(): Timeval {
  const wall = Date.now();
  const precise = performance.timeOrigin + performance.now();
  const ms = precise >= wall && precise < wall + 1 ? precise : wall;
  const us = Math.floor(ms * 1000);
  return { tvSec: BigInt(Math.floor(us / 1_000_000)), tvUsec: us % 1_000_000 };
}
