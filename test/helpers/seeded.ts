// A small seeded generator for reproducible test histories: the same seed, the same records.

export interface Seeded {
  /** In [0, 1). */
  random(): number;
  pick<T>(xs: readonly T[]): T;
}

export function seeded(seed: number): Seeded {
  let s = seed;
  const random = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x80000000;
  };
  return { random, pick: (xs) => xs[Math.floor(random() * xs.length)] };
}
