// One command timed from outside, its output thrown away: wall time measured here, peak RSS
// from /usr/bin/time -v. The readers' benches (last, lastlog) compare ours and util-linux's
// this way, pair by pair.

import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export const TIME = '/usr/bin/time';

export interface Sample {
  ms: number;
  rssKb: number;
}

export function timedRun(cmd: string, args: string[], env: NodeJS.ProcessEnv): Sample {
  const out = openSync('/dev/null', 'w');
  try {
    const start = process.hrtime.bigint();
    const r = spawnSync(TIME, ['-v', cmd, ...args], { env, stdio: ['ignore', out, 'pipe'], maxBuffer: 1 << 24 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr.toString());
    return { ms, rssKb: m ? Number(m[1]) : Number.NaN };
  } finally {
    closeSync(out);
  }
}

export const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
export const fmtKb = (kb: number): string => `${(kb / 1024).toFixed(kb >= 10_240 ? 0 : 1)} MB`;
