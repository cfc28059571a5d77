// Where utmpsd keeps things. As root: the upstream locations. As anyone else: an embedded
// default under $XDG_RUNTIME_DIR/utmps (or ./.utmps), so it runs with no set-up.

import { join, resolve } from 'node:path';

export interface Locations {
  stateDir: string;
  utmpSocket: string;
  wtmpSocket: string;
  btmpSocket: string;
  utmpFile: string;
  wtmpFile: string;
  btmpFile: string;
}

export interface LocationOverrides {
  stateDir?: string;
  utmpSocket?: string;
  wtmpSocket?: string;
  btmpSocket?: string;
  utmpFile?: string;
  wtmpFile?: string;
  btmpFile?: string;
}

export function resolveLocations(
  given: LocationOverrides,
  euid: number,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): Locations {
  const asRoot = euid === 0 && given.stateDir === undefined;
  const stateDir = resolve(
    cwd,
    given.stateDir ?? (euid === 0 ? '/run/utmps' : env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'utmps') : '.utmps'),
  );
  const at = (p: string | undefined, fallback: string): string => resolve(cwd, p ?? fallback);
  return {
    stateDir,
    utmpSocket: at(given.utmpSocket, join(stateDir, '.utmpd-socket')),
    wtmpSocket: at(given.wtmpSocket, join(stateDir, '.wtmpd-socket')),
    btmpSocket: at(given.btmpSocket, join(stateDir, '.btmpd-socket')),
    utmpFile: at(given.utmpFile, join(stateDir, 'utmp')),
    wtmpFile: at(given.wtmpFile, asRoot ? '/var/log/wtmp' : join(stateDir, 'wtmp')),
    btmpFile: at(given.btmpFile, asRoot ? '/var/log/btmp' : join(stateDir, 'btmp')),
  };
}
