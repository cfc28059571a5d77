// utmpsd: one long-running process serving both the utmp and the wtmp service, with the
// same sessions and rules as the UCSPI daemons. Peer credentials come from the kernel
// (SO_PEERCRED) for every accepted connection.

import type { Socket } from 'node:net';
import { hungUp, peerCredentials, socketFd } from '../sys/native.js';
import type { UtmpFile } from '../store/utmp-file.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import { ConnectionLimits, type ConnectionLimitOptions } from './limits.js';
import { type Listener, listenOnFd, listenOnPath, removeSocket, type ServiceName } from './listen.js';
import type { Logger } from './log.js';
import { LogSummary } from './log-summary.js';
import type { Peer, Policy } from './policy.js';
import { ReadSlots } from './read-slots.js';
import { type ServiceHandler, Session, type SessionEnd, type SessionTimeouts, type Transport } from './session.js';
import { UtmpService } from './utmp-service.js';
import { utmpViewOf } from './utmp-view.js';
import { DEFAULT_FOLLOW_TIMEOUT_MS } from './wtmp-read.js';
import { WtmpService } from './wtmp-service.js';

export interface UtmpsdStats {
  connections: number;
  /** The most answer bytes any one connection has held at once (Session.peakBuffered). */
  peakBufferedPerConnection: number;
}

export interface UtmpsdOptions {
  /** Where to listen: a path to create, or an inherited listening fd. */
  sockets: Record<ServiceName, { path: string } | { fd: number }>;
  utmp: UtmpFile;
  wtmp: WtmpFile;
  policy: Policy;
  timeouts: SessionTimeouts;
  limits: ConnectionLimitOptions;
  /** A wtmp follower sent nothing for this long is closed; 0: never. */
  followTimeoutMs?: number;
  /** Concurrent wtmp history reads per non-root uid (read-slots.ts); default 2. */
  readsPerUid?: number;
  log: Logger;
  /** Window of the per-(uid, reason) log summary (log-summary.ts; default 10 s). */
  logWindowMs?: number;
}

export class Utmpsd {
  private readonly listeners: Listener[] = [];
  private readonly sessions = new Set<Session>();
  private readonly limits: ConnectionLimits;
  /** Refusals and failed connections: per request for root, summarised for everyone else. */
  private readonly summary: LogSummary;
  private readonly readSlots: ReadSlots;
  private stopping: Promise<void> | null = null;
  private peakBuffered = 0;
  private drained: (() => void) | null = null;

  private constructor(private readonly options: UtmpsdOptions) {
    this.limits = new ConnectionLimits(options.limits);
    this.summary = new LogSummary((line) => options.log.warn(line), { windowMs: options.logWindowMs });
    this.readSlots = new ReadSlots(options.readsPerUid);
  }

  static async start(options: UtmpsdOptions): Promise<Utmpsd> {
    const server = new Utmpsd(options);
    try {
      for (const service of ['utmp', 'wtmp'] as const) {
        const where = options.sockets[service];
        const accept = (socket: Socket): void => server.accept(service, socket);
        server.listeners.push(
          'fd' in where ? await listenOnFd(where.fd, `${service}d`, accept) : await listenOnPath(where.path, accept),
        );
      }
    } catch (e) {
      server.closeListeners();
      throw e;
    }
    return server;
  }

  get connections(): number {
    return this.limits.connections;
  }

  stats(): UtmpsdStats {
    let peak = this.peakBuffered;
    for (const session of this.sessions) peak = Math.max(peak, session.peakBuffered);
    return { connections: this.limits.connections, peakBufferedPerConnection: peak };
  }

  describeSockets(): string[] {
    return this.listeners.map((l) => l.description);
  }

  /**
   * Stops accepting, lets every request in flight finish (so every acknowledged write is
   * on disk), closes idle connections and the files.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.closeListeners();
    if (this.sessions.size > 0) {
      const done = new Promise<void>((resolve) => (this.drained = resolve));
      for (const session of this.sessions) session.drain();
      await done;
    }
    await Promise.all([this.options.utmp.close(), this.options.wtmp.close()]);
    this.summary.flush();
  }

  private closeListeners(): void {
    for (const listener of this.listeners) {
      listener.server.close();
      removeSocket(listener);
    }
  }

  private accept(service: ServiceName, socket: Socket): void {
    const { log } = this.options;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    let peer: Peer;
    try {
      const cred = peerCredentials(socketFd(socket));
      peer = { uid: cred.uid, gid: cred.gid, pid: cred.pid };
    } catch (e) {
      log.warn(`${service}: refused a connection: unable to read peer credentials: ${(e as Error).message}`);
      socket.destroy();
      return;
    }
    const refusal = this.limits.admit(peer.uid);
    if (refusal) {
      this.summary.report(peer.uid, `refused ${service} connections`, `${service}: refused a connection from uid ${peer.uid} pid ${peer.pid}: ${refusal}`);
      socket.destroy();
      return;
    }
    log.info(`${service}: connection from uid ${peer.uid} gid ${peer.gid} pid ${peer.pid}`);
    let releaseFollower: (() => void) | null = null;
    const admitFollower = (): boolean => (releaseFollower = this.limits.admitFollower(peer.uid)) !== null;
    const session = new Session(this.handlerFor(service, peer, admitFollower), transportOf(socket), this.options.timeouts, (end) => {
      releaseFollower?.();
      this.ended(service, peer, session, end);
    });
    this.sessions.add(session);
    socket.on('data', (chunk: Buffer) => session.push(chunk));
    socket.on('end', () => session.eof());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') session.eof();
      else session.abort({ reason: 'error', message: err.message });
    });
    socket.on('close', () => session.abort({ reason: 'eof' }));
  }

  private handlerFor(service: ServiceName, peer: Peer, admitFollower: () => boolean): ServiceHandler {
    const { policy } = this.options;
    const events = { report: (reason: string, message: string) => this.summary.report(peer.uid, `${service} ${reason}`, `${service}: ${message}`) };
    return service === 'utmp'
      ? new UtmpService(this.options.utmp, peer, policy, events, this.readSlots)
      : new WtmpService(
          this.options.wtmp,
          peer,
          policy,
          events,
          { followTimeoutMs: this.options.followTimeoutMs ?? DEFAULT_FOLLOW_TIMEOUT_MS, admitFollower, readGate: this.readSlots },
          utmpViewOf(this.options.utmp),
        );
  }

  private ended(service: ServiceName, peer: Peer, session: Session, end: SessionEnd): void {
    this.sessions.delete(session);
    this.peakBuffered = Math.max(this.peakBuffered, session.peakBuffered);
    this.limits.release(peer.uid);
    if (end.reason === 'protocol' || end.reason === 'truncated' || end.reason === 'timeout' || end.reason === 'error') {
      this.summary.report(
        peer.uid,
        `${service} connections closed (${end.reason})`,
        `${service}: closed the connection of uid ${peer.uid} pid ${peer.pid}: ${end.reason}: ${end.message}`,
      );
    }
    if (this.sessions.size === 0) this.drained?.();
  }
}

function transportOf(socket: Socket): Transport {
  return {
    write: (data) =>
      new Promise<void>((resolve) => {
        // A failed write surfaces as the socket's 'error' event, which ends the session.
        socket.write(data, () => resolve());
      }),
    unsent: () => (socket.destroyed ? 0 : socket.writableLength),
    close: () => {
      // Flush what was answered, then let go of both directions.
      if (socket.writable) socket.end(() => socket.destroy());
      else socket.destroy();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    hungUp: () => socket.destroyed || hungUp(socketFd(socket)),
  };
}
