// A raw socket client for the integration tests. It sends request bytes exactly as given
// and reads answers byte-exactly, every read bounded by a deadline, and tells EOF apart
// from silence. It uses nothing from src/: no byte a test checks is produced or parsed by
// the code under test.
//
// Run as a program (`node raw-client.js`, a JSON job on stdin) it replays a plan and prints
// what it saw as JSON. That is how a test talks to a daemon as another user
// (`setpriv --reuid=U --regid=G --clear-groups node raw-client.js`): the daemon judges the
// credentials of the process that connects.

import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** A hang guard, not a timing assertion: it only fires when a server never answers. */
export const DEFAULT_DEADLINE_MS = 5000;

export type ReadEnd = 'complete' | 'eof' | 'timeout';

export interface ReadResult {
  bytes: Buffer;
  /** complete: got every byte asked for; eof: the server closed first; timeout: it went quiet. */
  end: ReadEnd;
}

export class RawClient {
  readonly #socket: Socket;
  #pending: Buffer = Buffer.alloc(0);
  #eof = false;
  #error: NodeJS.ErrnoException | null = null;
  #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      this.#notify();
    });
    socket.on('end', () => this.#closed());
    socket.on('close', () => this.#closed());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#error ??= err;
      this.#closed();
    });
  }

  /** Connects to a Unix socket; half-open, so that our EOF and the server's are separate events. */
  static connect(path: string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path, allowHalfOpen: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${path}: not connected after ${deadlineMs} ms`));
      }, deadlineMs);
      const onError = (err: Error): void => {
        clearTimeout(timer);
        reject(err);
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RawClient(socket));
      });
    });
  }

  /** True once the server closed its side (or the connection broke). */
  get eof(): boolean {
    return this.#eof;
  }

  /** The first socket error seen (ECONNRESET, EPIPE...), if any. */
  get error(): NodeJS.ErrnoException | null {
    return this.#error;
  }

  /** Bytes received and not read yet. */
  get buffered(): number {
    return this.#pending.length;
  }

  /** Sends bytes in one write. */
  send(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Shuts down our sending side (the client's EOF); reading goes on. */
  end(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#socket.writableEnded || this.#socket.destroyed) resolve();
      else this.#socket.end(() => resolve());
    });
  }

  /** Up to n bytes: stops early only at EOF or when the deadline passes. */
  async read(n: number, deadlineMs = DEFAULT_DEADLINE_MS): Promise<ReadResult> {
    const ok = await this.#until(() => this.#pending.length >= n || this.#eof, deadlineMs);
    const take = Math.min(n, this.#pending.length);
    const bytes = this.#pending.subarray(0, take);
    this.#pending = this.#pending.subarray(take);
    const end: ReadEnd = bytes.length === n ? 'complete' : ok ? 'eof' : 'timeout';
    return { bytes: Buffer.from(bytes), end };
  }

  /** Exactly n bytes, or throws saying what came instead. */
  async readExactly(n: number, deadlineMs = DEFAULT_DEADLINE_MS): Promise<Buffer> {
    const { bytes, end } = await this.read(n, deadlineMs);
    if (end !== 'complete') {
      throw new Error(`expected ${n} bytes, got ${bytes.length} (${bytes.toString('hex')}) then ${end}`);
    }
    return bytes;
  }

  /**
   * Waits for the server's EOF; resolves with whatever it sent before closing (normally
   * nothing) and whether EOF came at all.
   */
  async waitForEof(deadlineMs = DEFAULT_DEADLINE_MS): Promise<{ extra: Buffer; eof: boolean }> {
    const eof = await this.#until(() => this.#eof, deadlineMs);
    const extra = Buffer.from(this.#pending);
    this.#pending = Buffer.alloc(0);
    return { extra, eof };
  }

  /** Closes both directions at once. */
  close(): void {
    this.#socket.destroy();
  }

  #closed(): void {
    this.#eof = true;
    this.#notify();
  }

  #notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  #until(condition: () => boolean, deadlineMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (condition()) {
          clearTimeout(timer);
          resolve(true);
        } else {
          this.#waiters.add(check);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        resolve(false);
      }, deadlineMs);
      this.#waiters.add(check);
    });
  }
}

// ---- replaying a conversation ----

/**
 * One step of a conversation, in the shape of the captured transcripts: client bytes,
 * server bytes, or either side's EOF. Replaying a plan sends the C>S bytes, reads as many
 * bytes as each S>C chunk holds, and reports what really happened in the same shape,
 * so a test compares a whole conversation with one deepEqual.
 */
export type Chunk =
  | { dir: 'C>S' | 'S>C'; hex: string }
  | { dir: 'C>S' | 'S>C'; event: 'EOF' }
  /** The server sent nothing more and did not close before the deadline. */
  | { dir: 'S>C'; event: 'TIMEOUT' }
  /** Sending failed (EPIPE after the server closed, for instance). */
  | { dir: 'C>S'; event: 'ERROR'; code: string };

export async function replay(client: RawClient, plan: readonly Chunk[], deadlineMs = DEFAULT_DEADLINE_MS): Promise<Chunk[]> {
  const seen: Chunk[] = [];
  let serverEof = false;
  const noteEnd = (end: ReadEnd): void => {
    if (end === 'eof' && !serverEof) {
      serverEof = true;
      seen.push({ dir: 'S>C', event: 'EOF' });
    } else if (end === 'timeout') {
      seen.push({ dir: 'S>C', event: 'TIMEOUT' });
    }
  };
  for (const step of plan) {
    if (step.dir === 'C>S' && 'hex' in step) {
      try {
        await client.send(Buffer.from(step.hex, 'hex'));
        seen.push({ dir: 'C>S', hex: step.hex });
      } catch (e) {
        seen.push({ dir: 'C>S', event: 'ERROR', code: String((e as NodeJS.ErrnoException).code ?? e) });
      }
    } else if (step.dir === 'C>S') {
      await client.end();
      seen.push({ dir: 'C>S', event: 'EOF' });
    } else if ('hex' in step) {
      if (serverEof && client.buffered === 0) continue; // already reported: nothing more can come
      const { bytes, end } = await client.read(step.hex.length / 2, deadlineMs);
      if (bytes.length > 0) seen.push({ dir: 'S>C', hex: bytes.toString('hex') });
      noteEnd(end);
    } else {
      if (serverEof && client.buffered === 0) continue;
      const { extra, eof } = await client.waitForEof(deadlineMs);
      if (extra.length > 0) seen.push({ dir: 'S>C', hex: extra.toString('hex') });
      noteEnd(eof ? 'eof' : 'timeout');
    }
  }
  return seen;
}

/** Connects, replays the plan, closes. */
export async function replayOn(socketPath: string, plan: readonly Chunk[], deadlineMs = DEFAULT_DEADLINE_MS): Promise<Chunk[]> {
  const client = await RawClient.connect(socketPath, deadlineMs);
  try {
    return await replay(client, plan, deadlineMs);
  } finally {
    client.close();
  }
}

// ---- running as another user ----

export interface Credentials {
  uid: number;
  gid: number;
  /** Supplementary groups; none when unset (setpriv --clear-groups). */
  groups?: number[];
}

/** setpriv arguments that run a command with exactly these real and effective ids. */
export function setprivArgs(who: Credentials): string[] {
  const groups = who.groups && who.groups.length > 0 ? [`--groups=${who.groups.join(',')}`] : ['--clear-groups'];
  return [`--reuid=${who.uid}`, `--regid=${who.gid}`, ...groups];
}

interface Job {
  socket: string;
  plan: Chunk[];
  deadlineMs: number;
}

const SCRIPT = fileURLToPath(import.meta.url);

/**
 * Replays the plan from a child process running as `who` (under setpriv), so the server
 * sees those credentials. The child must be able to reach the socket: its directory needs
 * search permission for that user. Root (uid 0, gid 0) replays in this process.
 */
export async function replayAs(
  who: Credentials,
  socketPath: string,
  plan: readonly Chunk[],
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<Chunk[]> {
  if (who.uid === 0 && who.gid === 0 && !who.groups?.length && process.getuid?.() === 0) {
    return replayOn(socketPath, plan, deadlineMs);
  }
  const job: Job = { socket: socketPath, plan: [...plan], deadlineMs };
  return (JSON.parse(await runAs(who, JSON.stringify(job))) as { seen: Chunk[] }).seen;
}

/**
 * Replays several plans, one connection each, in order, from one child process running as
 * `who`: one process start instead of one per plan.
 */
export async function replayEachAs(
  who: Credentials,
  socketPath: string,
  plans: readonly (readonly Chunk[])[],
  deadlineMs = DEFAULT_DEADLINE_MS,
): Promise<Chunk[][]> {
  const jobs = { jobs: plans.map((plan) => ({ socket: socketPath, plan: [...plan], deadlineMs })) };
  return (JSON.parse(await runAs(who, JSON.stringify(jobs))) as { seens: Chunk[][] }).seens;
}

/** This script as `who` (setpriv), given input on stdin: what it printed. */
async function runAs(who: Credentials, input: string): Promise<string> {
  const child = spawn('setpriv', [...setprivArgs(who), process.execPath, SCRIPT], { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  child.stdin.end(input);
  const code = await exited;
  if (code !== 0) throw new Error(`raw client as uid ${who.uid} gid ${who.gid} exited ${code}: ${err.trim()}`);
  return out;
}

async function main(): Promise<void> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const input = JSON.parse(text) as Job | { jobs: Job[] };
  if ('jobs' in input) {
    const seens: Chunk[][] = [];
    for (const job of input.jobs) seens.push(await replayOn(job.socket, job.plan, job.deadlineMs));
    process.stdout.write(`${JSON.stringify({ seens })}\n`);
    return;
  }
  const seen = await replayOn(input.socket, input.plan, input.deadlineMs);
  process.stdout.write(`${JSON.stringify({ seen })}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`raw-client: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}

// ---- waiting for things that happen after the connection closes ----

/**
 * Polls until condition() holds; false if it still does not after deadlineMs. For effects
 * that trail the connection's end (a UCSPI daemon writes its fatal message to stderr after
 * closing the socket), so tests assert the outcome without assuming an order in time.
 */
export async function eventually(condition: () => boolean, deadlineMs = DEFAULT_DEADLINE_MS): Promise<boolean> {
  const stopAt = Date.now() + deadlineMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= stopAt) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
