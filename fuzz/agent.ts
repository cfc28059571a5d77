// The fuzzer's second identity. `node agent.js`, started under setpriv as another user,
// reads one JSON job per line on stdin ({ id, socket, guardMs, conv }), plays each
// conversation as soon as it arrives (several at once), and writes one JSON line per job on
// stdout ({ id, outcome }). The daemons judge the credentials of the process that connects,
// so conversations played here are nobody's.
//
// The parent side (Agent) starts it and matches answers to jobs by id.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type Conversation,
  converse,
  fromJson,
  type Outcome,
  type OutcomeJson,
  outcomeFromJson,
  outcomeToJson,
  toJson,
  type ConversationJson,
} from './conversation.js';

interface Job {
  id: number;
  socket: string;
  guardMs: number;
  conv: ConversationJson;
}

interface Reply {
  id: number;
  outcome?: OutcomeJson;
  error?: string;
}

const SCRIPT = fileURLToPath(import.meta.url);

/** setpriv options for a user with only its own group. */
export function setpriv(uid: number, gid: number): string[] {
  return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
}

export class Agent {
  private readonly pending = new Map<number, { resolve: (o: Outcome) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stderr = '';
  private exited = false;

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => this.onLine(line));
    child.stderr!.on('data', (c: Buffer) => {
      if (this.stderr.length < 16_384) this.stderr += c.toString();
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      const err = new Error(`fuzz agent exited (${code ?? signal}): ${this.stderr.trim()}`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  /** Starts an agent running as uid:gid (65534:65534 is nobody). */
  static async start(uid = 65534, gid = 65534): Promise<Agent> {
    const [cmd, ...args] = setpriv(uid, gid);
    const child = spawn(cmd, [...args, process.execPath, SCRIPT], { cwd: '/', stdio: ['pipe', 'pipe', 'pipe'] });
    const agent = new Agent(child);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    return agent;
  }

  run(socket: string, conv: Conversation, guardMs: number): Promise<Outcome> {
    if (this.exited) return Promise.reject(new Error(`fuzz agent is gone: ${this.stderr.trim()}`));
    const id = this.nextId++;
    const job: Job = { id, socket, guardMs, conv: toJson(conv) };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify(job)}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  private onLine(line: string): void {
    const reply = JSON.parse(line) as Reply;
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.outcome) p.resolve(outcomeFromJson(reply.outcome));
    else p.reject(new Error(`fuzz agent: ${reply.error}`));
  }
}

async function main(): Promise<void> {
  const running = new Set<Promise<void>>();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const job = JSON.parse(line) as Job;
    const task = converse(job.socket, fromJson(job.conv), job.guardMs).then(
      (o) => process.stdout.write(`${JSON.stringify({ id: job.id, outcome: outcomeToJson(o) } satisfies Reply)}\n`),
      (e: unknown) => process.stdout.write(`${JSON.stringify({ id: job.id, error: String((e as Error)?.stack ?? e) } satisfies Reply)}\n`),
    );
    const tracked = task.then(() => {
      running.delete(tracked);
    });
    running.add(tracked);
  }
  await Promise.all(running);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`fuzz agent: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  });
}
