// Real accounts for a test, removed afterwards. useradd makes names up to 32 bytes; it
// refuses longer ones, which other name services (SSSD fully qualified names, LDAP) serve
// all the same, so those are written to /etc/passwd directly under glibc's lckpwdf lock.

import { spawnSync } from 'node:child_process';
import { PYTHON, type User } from './fuzz-hardening.js';

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr.trim()}`);
  return r.stdout;
}

// Adds or removes one passwd line (argv: add|remove NAME [UID]); gid 65534, no home.
const PY_PASSWD = [
  'import ctypes, sys',
  "libc = ctypes.CDLL('libc.so.6')",
  "assert libc.lckpwdf() == 0, 'lckpwdf failed'",
  'try:',
  "    lines = open('/etc/passwd').read().splitlines(True)",
  "    lines = [l for l in lines if l.split(':')[0] != sys.argv[2]]",
  "    if sys.argv[1] == 'add':",
  "        lines.append('%s:x:%s:65534::/nonexistent:/usr/sbin/nologin\\n' % (sys.argv[2], sys.argv[3]))",
  "    open('/etc/passwd.policy-tmp', 'w').write(''.join(lines))",
  "    import os; os.chmod('/etc/passwd.policy-tmp', 0o644); os.rename('/etc/passwd.policy-tmp', '/etc/passwd')",
  'finally:',
  '    libc.ulckpwdf()',
].join('\n');

function uidOf(name: string): number {
  return Number(must('id', ['-u', name]).trim());
}

function freeUid(): number {
  for (let uid = 61_500; uid < 62_000; uid++) {
    if (spawnSync('getent', ['passwd', String(uid)]).status !== 0) return uid;
  }
  throw new Error('no free uid in 61500..61999');
}

/** Creates the accounts (names of any length), runs fn, removes them whatever happens. */
export async function withUsers<T>(names: string[], fn: (users: User[]) => Promise<T>): Promise<T> {
  const made: { name: string; direct: boolean }[] = [];
  try {
    const users: User[] = [];
    for (const name of names) {
      const direct = Buffer.byteLength(name) > 32;
      // A leftover of an interrupted run goes first.
      if (direct) spawnSync(PYTHON, ['-c', PY_PASSWD, 'remove', name]);
      else spawnSync('userdel', [name]);
      if (direct) must(PYTHON, ['-c', PY_PASSWD, 'add', name, String(freeUid())]);
      else must('useradd', ['-M', '-N', '-g', '65534', '-s', '/usr/sbin/nologin', name]);
      made.push({ name, direct });
      users.push({ name, uid: uidOf(name), gid: 65534 });
    }
    return await fn(users);
  } finally {
    for (const { name, direct } of made.reverse()) {
      if (direct) spawnSync(PYTHON, ['-c', PY_PASSWD, 'remove', name]);
      else spawnSync('userdel', [name]);
    }
  }
}
