// Builds the neutral C load client from shared/tools/utmps-bench.c into a scratch directory,
// at bench time: the binary is never kept in the repository.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SHARED } from './system.js';

export const C_BENCH_SOURCE = join(SHARED, 'tools', 'utmps-bench.c');

/** gcc as shared/tools/README.md says; returns the binary's path. Throws with gcc's output. */
export async function buildCBench(dir: string): Promise<string> {
  const out = join(dir, 'utmps-bench');
  try {
    await promisify(execFile)('gcc', ['-O2', '-Wall', '-Wextra', '-std=c11', '-D_GNU_SOURCE', C_BENCH_SOURCE, '-o', out, '-lm']);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`unable to build ${C_BENCH_SOURCE}: ${err.stderr?.trim() || err.message}`);
  }
  return out;
}
