// utmps-utmpd: the utmp service for one connection under a superserver. Serves the file
// `utmp` in the working directory, as upstream does.
//
// Unlike upstream, a connection idle between requests for 5 minutes (-i) is closed by
// default: each one is a whole process, and a silent one would otherwise live forever.

import { runDaemon } from '../server/daemon-main.js';
import { runInBackground } from '../server/read-slots.js';
import { UtmpService } from '../server/utmp-service.js';
import { UtmpFile } from '../store/utmp-file.js';

void runDaemon({
  prog: 'utmps-utmpd',
  usage: 'utmps-utmpd [ -t timeout-ms ] [ -i idle-timeout-ms (default 300000; 0: none) ] [ -L lock-timeout-ms ] [ -F utmps|glibc ]',
  defaultIdleMs: 300_000,
  async build(args, peer, policy, events) {
    if (args.file !== undefined) throw new Error('utmps-utmpd takes no file argument: it serves ./utmp');
    // A peer that may not write is only ever served reads: serve it at the readers' low
    // priority, so any number of reading processes leave the CPU to login programs. (No
    // rate limiter here, so asking takes no token.)
    if (policy.utmpWrite(peer) !== null) runInBackground();
    const file = await UtmpFile.open('utmp', { layout: args.layout, mode: args.createMode, lockTimeoutMs: args.lockTimeoutMs, warn: args.warn });
    return new UtmpService(file, peer, policy, events);
  },
  exitFor(end) {
    switch (end.reason) {
      case 'eof':
      case 'hangup':
      case 'done':
      case 'shutdown':
        return { code: 0 };
      case 'protocol':
        return { code: 1, message: `unable to interpret stdin: Protocol error (${end.message})` };
      case 'truncated':
        return { code: 111, message: `unable to read from stdin: Broken pipe (${end.message})` };
      case 'timeout':
        return { code: 111, message: `unable to serve the client: Connection timed out (${end.message})` };
      default:
        return { code: 111, message: `unable to serve the client: ${end.message}` };
    }
  },
});
