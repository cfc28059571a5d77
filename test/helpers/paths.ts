// Paths every test needs. Tests run from dist/test/..., so find the root by its package.json.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  for (let dir = start; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'utmps-ts') return dir;
  }
  throw new Error(`cannot find the project root above ${start}`);
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const SHARED = process.env.UTMPS_SHARED_DIR ?? resolve(ROOT, '../shared');
export const VECTORS = join(SHARED, 'vectors');
export const BIN = join(ROOT, 'bin');
