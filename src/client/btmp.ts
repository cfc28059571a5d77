// btmp (failed logins) through btmpd: wtmpd's protocol on another socket, root only
// (docs/PROTOCOL-EXTENSIONS.md). The wtmp functions, pointed at the btmp socket.

import { btmpdSocketPath } from './paths.js';
import type { ConnectOptions, RecordInput } from './types.js';
import { appendWtmp } from './wtmp.js';
import { readWtmp, type WtmpReadItem, type WtmpReadOptions } from './wtmp-read.js';

/** Appends one failed-login record to btmp (root only: anyone else gets EPERM). */
export function appendBtmp(record: RecordInput, options: ConnectOptions = {}): Promise<void> {
  return appendWtmp(record, { ...options, path: btmpdSocketPath(options.path) });
}

/** Yields btmp records, with readWtmp's options (root only: anyone else gets EPERM). */
export function readBtmp(options: WtmpReadOptions = {}): AsyncGenerator<WtmpReadItem> {
  return readWtmp({ ...options, path: btmpdSocketPath(options.path) });
}
