// Running the system's readers (who, last, lastb, utmpdump) and ours side by side: UTC, the
// C locale, output kept byte for byte (latin1), never waiting forever.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import assert from 'node:assert/strict';

import { BIN } from './paths.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export const READER_ENV = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };

export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = READER_ENV): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'latin1', timeout: 60_000, maxBuffer: 1 << 28 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `utmps ARGS...` with the readers' environment. */
export const utmps = (...args: string[]): Promise<Run> => run(process.execPath, [join(BIN, 'utmps'), ...args]);

/** Runs the system's TOOL and `utmps COMMAND` with the same arguments; they must print the same lines. */
export async function sameAsSystem(tool: string, command: string, args: string[]): Promise<string> {
  const theirs = await run(tool, args);
  const ours = await utmps(command, ...args);
  assert.equal(ours.code, theirs.code, ours.stderr);
  assert.deepEqual(ours.stdout.split('\n'), theirs.stdout.split('\n'), `${tool} ${args.join(' ')}`);
  return ours.stdout;
}
