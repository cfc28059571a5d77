// Where `utmps ship` sends messages: the --to URL, parsed, and the interface every kind of
// target implements (one file per kind: tcp.ts, udp.ts, datagram.ts, stdout.ts).

import type { Report } from './source.js';

export interface Target {
  /** Human name for messages ("tcp://127.0.0.1:514"). */
  readonly name: string;
  /**
   * Sends the messages, in order. Resolves once they are handed over as far as this kind
   * of target can tell (docs/SHIPPING.md, "What the cursor means"); while the target is
   * unreachable it keeps trying (with backoff) until the signal aborts, then rejects.
   */
  send(messages: Buffer[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type TargetSpec =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'udp'; host: string; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'journal'; path: string }
  | { kind: 'stdout' };

export const DEFAULT_JOURNAL_SOCKET = '/run/systemd/journal/socket';

function hostPort(url: URL, text: string): { host: string; port: number } {
  const port = Number(url.port);
  if (!url.hostname || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new RangeError(`'${text}' needs a host and a port (like udp://127.0.0.1:514)`);
  }
  // new URL keeps IPv6 literals in brackets.
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * -: stdout; journal (journald's socket, or $UTMPS_JOURNAL_SOCKET); journal:///path;
 * unix:///dev/log; udp://host:port; tcp://host:port.
 */
export function parseTarget(text: string, env: NodeJS.ProcessEnv = process.env): TargetSpec {
  if (text === '-') return { kind: 'stdout' };
  if (text === 'journal') return { kind: 'journal', path: env.UTMPS_JOURNAL_SOCKET || DEFAULT_JOURNAL_SOCKET };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(`'${text}' is not a target (expected -, journal, unix:///path, udp://host:port or tcp://host:port)`);
  }
  switch (url.protocol) {
    case 'tcp:':
      return { kind: 'tcp', ...hostPort(url, text) };
    case 'udp:':
      return { kind: 'udp', ...hostPort(url, text) };
    case 'unix:':
    case 'journal:':
      if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname === '/') {
        throw new RangeError(`'${text}' needs an absolute path (like unix:///dev/log)`);
      }
      return { kind: url.protocol === 'unix:' ? 'unix' : 'journal', path: decodeURIComponent(url.pathname) };
    default:
      throw new RangeError(`unknown target kind '${url.protocol}' (expected unix:, udp:, tcp:, journal or -)`);
  }
}

export function targetName(spec: TargetSpec): string {
  switch (spec.kind) {
    case 'tcp':
    case 'udp':
      return `${spec.kind}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
    case 'unix':
      return `unix://${spec.path}`;
    case 'journal':
      return `journal://${spec.path}`;
    case 'stdout':
      return 'standard output';
  }
}

export async function openTarget(spec: TargetSpec, report: Report): Promise<Target> {
  switch (spec.kind) {
    case 'tcp':
      return new (await import('./tcp.js')).TcpTarget(spec.host, spec.port, report);
    case 'udp':
      return new (await import('./udp.js')).UdpTarget(spec.host, spec.port, report);
    case 'unix':
    case 'journal':
      return new (await import('./datagram.js')).DatagramTarget(spec.path, targetName(spec), report);
    case 'stdout':
      return new (await import('./stdout.js')).StdoutTarget();
  }
}

/** Exponential backoff from 100 ms, doubling, at most 30 s. */
export class Backoff {
  private ms = 0;
  constructor(
    private readonly first = 100,
    private readonly max = 30_000,
  ) {}
  next(): number {
    this.ms = this.ms === 0 ? this.first : Math.min(this.ms * 2, this.max);
    return this.ms;
  }
  reset(): void {
    this.ms = 0;
  }
}
