// Dropping root after start-up: sockets and files are created as root, the files and the
// state directory handed to the service user (through descriptors, see state-dir.ts), then
// the process becomes that user for good (no saved root uid).

import { readFileSync } from 'node:fs';
import { lookupUserByNameSync } from '../sys/native.js';

export interface Identity {
  name: string;
  uid: number;
  gid: number;
}

/** The account databases, as text; read from /etc unless a test gives its own. */
export interface AccountFiles {
  passwd: string;
  group: string;
}

function readAccountFiles(): AccountFiles {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
}

/**
 * Who else has gid as their group: other accounts whose primary group it is, and members
 * listed for it in the group file. The files only: accounts from other NSS sources (LDAP,
 * SSSD) are not seen, which is why --group is the safe way to run.
 */
export function sharersOfGroup(gid: number, self: { name: string; uid: number }, files: AccountFiles): { name: string | null; sharers: string[] } {
  const sharers = new Set<string>();
  for (const line of files.passwd.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || f[0].startsWith('#')) continue;
    if (Number(f[3]) === gid && f[3] !== '' && f[0] !== self.name && Number(f[2]) !== self.uid) sharers.add(f[0]);
  }
  let name: string | null = null;
  for (const line of files.group.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || f[2] === '' || Number(f[2]) !== gid) continue;
    name ??= f[0];
    for (const member of f[3].split(',')) {
      const m = member.trim();
      if (m !== '' && m !== self.name) sharers.add(m);
    }
  }
  return { name, sharers: [...sharers].sort() };
}

/** A numeric gid, or a group name looked up in the group file. */
function groupId(group: string, files: AccountFiles): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of files.group.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] === group && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  throw new Error(`--group: no such group: ${group}`);
}

/**
 * The account to become. Without --group, the user's primary group is used only when no
 * other account shares it: the files are created group-readable for that group, and a
 * group like Debian's nogroup (nobody's, shared with _apt and others) would open them to
 * everyone in it.
 */
export function resolveIdentity(user: string, group: string | undefined, files: AccountFiles = readAccountFiles()): Identity {
  const entry = /^\d+$/.test(user) ? { name: user, uid: Number(user), gid: Number(user) } : lookupUserByNameSync(user);
  if (!entry) throw new Error(`no such user: ${user}`);
  if (group !== undefined) return { name: entry.name, uid: entry.uid, gid: groupId(group, files) };
  const { name, sharers } = sharersOfGroup(entry.gid, entry, files);
  if (sharers.length > 0) {
    const shown = sharers.length > 5 ? `${sharers.slice(0, 5).join(', ')} and ${sharers.length - 5} more` : sharers.join(', ');
    throw new Error(
      `--user ${user}: its primary group ${entry.gid}${name ? ` (${name})` : ''} is shared with ${shown}; ` +
        'pass --group GID with a group of its own (for example the utmp group)',
    );
  }
  return { name: entry.name, uid: entry.uid, gid: entry.gid };
}

// These exist on every POSIX platform; Node's types mark them optional for Windows.
const posix = process as NodeJS.Process & Required<Pick<NodeJS.Process, 'setgroups' | 'setgid' | 'setuid' | 'getuid' | 'geteuid'>>;

export function becomeUser(who: Identity): void {
  posix.setgroups([who.gid]);
  posix.setgid(who.gid);
  posix.setuid(who.uid);
  if (posix.geteuid() !== who.uid || posix.getuid() !== who.uid) {
    throw new Error(`still uid ${posix.getuid()}/${posix.geteuid()} after setuid(${who.uid})`);
  }
}
