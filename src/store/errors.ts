// Store failures carry an errno so a daemon can answer it on the wire.

import { errnoName } from '../errno.js';

export class StoreError extends Error {
  readonly code: string;
  constructor(
    readonly errno: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
    this.code = errnoName(errno);
  }
}
