// utmpsd: one long-running process serving the utmp, wtmp and btmp services, with the
// same sessions and rules as the UCSPI daemons. Peer credentials come from the kernel
// (SO_PEERCRED) for every accepted connection.

import type { Socket } from 'node:net';
import { peerCredentials, socketFd } from '../sys/native.js';
import type { RecordFile } from '../store/record-file.js';
import type { UtmpFile } from '../store/utmp-file.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import { BtmpService } from './btmp-service.js';
import { ConnectionLimits, type ConnectionLimitOptions } from './limits.js';
import { type Listener, listenOnFd, listenOnPath, removeSocket, type ServiceName } from './listen.js';
import type { Logger } from './log.js';
import { LogSummary } from './log-summary.js';
import type { Peer, Policy } from './policy.js';
import { ReadSlots } from './read-slots.js';
import type { Reaper } from './reaper.js';
import type { ServiceHandler, Session, SessionEnd, SessionTimeouts } from './session.js';
import { attachSession } from './transport.js';
import { type ServiceEvents, UtmpService } from './utmp-service.js';
import { utmpViewOf } from './utmp-view.js';
import { DEFAULT_FOLLOW_TIMEOUT_MS } from './wtmp-read.js';
import { WtmpService } from './wtmp-service.js';

export interface UtmpsdStats {
  connections: number;
  /** The most answer bytes any one connection has held at once (Session.peakBuffered). */
  peakBufferedPerConnection: number;
}

export interface UtmpsdOptions {
  /** Where each served service listens: a path to create, or an inherited listening fd. */
  sockets: Partial<Record<ServiceName, { path: string } | { fd: number }>>;
  utmp: UtmpFile;
  wtmp: WtmpFile;
  /** Failed logins (root only); without it there is no btmp service. */
  btmp?: WtmpFile;
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
  /** Ends the sessions whose process died without logging out (reaper.ts); none with --no-reap. */
  reaper?: Reaper;
}

/** What utmpsd gives a service's handler for each connection, beside the peer. */
interface ConnectionParts {
  events: ServiceEvents;
  /** Counts the connection in as a wtmp follower; false when its uid has too many. */
  admitFollower: () => boolean;
}

/** One service: the files it serves (closed when utmpsd stops) and its handler per connection. */
interface ServiceEntry {
  files: RecordFile[];
  handler: (peer: Peer, connection: ConnectionParts) => ServiceHandler;
}

export class Utmpsd {
  private readonly listeners: Listener[] = [];
  /** The service of each listener, in the same order. */
  private readonly served: ServiceName[] = [];
  private readonly sessions = new Set<Session>();
  private readonly limits: ConnectionLimits;
  /** Refusals and failed connections: per request for root, summarised for everyone else. */
  private readonly summary: LogSummary;
  private readonly readSlots: ReadSlots;
  /** The services served: a new one is one more entry (its files and handler) and a socket. */
  private readonly services: Partial<Record<ServiceName, ServiceEntry>>;
  private stopping: Promise<void> | null = null;
  private peakBuffered = 0;
  private drained: (() => void) | null = null;

  private constructor(private readonly options: UtmpsdOptions) {
    this.limits = new ConnectionLimits(options.limits);
    this.summary = new LogSummary((line) => options.log.warn(line), { windowMs: options.logWindowMs });
    this.readSlots = new ReadSlots(options.readsPerUid);
    const { utmp, wtmp, btmp, policy } = options;
    const wtmpHandler =
      (file: WtmpFile) =>
      (peer: Peer, { events, admitFollower }: ConnectionParts): ServiceHandler =>
        new WtmpService(
          file,
          peer,
          policy,
          events,
          { followTimeoutMs: options.followTimeoutMs ?? DEFAULT_FOLLOW_TIMEOUT_MS, admitFollower, readGate: this.readSlots },
          utmpViewOf(utmp),
        );
    this.services = {
      utmp: { files: [utmp], handler: (peer, { events }) => new UtmpService(utmp, peer, policy, events, this.readSlots) },
      wtmp: { files: [wtmp], handler: wtmpHandler(wtmp) },
      ...(btmp && {
        btmp: { files: [btmp], handler: (peer, parts) => new BtmpService(peer, policy, parts.events, () => wtmpHandler(btmp)(peer, parts)) },
      }),
    };
  }

  static async start(options: UtmpsdOptions): Promise<Utmpsd> {
    const server = new Utmpsd(options);
    try {
      for (const service of Object.keys(server.services) as ServiceName[]) {
        const where = options.sockets[service];
        if (!where) throw new Error(`no socket given for the ${service} service`);
        const accept = (socket: Socket): void => server.accept(service, socket);
        server.listeners.push(
          'fd' in where ? await listenOnFd(where.fd, `${service}d`, accept) : await listenOnPath(where.path, accept),
        );
        server.served.push(service);
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

  /** "utmp service on PATH", one per listening socket. */
  describeSockets(): string[] {
    return this.listeners.map((l, i) => `${this.served[i]} service on ${l.description}`);
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
    await this.options.reaper?.close();
    await Promise.all(Object.values(this.services).flatMap((entry) => entry.files.map((file) => file.close())));
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
    const session = attachSession(
      this.handlerFor(service, peer, admitFollower),
      this.options.timeouts,
      (end) => {
        releaseFollower?.();
        this.ended(service, peer, session, end);
      },
      socket,
    );
    this.sessions.add(session);
  }

  private handlerFor(service: ServiceName, peer: Peer, admitFollower: () => boolean): ServiceHandler {
    const reaper = this.options.reaper;
    const events = {
      report: (reason: string, message: string) => this.summary.report(peer.uid, `${service} ${reason}`, `${service}: ${message}`),
      written: reaper && ((record: Buffer) => reaper.written(record, peer)),
    };
    return this.services[service]!.handler(peer, { events, admitFollower });
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
