// Paths every test needs. Tests run from dist/test/..., so find the root by its package.json.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'utmps-ts') return dir;
  }
  throw new Error(`cannot find the project root above ${start}`);
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
/** Captured from C utmps 0.1.2.3 (test/vectors/README.md). */
export const VECTORS = join(ROOT, 'test', 'vectors');
export const BIN = join(ROOT, 'bin');
