// What the daemon helpers share: the started daemons' shape, a fresh temp dir, waiting
// for readiness and stopping a child. daemons.ts and utmpsd.ts both build on it.

import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

export type TransportKind = 'ucspi' | 'utmpsd';

export interface Daemons {
  kind: TransportKind;
  dir: string;
  utmpSocket: string;
  wtmpSocket: string;
  btmpSocket: string;
  utmpFile: string;
  wtmpFile: string;
  btmpFile: string;
  /** Everything the daemons wrote to stderr so far. */
  stderr(): string;
  stop(): Promise<void>;
}

export interface DaemonOptions {
  format?: 'utmps' | 'glibc';
  /** Body/answer timeout in ms. */
  timeoutMs?: number;
  lockTimeoutMs?: number;
  /** Extra arguments for utmpsd. */
  extra?: string[];
}

export async function makeDir(prefix = 'ut-'): Promise<string> {
  return mkdtemp(join('/tmp', prefix));
}

/** Waits for the readiness newline a server writes on the given stream. */
export function ready(child: ChildProcess, stream: NodeJS.ReadableStream, what: string, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.includes(10)) {
        stream.off('data', onData);
        child.off('exit', onExit);
        resolve();
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`${what} exited with ${code} before it was ready: ${log()}`));
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

