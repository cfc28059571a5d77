// Following logins: wtmp records as they are appended, one JSON line each.
//
//   node follow.mjs [count] [seconds]    (stops after `count` records or `seconds`)

import { readWtmp } from 'utmps-ts';

const count = Number(process.argv[2] ?? Infinity);
const seconds = Number(process.argv[3] ?? 60);
// The signal ends the follow; timeoutMs bounds only the connect and the (empty) history.
const signal = AbortSignal.timeout(seconds * 1000);
let seen = 0;
console.error('following'); // the stream is open: from now on, every new record comes
try {
  for await (const { record } of readWtmp({ liveOnly: true, signal, timeoutMs: 5000 })) {
    console.log(JSON.stringify(record)); // a record serializes as its entry
    if (++seen >= count) break; // leaving the loop closes the connection
  }
} catch (e) {
  // Aborts are Node-style: name AbortError, code ABORT_ERR; a timeout signal gives ETIMEDOUT.
  if (e.code !== 'ETIMEDOUT' && e.code !== 'ABORT_ERR') throw e;
}
