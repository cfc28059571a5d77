// utmps-btmpd [file]: the btmp (failed logins) service for one connection under a
// superserver. wtmpd's protocol on `file` (default `btmp`, relative to the working
// directory), for root only: anyone else is answered EPERM and the file is not even
// opened. Created mode 0600.

import { BTMP_MODE, BtmpService, warnLooseBtmp } from '../server/btmp-service.js';
import { oneRequestExit, runDaemon } from '../server/daemon-main.js';
import { backgroundReads } from '../server/read-slots.js';
import { WtmpService } from '../server/wtmp-service.js';
import { WtmpFile } from '../store/wtmp-file.js';

void runDaemon({
  prog: 'utmps-btmpd',
  usage:
    'utmps-btmpd [ -t timeout-ms ] [ -L lock-timeout-ms ] [ -f follow-timeout-ms ] [ -F utmps|glibc ] [ file ]\n' +
    '  root only: appends and reads by any other uid are answered EPERM; file (default btmp) is created mode 0600',
  async build(args, peer, policy, events) {
    return new BtmpService(peer, policy, events, async () => {
      const path = args.file ?? 'btmp';
      const file = await WtmpFile.open(path, { layout: args.layout, mode: BTMP_MODE, lockTimeoutMs: args.lockTimeoutMs, warn: args.warn });
      warnLooseBtmp(path, file.fd, args.warn);
      // Root only, so no utmp is needed to judge DEAD_PROCESS records.
      return new WtmpService(file, peer, policy, events, { followTimeoutMs: args.followTimeoutMs, readGate: backgroundReads });
    });
  },
  exitFor: oneRequestExit,
});
