// Listening sockets: created by us (replacing a stale socket, refusing a live one) or
// passed by systemd socket activation (LISTEN_FDS).

import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';

export type ServiceName = 'utmp' | 'wtmp';

export interface Listener {
  server: Server;
  /** The path we created and must remove on exit; null for an inherited socket. */
  ownedPath: string | null;
  description: string;
}

/** True when something accepts connections on path. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export class ListenError extends Error {}

async function clearStale(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new ListenError(`${path} exists and is not a socket; refusing to replace it`);
  if (await isLive(path)) throw new ListenError(`another server is already listening on ${path}`);
  unlinkSync(path);
}

function listening(server: Server, target: string | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(target, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Listens on a new socket at path, mode 0666: authorisation is by peer credentials. */
export async function listenOnPath(path: string, onConnection: (socket: Socket) => void): Promise<Listener> {
  await clearStale(path);
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await listening(server, path);
  chmodSync(path, 0o666);
  return { server, ownedPath: path, description: path };
}

export async function listenOnFd(fd: number, name: string, onConnection: (socket: Socket) => void): Promise<Listener> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await listening(server, { fd });
  return { server, ownedPath: null, description: `fd ${fd} (${name})` };
}

/**
 * Sockets passed by systemd (sd_listen_fds): fds from 3, named by LISTEN_FDNAMES
 * ("utmpd"/"wtmpd"); unnamed, the first is utmp and the second wtmp. Null when none.
 */
export function systemdSockets(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Map<ServiceName, number> | null {
  if (!env.LISTEN_FDS || Number(env.LISTEN_PID) !== pid) return null;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 1) return null;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const found = new Map<ServiceName, number>();
  for (let i = 0; i < count; i++) {
    const name = names[i] ?? '';
    const service: ServiceName | undefined =
      name === 'utmpd' || name === 'utmp' ? 'utmp' : name === 'wtmpd' || name === 'wtmp' ? 'wtmp' : i === 0 ? 'utmp' : i === 1 ? 'wtmp' : undefined;
    if (service && !found.has(service)) found.set(service, 3 + i);
  }
  // Clear them so children (none today) do not think they were activated.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return found;
}

export function removeSocket(listener: Listener): void {
  if (!listener.ownedPath) return;
  try {
    unlinkSync(listener.ownedPath);
  } catch {
    // already gone
  }
}
