// Processes a test started under a temp root (supervisors, daemons, loggers): found by a
// command line naming the root or a working directory inside it, so that none outlives
// its test.

import { readdir, readFile, readlink } from 'node:fs/promises';

export async function processesUnder(root: string): Promise<Array<{ pid: number; command: string }>> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let command: string;
    try {
      command = (await readFile(`/proc/${entry}/cmdline`, 'latin1')).replaceAll('\0', ' ').trim();
    } catch {
      continue; // gone
    }
    let cwd = '';
    try {
      cwd = await readlink(`/proc/${entry}/cwd`);
    } catch {
      // a zombie, or already gone
    }
    if (command.includes(root) || cwd === root || cwd.startsWith(`${root}/`)) found.push({ pid: Number(entry), command });
  }
  return found;
}

export async function killUnder(root: string): Promise<void> {
  for (const p of await processesUnder(root)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
