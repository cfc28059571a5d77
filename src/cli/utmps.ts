// utmps: the reading tools, one program with subcommands (who, last, lastb, lastlog,
// timeline, dump, convert).
// Each subcommand lives in utmps-<name>.ts and is loaded only when asked for, so a quick
// `utmps last -n 10` pays for nothing else.

import { Exit, PROG } from './utmps-io.js';

const COMMANDS: Readonly<Record<string, () => Promise<{ run(argv: string[]): number | Promise<number> }>>> = {
  who: () => import('./utmps-who.js'),
  last: () => import('./utmps-last.js'),
  lastb: () => import('./utmps-lastb.js'),
  lastlog: () => import('./utmps-lastlog.js'),
  timeline: () => import('./utmps-timeline.js'),
  dump: () => import('./utmps-dump.js'),
  convert: () => import('./utmps-convert.js'),
  reap: () => import('./utmps-reap.js'),
  boot: () => import('./utmps-boot.js'),
  shutdown: () => import('./utmps-shutdown.js'),
  ship: () => import('./utmps-ship.js'),
  seal: () => import('./utmps-seal.js'),
  verify: () => import('./utmps-verify.js'),
};

const USAGE = `utmps ${Object.keys(COMMANDS).join('|')} [ options ] (utmps COMMAND --help for each)`;

const HELP = `usage: ${USAGE}

  who       who is logged in (utmpd, or a utmp file)           like coreutils who
  last      login history from wtmp, newest first              like util-linux last
  lastb     failed logins from btmp, newest first; --summary   like util-linux lastb
  lastlog   each user's latest login, from wtmp                like shadow lastlog
  timeline  sessions, boots and failed logins as an SVG picture
  dump      records as text, and back with --reverse           like util-linux utmpdump
  convert   a utmp/wtmp file between the utmps and glibc layouts
  boot      record a boot: stale entries dead, BOOT_TIME, RUN_LVL    like systemd-update-utmp
  shutdown  record a shutdown in wtmp, live entries dead             like halt
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const load = name === undefined ? undefined : COMMANDS[name];
  if (!load) throw new Exit(100, `usage: ${USAGE}`);
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (e: unknown) => {
    if (e instanceof Exit) {
      if (e.message) process.stderr.write(`${PROG}: ${e.message}\n`);
      process.exitCode = e.status;
      return;
    }
    process.stderr.write(`${PROG}: fatal: ${String((e as Error)?.stack ?? e)}\n`);
    process.exitCode = 111;
  },
);
