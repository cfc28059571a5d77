// Opening a database file safely: never through a symlink, never anything but a regular
// file (a FIFO would hang us, a device would be worse), created with a fixed mode.

import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StoreError } from './errors.js';

const { O_RDWR, O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_CLOEXEC } = constants as typeof constants & { O_CLOEXEC?: number };

export interface OpenedFile {
  handle: FileHandle;
  stat: Stats;
}

export async function openDatabaseFile(path: string, mode = 0o644): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | (O_CLOEXEC ?? 0), mode);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // O_NOFOLLOW on a symlink fails with ELOOP: say what it means.
    const why = err.code === 'ELOOP' ? 'it is a symbolic link, which is never followed' : err.message;
    throw new StoreError(Math.abs(err.errno ?? 5), `unable to open ${path}: ${why}`, { cause: e });
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new StoreError(22, `unable to use ${path}: not a regular file`);
  }
  return { handle, stat };
}
