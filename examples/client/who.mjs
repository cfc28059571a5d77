// who: the live sessions in utmp, read through utmpd.
//
//   node who.mjs [--json]

import { RecordType, UtmpSession } from 'utmps-ts';

const json = process.argv.includes('--json');
const session = await UtmpSession.connect({ timeoutMs: 5000 });
try {
  for (const { entry } of await session.readAll()) {
    if (entry.type !== RecordType.USER_PROCESS) continue;
    // JSON.stringify(entry) works: the time comes out as ISO text and numbers.
    if (json) console.log(JSON.stringify(entry));
    else console.log(`${entry.user.padEnd(10)} ${entry.line.padEnd(10)} ${entry.toJSON().time}${entry.host ? ` (${entry.host})` : ''}`);
  }
} finally {
  session.close(); // or: await using session = await UtmpSession.connect() (TypeScript, Node 24)
}
