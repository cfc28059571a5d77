// last: the login history from wtmp, newest first, each login paired with its logout.
//
//   node last.mjs [limit]

import { entryTimeISO, readWtmp, RecordType } from 'utmps-ts';

const limit = Number(process.argv[2] ?? 50);
const logoutOf = new Map(); // line -> time of the next logout seen (we read backwards)
for await (const { record } of readWtmp({ newestFirst: true, limit, timeoutMs: 5000 })) {
  const e = record.entry;
  if (e.type === RecordType.DEAD_PROCESS || (e.type === RecordType.USER_PROCESS && e.user === '')) {
    logoutOf.set(e.line, entryTimeISO(e));
  } else if (e.type === RecordType.USER_PROCESS) {
    const until = logoutOf.get(e.line) ?? 'still logged in';
    logoutOf.delete(e.line);
    console.log(`${e.user.padEnd(10)} ${e.line.padEnd(10)} ${e.host.padEnd(16)} ${entryTimeISO(e)} - ${until}`);
  } else if (e.type === RecordType.BOOT_TIME) {
    console.log(`reboot     system boot ${entryTimeISO(e)}`);
  }
}
