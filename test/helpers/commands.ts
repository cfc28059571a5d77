// Running system commands from tests: capture both streams, never wait forever.

import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** A hang guard for one command, not a timing assertion. */
export const COMMAND_GUARD_MS = 30_000;

export interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: COMMAND_GUARD_MS,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The full path of an executable on $PATH, or null. */
export async function which(program: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      await access(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not in this directory
    }
  }
  return null;
}

export async function onPath(program: string): Promise<boolean> {
  return (await which(program)) !== null;
}

/** uid, primary gid and its group name of an account, or null when there is none. */
export async function accountIds(name: string): Promise<{ uid: number; gid: number; group: string } | null> {
  const [u, g, n] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name]), run('id', ['-gn', name])]);
  if (u.code !== 0 || g.code !== 0 || n.code !== 0) return null;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()), group: n.stdout.trim() };
}
