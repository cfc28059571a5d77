// utmps-wtmpd [file]: the wtmp service for one connection under a superserver. Appends to
// `file` (default `wtmp`, relative to the working directory), as upstream does. Reads utmp
// (-U, default /run/utmps/utmp) only to check a non-root peer's DEAD_PROCESS records.

import { oneRequestExit, runDaemon } from '../server/daemon-main.js';
import { utmpViewAt } from '../server/utmp-view.js';
import { backgroundReads } from '../server/read-slots.js';
import { WtmpService } from '../server/wtmp-service.js';
import { WtmpFile } from '../store/wtmp-file.js';

void runDaemon({
  prog: 'utmps-wtmpd',
  usage:
    'utmps-wtmpd [ -t timeout-ms ] [ -L lock-timeout-ms ] [ -f follow-timeout-ms ] [ -F utmps|glibc ] [ -U utmp-file ] [ file ]\n' +
    '  -U, --utmp-file PATH   utmp, read to check that a non-root DEAD_PROCESS ends a session of its own\n' +
    '                         (default /run/utmps/utmp; unreadable: such records are refused)',
  utmpFileOption: true,
  async build(args, peer, policy, events) {
    const file = await WtmpFile.open(args.file ?? 'wtmp', { layout: args.layout, mode: args.createMode, lockTimeoutMs: args.lockTimeoutMs, warn: args.warn });
    return new WtmpService(
      file,
      peer,
      policy,
      events,
      { followTimeoutMs: args.followTimeoutMs, readGate: backgroundReads },
      utmpViewAt(args.utmpFile, args.layout, args.lockTimeoutMs),
    );
  },
  exitFor: oneRequestExit,
});
