// Opening a database file safely: never through a symlink, never anything but a regular
// file (a FIFO would hang us, a device would be worse), created with a fixed mode.

import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Errno, errnoOf } from '../errno.js';
import type { RecordLayout } from '../record/layout.js';
import { StoreError } from './errors.js';

const { O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC } = constants as typeof constants & { O_CLOEXEC?: number };
const FLAGS = O_RDWR | O_NOFOLLOW | O_NONBLOCK | (O_CLOEXEC ?? 0);

export interface OpenedFile {
  handle: FileHandle;
  stat: Stats;
}

/**
 * Opens an existing file, or creates one with exactly `mode` whatever the umask (fchmod on
 * the new descriptor: a umask of 077 must not hide a glibc wtmp from last).
 */
async function openOrCreate(path: string, mode: number): Promise<FileHandle> {
  for (let attempt = 0; ; attempt++) {
    try {
      const created = await open(path, FLAGS | O_CREAT | O_EXCL, mode);
      try {
        await created.chmod(mode);
      } catch (e) {
        await created.close();
        throw e;
      }
      return created;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    try {
      return await open(path, FLAGS);
    } catch (e) {
      // Removed between the two opens: try again, a few times.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
    }
  }
}

/**
 * The mode a daemon gives a file it creates: nobody but the owner and its group may open
 * (and so lock) it, except in the glibc layout, which the system tools read directly
 * (docs/SECURITY.md, the glibc-format trade-off).
 */
export function defaultCreateMode(layout: RecordLayout): number {
  return layout.name === 'glibc' ? 0o644 : 0o640;
}

export async function openDatabaseFile(path: string, mode = 0o644): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await openOrCreate(path, mode);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // O_NOFOLLOW on a symlink fails with ELOOP: say what it means.
    const why = err.code === 'ELOOP' ? 'it is a symbolic link, which is never followed' : err.message;
    throw new StoreError(errnoOf(e), `unable to open ${path}: ${why}`, { cause: e });
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new StoreError(Errno.EINVAL, `unable to use ${path}: not a regular file`);
  }
  return { handle, stat };
}
