// Small helpers shared by the command-line programs: skarnet's exit codes and messages
// (100 usage, 111 system failure; `prog: fatal: unable to <do what>: <reason>`).

export const EXIT_USAGE = 100;
export const EXIT_FAILURE = 111;

export function warn(prog: string, message: string): void {
  process.stderr.write(`${prog}: warning: ${message}\n`);
}

/** Prints `prog: fatal: message` and exits (111 unless told otherwise). */
export function fatal(prog: string, message: string, exitCode: number = EXIT_FAILURE): never {
  process.stderr.write(`${prog}: fatal: ${message}\n`);
  process.exit(exitCode);
}

/** Prints `prog: usage: text` and exits 100. */
export function usage(prog: string, text: string): never {
  process.stderr.write(`${prog}: usage: ${text}\n`);
  process.exit(EXIT_USAGE);
}
