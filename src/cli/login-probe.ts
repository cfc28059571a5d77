// Is a login still there? util-linux last's "gone - no logout", judged on this system
// (/proc and NSS): the readers' concern, not the store's.

import { readFileSync, statSync } from 'node:fs';

let bootTime: number | undefined;

/** When this system booted (/proc/stat btime), in seconds; 0 if unknown. */
export function systemBootTime(): number {
  if (bootTime === undefined) {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
      bootTime = m ? Number(m[1]) : 0;
    } catch {
      bootTime = 0;
    }
  }
  return bootTime;
}

/** Answers whether a login with no logout is gone; names and lines are latin1 byte strings. */
export type LoginProbe = (user: string, pid: number, line: string, login: number) => boolean;

/** Logins from before this boot are gone whatever else holds: no user lookup needed. */
export const loginBeforeBoot: LoginProbe = (_user, _pid, _line, login) => login < systemBootTime();

/**
 * The full probe, judged on this system as util-linux last does: a login is gone if it
 * predates the current boot, if its user does not exist, or if its process's login uid
 * (or, without such a process, the owner of /dev/LINE) is not the user's uid. Loads the
 * native addon (NSS lookups), so callers load it only when a login is recent enough.
 */
export async function loadLoginProbe(): Promise<LoginProbe> {
  const { lookupUserByNameSync } = await import('../sys/native.js');
  return (user, pid, line, login) => {
    if (login < systemBootTime()) return true;
    let uid: number;
    try {
      const pw = lookupUserByNameSync(Buffer.from(user.slice(0, 31), 'latin1').toString());
      if (!pw) return true;
      uid = pw.uid;
    } catch {
      return true;
    }
    let loginUid: string | undefined;
    try {
      loginUid = readFileSync(`/proc/${pid >>> 0}/loginuid`, 'latin1');
    } catch {
      loginUid = undefined;
    }
    if (loginUid !== undefined) {
      const m = /^\d+/.exec(loginUid);
      return m === null || Number(m[0]) !== uid;
    }
    try {
      return statSync(Buffer.concat([Buffer.from('/dev/'), Buffer.from(line, 'latin1')])).uid !== uid;
    } catch {
      return true;
    }
  };
}
