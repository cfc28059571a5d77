// The permission model as a client meets it. Run it as an ordinary user: every refusal is a
// UtmpsError whose code is EPERM (or EDQUOT) and whose message names the rule.
//
//   node permissions.mjs

import { userInfo } from 'node:os';
import { appendWtmp, nowTimeval, pututxline, UtmpsError } from 'utmps-ts';

const me = userInfo().username;
const attempts = {
  // utmp: only root and the utmp daemon's group may write.
  'utmp write': (options) => pututxline({ type: 'USER_PROCESS', line: 'web/9', id: 'w9', user: me, pid: process.pid, ...nowTimeval() }, options),
  // wtmp: a record must name the writer's own user...
  'wtmp record for root': (options) => appendWtmp({ type: 'USER_PROCESS', line: 'web/9', id: 'w9', user: 'root', pid: process.pid, ...nowTimeval() }, options),
  // ...and be a login or logout of the writer's own lines; writers other than root are rate-limited (EDQUOT).
  [`wtmp record for ${me}`]: (options) => appendWtmp({ type: 'USER_PROCESS', line: 'web/9', id: 'w9', user: me, pid: process.pid, ...nowTimeval() }, options),
};
for (const [what, attempt] of Object.entries(attempts)) {
  try {
    await attempt({ timeoutMs: 5000 });
    console.log(`${what}: allowed`);
  } catch (e) {
    if (!(e instanceof UtmpsError)) throw e;
    console.log(`${what}: ${e.code}: ${e.reason}`);
  }
}
