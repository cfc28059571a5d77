// Dropping root after start-up: sockets and files are created as root, handed to the
// service user, then the process becomes that user for good (no saved root uid).

import { chownSync } from 'node:fs';
import { lookupUserByNameSync } from '../sys/native.js';

export interface Identity {
  name: string;
  uid: number;
  gid: number;
}

export function resolveIdentity(user: string, group: string | undefined): Identity {
  const entry = /^\d+$/.test(user) ? { name: user, uid: Number(user), gid: Number(user) } : lookupUserByNameSync(user);
  if (!entry) throw new Error(`no such user: ${user}`);
  let gid = entry.gid;
  if (group !== undefined) {
    if (!/^\d+$/.test(group)) throw new Error(`--group takes a numeric gid, got '${group}'`);
    gid = Number(group);
  }
  return { name: entry.name, uid: entry.uid, gid };
}

export function handOver(paths: string[], who: Identity): void {
  for (const path of paths) chownSync(path, who.uid, who.gid);
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
