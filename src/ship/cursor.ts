// The ship cursor (docs/SHIPPING.md, "The cursor"): the last delivered record, named by its
// byte offset in the file and the SHA-256 of its stored bytes, so a restart can tell "the
// same file, go on after it" from "the file was rotated, finish the old one first".
// Written atomically: temp file, fsync, rename, fsync of the directory.

import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface Cursor {
  version: 1;
  /** The file the record was read from; null when it came through the wtmpd socket. */
  file: string | null;
  /** Byte offset of the record in that file; null through the socket. */
  offset: number | null;
  /** Record size in that file: 400 (utmps) or 384 (glibc). */
  size: number;
  /** SHA-256 of the record's stored bytes, hex. */
  hash: string;
  /** The record's time, for the socket's since= filter. */
  tvSec: number;
  tvUsec: number;
}

export class CursorError extends Error {
  readonly code = 'EINVAL';
}

/** Checks a parsed cursor's shape; throws CursorError naming what is wrong. */
export function validCursor(v: unknown): Cursor {
  const o = v as Partial<Cursor> | null;
  const bad = (what: string): never => {
    throw new CursorError(`not a ship cursor: ${what}`);
  };
  if (typeof o !== 'object' || o === null) return bad('not an object');
  if (o.version !== 1) bad('version is not 1');
  if (o.file !== null && typeof o.file !== 'string') bad('file');
  if (o.offset !== null && !(Number.isSafeInteger(o.offset) && (o.offset as number) >= 0)) bad('offset');
  if (o.size !== 400 && o.size !== 384) bad('size');
  if (typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash)) bad('hash');
  if (!Number.isSafeInteger(o.tvSec) || !Number.isSafeInteger(o.tvUsec)) bad('time');
  return { version: 1, file: o.file!, offset: o.offset!, size: o.size!, hash: o.hash!, tvSec: o.tvSec!, tvUsec: o.tvUsec! };
}

/** The cursor in path, or null when there is none yet. */
export function readCursor(path: string): Cursor | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CursorError('not a ship cursor: not JSON');
  }
  return validCursor(parsed);
}

/** Replaces the cursor file atomically and durably. */
export function writeCursor(path: string, cursor: Cursor): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  // O_EXCL: never write through a link someone left under the temporary name; a stale
  // temp of ours (a crash) is removed first.
  rmSync(temp, { force: true });
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  try {
    const data = Buffer.from(`${JSON.stringify(cursor)}\n`);
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(temp, path);
  // The rename itself is durable only once the directory is.
  const dir = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
