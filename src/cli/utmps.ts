// utmps: the reading tools, one program with subcommands (who, last, dump, convert).
// Each subcommand lives in utmps-<name>.ts and is loaded only when asked for, so a quick
// `utmps last -n 10` pays for nothing else.

import { Exit, PROG } from './utmps-io.js';

const COMMANDS: Readonly<Record<string, () => Promise<{ run(argv: string[]): number | Promise<number> }>>> = {
  who: () => import('./utmps-who.js'),
  last: () => import('./utmps-last.js'),
  dump: () => import('./utmps-dump.js'),
  convert: () => import('./utmps-convert.js'),
  reap: () => import('./utmps-reap.js'),
};

const USAGE = 'utmps who|last|dump|convert|reap [ options ] (utmps COMMAND --help for each)';

const HELP = `usage: ${USAGE}

  who       who is logged in (utmpd, or a utmp file)           like coreutils who
  last      login history from wtmp, newest first              like util-linux last
  dump      records as text, and back with --reverse           like util-linux utmpdump
  convert   a utmp/wtmp file between the utmps and glibc layouts
  reap      end the sessions whose process died without logging out (root)
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
