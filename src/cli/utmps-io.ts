// Shared plumbing of the `utmps` subcommands: buffered output, option parsing with the
// usage exit, error wording. (100 usage, 111 system failure, 1 refusal.)

import { closeSync, constants, existsSync, fsyncSync, linkSync, openSync, readSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GLIBC_LAYOUT, type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';

export const PROG = 'utmps';

// skarnet's exit codes, as in common.ts (not imported: one module less to load).
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 100;
export const EXIT_FAILURE = 111;

/** Thrown to end a subcommand with a message and an exit code; utmps.ts prints it. */
export class Exit extends Error {
  constructor(
    readonly status: number,
    message = '',
  ) {
    super(message);
  }
}

/** A usage error (exit 100), with what was wrong when there is more to say. */
export function usageError(usage: string, what?: string): Exit {
  return new Exit(EXIT_USAGE, `${what === undefined ? '' : `fatal: ${what}\nutmps: `}usage: ${usage}`);
}

/** A bad option value (exit 100): "utmps: fatal: invalid ...", as utmps-write says it. */
export function valueError(what: string): Exit {
  return new Exit(EXIT_USAGE, `fatal: ${what}`);
}

export function fatalError(message: string, status = EXIT_FAILURE): Exit {
  return new Exit(status, `fatal: ${message}`);
}

/** The strerror-like reason of a Node system error ("No such file or directory"). */
export function reason(e: unknown): string {
  const err = e as { code?: string; message?: string; reason?: string };
  if (typeof err?.reason === 'string') return err.reason;
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(err?.message ?? '');
  const text = m ? m[1] : String(err?.message ?? e);
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Runs a util.parseArgs call; its errors become usage errors. */
export function parseOptions<R>(parse: () => R, usage: string): R {
  try {
    return parse();
  } catch (e) {
    throw usageError(usage, (e as Error).message.split('\n')[0]);
  }
}

/** --format utmps|glibc; undefined means detect. */
export function formatOption(value: string | undefined): RecordLayout | undefined {
  if (value === undefined) return undefined;
  if (value === 'utmps') return UTMPS_LAYOUT;
  if (value === 'glibc') return GLIBC_LAYOUT;
  throw valueError(`unknown format '${value}' (expected utmps or glibc)`);
}

/**
 * Output in large chunks, written synchronously: text is latin1 (one char per byte, see
 * src/format/text.ts), encoded straight into one reused buffer. A reader that went away
 * (EPIPE) ends the program quietly.
 */
export class Output {
  private readonly buf: Buffer;
  /** Bytes waiting in the buffer; a writer given room() advances it. */
  pos = 0;

  constructor(
    private readonly fd = 1,
    /** For messages: "unable to write to <name>". */
    private readonly name = 'standard output',
    chunk = 1 << 16,
  ) {
    this.buf = Buffer.allocUnsafe(chunk);
  }

  write(text: string): void {
    if (text.length > this.buf.length - this.pos) {
      this.flush();
      if (text.length > this.buf.length) {
        this.send(Buffer.from(text, 'latin1'));
        return;
      }
    }
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }

  line(text: string): void {
    this.write(text);
    if (this.pos === this.buf.length) this.flush();
    this.buf[this.pos++] = 0x0a;
  }

  /** The buffer, with at least n bytes free from pos (n at most its size). */
  room(n: number): Buffer {
    if (this.buf.length - this.pos < n) this.flush();
    return this.buf;
  }

  bytes(data: Uint8Array): void {
    this.flush();
    this.send(data);
  }

  flush(): void {
    if (this.pos === 0) return;
    const data = this.buf.subarray(0, this.pos);
    this.pos = 0;
    this.send(data);
  }

  private send(data: Uint8Array): void {
    try {
      writeAll(this.fd, data);
    } catch (e) {
      throw fatalError(`unable to write to ${this.name}: ${reason(e)}`);
    }
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** writeSync until done; waits out EAGAIN (a non-blocking pipe inherited as stdout). */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.length) {
    try {
      done += writeSync(fd, data, done, data.length - done);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      if (code === 'EPIPE' && fd === 1) process.exit(0);
      throw e;
    }
  }
}

/** Lines of a file descriptor, read in chunks (latin1, without their newlines). */
export function* readLines(fd: number): Generator<string> {
  const chunk = Buffer.allocUnsafe(1 << 16);
  let rest = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (n === 0) break;
    const parts = (rest + chunk.toString('latin1', 0, n)).split('\n');
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest !== '') yield rest;
}

/** Everything on a file descriptor (stdin), for the few inputs that cannot be streamed. */
export function readAll(fd: number): Buffer {
  const parts: Buffer[] = [];
  const chunk = Buffer.allocUnsafe(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      throw e;
    }
    if (n === 0) return Buffer.concat(parts);
    parts.push(Buffer.from(chunk.subarray(0, n)));
  }
}

/**
 * A file written under a temporary name next to its destination and put in place at
 * commit(): readers never see half a file, and a failure leaves the destination as it was.
 * Without `replace`, commit() refuses (EEXIST) to replace an existing file, atomically.
 */
export class AtomicFile {
  readonly fd: number;
  private readonly temp: string;
  private done = false;

  constructor(
    readonly path: string,
    private readonly replace: boolean,
    mode = 0o644,
  ) {
    // O_EXCL makes the name ours; pid and time keep it from clashing with another run.
    this.temp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.tmp`);
    this.fd = openSync(this.temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  }

  write(data: Uint8Array): void {
    writeAll(this.fd, data);
  }

  commit(): void {
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.done = true;
    try {
      if (this.replace) {
        renameSync(this.temp, this.path);
        return;
      }
      try {
        linkSync(this.temp, this.path); // fails with EEXIST rather than replace
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw e;
        // No hard links here: check, then rename (a small window, unlike link).
        if (existsSync(this.path)) throw Object.assign(new Error('file exists'), { code: 'EEXIST' });
        renameSync(this.temp, this.path);
        return;
      }
      unlinkSync(this.temp);
    } catch (e) {
      rmSync(this.temp, { force: true });
      throw e;
    }
  }

  /** Drops the temporary file; the destination is untouched. */
  abort(): void {
    if (!this.done) {
      this.done = true;
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
    }
    rmSync(this.temp, { force: true });
  }
}
