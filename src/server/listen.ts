// Listening sockets: created by us (replacing a stale socket, refusing a live one) or
// passed by systemd socket activation (LISTEN_FDS).

import { chmodSync, closeSync, constants, existsSync, fstatSync, lstatSync, mkdtempSync, openSync, renameSync, rmdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';

/** utmpsd's services, in the order unnamed systemd sockets are given to them. */
export const SERVICE_NAMES = ['utmp', 'wtmp', 'btmp'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface Listener {
  server: Server;
  /** The path we created and must remove on exit; null for an inherited socket. */
  ownedPath: string | null;
  description: string;
  /** The private directory the socket was bound in (see bindPrivately), kept open until close. */
  bindDirFd?: number;
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

/**
 * What is at path may be replaced: nothing, a stale socket, or a symbolic link (the rename
 * replaces the link itself, never what it points to). Anything else is refused.
 */
async function checkReplaceable(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink()) return;
  if (!st.isSocket()) throw new ListenError(`${path} exists and is not a socket; refusing to replace it`);
  if (await isLive(path)) throw new ListenError(`another server is already listening on ${path}`);
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

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const PROC_FD = '/proc/self/fd';

/**
 * Listens on a new socket at path, mode 0666: authorisation is by peer credentials.
 *
 * The directory may belong to someone else (the service account owns the state directory
 * after the first start), who can swap any name in it for a symbolic link at any moment;
 * a chmod by path there would follow it. So the socket is bound in a fresh directory of
 * our own (mode 0700, inside the same directory so a rename can move the socket), its mode
 * is set there, and it is renamed into place: a rename replaces a planted link instead of
 * following it. Every step names the directories through descriptors (/proc/self/fd/N),
 * so renaming our private directory away does not redirect us either.
 */
export async function listenOnPath(path: string, onConnection: (socket: Socket) => void): Promise<Listener> {
  await checkReplaceable(path);
  if (!existsSync(PROC_FD)) return listenInPlace(path, onConnection);
  const parentFd = openSync(dirname(path), O_RDONLY | O_DIRECTORY);
  let bindDirFd: number | undefined;
  let privateName: string | undefined;
  const server = createServer({ allowHalfOpen: true }, onConnection);
  try {
    const parent = join(PROC_FD, String(parentFd));
    privateName = basename(mkdtempSync(join(parent, '.utmpsd-bind-')));
    const replaced = (why: string): ListenError =>
      new ListenError(`unable to bind ${path}: the private directory ${join(dirname(path), privateName!)} was replaced (${why}); refusing to continue`);
    try {
      bindDirFd = openSync(join(parent, privateName), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (e) {
      throw replaced((e as NodeJS.ErrnoException).code ?? 'unable to open it');
    }
    const st = fstatSync(bindDirFd);
    if (st.uid !== process.geteuid!() || (st.mode & 0o077) !== 0) throw replaced(`now uid ${st.uid}, mode 0${(st.mode & 0o777).toString(8)}`);
    const inPrivate = join(PROC_FD, String(bindDirFd), 's');
    await listening(server, inPrivate);
    chmodSync(inPrivate, 0o666);
    renameSync(inPrivate, join(parent, basename(path)));
  } catch (e) {
    server.close();
    if (bindDirFd !== undefined) closeSync(bindDirFd);
    throw e;
  } finally {
    if (privateName !== undefined) {
      try {
        rmdirSync(join(PROC_FD, String(parentFd), privateName));
      } catch {
        // renamed away by someone else: it is theirs to clean
      }
    }
    closeSync(parentFd);
  }
  return { server, ownedPath: path, description: path, bindDirFd };
}

/** Without /proc: bind in place with the mode set through the umask, never a chmod by path. */
async function listenInPlace(path: string, onConnection: (socket: Socket) => void): Promise<Listener> {
  try {
    unlinkSync(path);
  } catch {
    // nothing there
  }
  const server = createServer({ allowHalfOpen: true }, onConnection);
  // The bind happens inside listen(), synchronously; the umask applies to it only.
  const old = process.umask(0o111);
  let bound: Promise<void>;
  try {
    bound = listening(server, path);
  } finally {
    process.umask(old);
  }
  await bound;
  return { server, ownedPath: path, description: path };
}

export async function listenOnFd(fd: number, name: string, onConnection: (socket: Socket) => void): Promise<Listener> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await listening(server, { fd });
  return { server, ownedPath: null, description: `fd ${fd} (${name})` };
}

/**
 * Sockets passed by systemd (sd_listen_fds): fds from 3, named by LISTEN_FDNAMES ("utmpd",
 * "wtmpd", "btmpd", or the bare service name); one with another name goes by its position,
 * in SERVICE_NAMES order. Null when none.
 */
export function systemdSockets(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Map<ServiceName, number> | null {
  if (!env.LISTEN_FDS || Number(env.LISTEN_PID) !== pid) return null;
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 1) return null;
  const names = (env.LISTEN_FDNAMES ?? '').split(':');
  const found = new Map<ServiceName, number>();
  for (let i = 0; i < count; i++) {
    const name = names[i] ?? '';
    const service: ServiceName | undefined = SERVICE_NAMES.find((s) => name === s || name === `${s}d`) ?? SERVICE_NAMES[i];
    if (service && !found.has(service)) found.set(service, 3 + i);
  }
  // Clear them so children (none today) do not think they were activated.
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return found;
}

export function removeSocket(listener: Listener): void {
  // libuv unlinks the bound name (inside the private directory) when the server closes:
  // keep that directory's descriptor open until then, so the name cannot mean another place.
  if (listener.bindDirFd !== undefined) {
    closeSync(listener.bindDirFd);
    listener.bindDirFd = undefined;
  }
  if (!listener.ownedPath) return;
  try {
    unlinkSync(listener.ownedPath);
  } catch {
    // already gone
  }
}
