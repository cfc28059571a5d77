// Pure: reads a V8 .cpuprofile (node --cpu-prof) and ranks where the time went.

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Ranked {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Sampled time not spent idle: what the main thread actually worked. */
  busyMs: number;
  self: Ranked[];
  inclusive: Ranked[];
  byFile: Ranked[];
}

/** Short, stable labels: project files relative to the root, Node internals as node:... */
export function shortUrl(url: string, root: string): string {
  if (!url) return '';
  let u = url.startsWith('file://') ? decodeURIComponent(url.slice(7)) : url;
  if (u.startsWith(root + '/')) u = u.slice(root.length + 1);
  return u;
}

function label(f: CallFrame, root: string): string {
  const name = f.functionName || '(anonymous)';
  const url = shortUrl(f.url, root);
  return url ? `${name} ${url}:${f.lineNumber + 1}` : name;
}

const IDLE = new Set(['(idle)']);

function rank(map: Map<string, number>, total: number, top: number): Ranked[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, ms]) => ({ name, ms, share: total > 0 ? ms / total : 0 }));
}

/**
 * Self time per function (summed over every node with that function), inclusive time per
 * function (each sample counted once per function on its stack, so recursion does not
 * double-count), and self time per file. Shares are of the busy (non-idle) time.
 */
export function analyse(profile: CpuProfile, root: string, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Time per node from the samples; fall back to hit counts at the mean interval.
  const nodeMs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  if (samples.length && deltas.length === samples.length) {
    // timeDeltas[i] is the time before sample i; attribute the interval after each sample to it.
    for (let i = 0; i < samples.length; i++) {
      const dt = (deltas[i + 1] ?? 0) / 1000;
      nodeMs.set(samples[i], (nodeMs.get(samples[i]) ?? 0) + Math.max(0, dt));
    }
  } else {
    const hits = profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
    const per = hits ? (profile.endTime - profile.startTime) / 1000 / hits : 0;
    for (const n of profile.nodes) nodeMs.set(n.id, (n.hitCount ?? 0) * per);
  }

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  let busy = 0;
  for (const [id, ms] of nodeMs) {
    const node = byId.get(id);
    if (!node || ms === 0) continue;
    total += ms;
    if (IDLE.has(node.callFrame.functionName)) continue;
    busy += ms;
    const name = label(node.callFrame, root);
    self.set(name, (self.get(name) ?? 0) + ms);
    const file = shortUrl(node.callFrame.url, root) || node.callFrame.functionName || '(native)';
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.functionName === '(root)') continue;
      const l = label(f, root);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + ms);
    }
  }
  return { totalMs: total, busyMs: busy, self: rank(self, busy, top), inclusive: rank(inclusive, busy, top), byFile: rank(byFile, busy, top) };
}

export function formatRanked(title: string, list: readonly Ranked[]): string[] {
  return [title, ...list.map((r) => `  ${(r.share * 100).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(6)} ms  ${r.name}`)];
}
