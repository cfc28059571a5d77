// Logging to stderr, one line per event, `utmpsd: level: message`. Quiet by default:
// only refused or failed requests and problems; never record contents.

export type LogLevel = 'quiet' | 'normal' | 'verbose';

export class Logger {
  constructor(
    private readonly prog: string,
    private readonly level: LogLevel = 'normal',
    private readonly out: (line: string) => void = (line) => process.stderr.write(line),
  ) {}

  /** Failures of the server itself: always shown. */
  error(message: string): void {
    this.out(`${this.prog}: error: ${message}\n`);
  }

  /** Refused or failed requests, odd files: shown unless quiet. */
  warn(message: string): void {
    if (this.level !== 'quiet') this.out(`${this.prog}: warning: ${message}\n`);
  }

  /** Start and stop: shown unless quiet. */
  notice(message: string): void {
    if (this.level !== 'quiet') this.out(`${this.prog}: info: ${message}\n`);
  }

  /** Per-connection detail: only when verbose. */
  info(message: string): void {
    if (this.level === 'verbose') this.out(`${this.prog}: info: ${message}\n`);
  }
}
