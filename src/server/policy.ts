// Who may do what (PROTOCOL.md sections 3 and 4). Identity is always the kernel's view of
// the peer at connect time; nothing the client sends can change it.

import { FIELD_SIZE, RecordType, typeName, UTMPS_LAYOUT as L } from '../record/layout.js';
import { recordType } from '../record/fields.js';
import { Errno } from '../errno.js';
import type { RateLimiter } from './rate-limit.js';

export interface Peer {
  uid: number;
  gid: number;
  pid?: number;
}

export interface Refusal {
  errno: number;
  reason: string;
}

/**
 * Read access to utmp for the wtmp service: the live entries (USER_PROCESS and
 * LOGIN_PROCESS, what getutline finds) for one ut_line. Rejects when utmp cannot be read.
 */
export interface UtmpView {
  liveEntries(line: Uint8Array): Promise<Buffer[]>;
}

export interface PolicyOptions {
  /** The daemon's effective gid (read when needed: it changes when privileges drop). */
  daemonGid: () => number;
  /** The passwd name of a uid (getpwuid through NSS), or null when it has none. */
  nameOfUid: (uid: number) => Promise<string | null>;
  /**
   * The uid of a user name (getpwnam), only to word a refusal as upstream does ("no such
   * user" or "uid mismatch"); the decision never depends on it.
   */
  uidOfName?: (name: string) => Promise<number | null>;
  /** Write rate limits for non-root peers (utmpsd); none in UCSPI mode. */
  rateLimiter?: RateLimiter;
  /** wtmp reads: non-root peers see only records with their own user name. */
  privateReads?: boolean;
  /** The same lookup, blocking, for private reads. */
  userNameOf?: (uid: number) => string | null;
}

/** Matches no user field: 0xff is never part of a NUL-padded UTF-8 name. */
const NO_USER = Buffer.alloc(FIELD_SIZE.user, 0xff);

/** What a login program running as a user writes to wtmp for its own sessions. */
const NON_ROOT_TYPES: ReadonlySet<number> = new Set([RecordType.LOGIN_PROCESS, RecordType.USER_PROCESS, RecordType.DEAD_PROCESS]);

/** ut_user up to its first NUL (all 32 bytes when there is none). */
function userField(record: Uint8Array): Buffer {
  const field = record.subarray(L.user, L.user + FIELD_SIZE.user);
  const nul = field.indexOf(0);
  return Buffer.from(nul < 0 ? field : field.subarray(0, nul));
}

/** A passwd name as a ut_user value, or null when it does not fit the field whole. */
function nameBytes(name: string): Buffer | null {
  const bytes = Buffer.from(name, 'utf8');
  return bytes.length === 0 || bytes.length > FIELD_SIZE.user ? null : bytes;
}

export class Policy {
  constructor(private readonly options: PolicyOptions) {}

  /** utmp writes: root, or a peer whose effective gid is the daemon's. */
  utmpWrite(peer: Peer): Refusal | null {
    if (peer.uid !== 0 && peer.gid !== this.options.daemonGid()) {
      return { errno: Errno.EPERM, reason: `uid ${peer.uid} gid ${peer.gid} may not write utmp` };
    }
    return this.rate(peer);
  }

  /**
   * wtmp appends: root, or what a login program running as the peer writes for itself
   * (docs/PROTOCOL-EXTENSIONS.md, "wtmp appends by users other than root"):
   *  - a USER_PROCESS, LOGIN_PROCESS or DEAD_PROCESS record, nothing else;
   *  - whose ut_user is the whole passwd name of the peer's uid (so the name must fit);
   *  - for a line whose live utmp entries are all the peer's own: a DEAD_PROCESS needs at
   *    least one, a LOGIN_PROCESS or USER_PROCESS may also name a line no one is on (last
   *    reads any of the three as the end of the session before it on that line).
   * Rejects when the name service fails: then nobody can tell who the peer is.
   */
  async wtmpAppend(peer: Peer, record: Uint8Array, utmp?: UtmpView): Promise<Refusal | null> {
    if (peer.uid === 0) return null;
    const type = recordType(record);
    if (!NON_ROOT_TYPES.has(type)) {
      return { errno: Errno.EPERM, reason: `uid ${peer.uid} may not append ${typeName(type) ?? `type ${type}`} records (only root may)` };
    }
    const passwdName = await this.options.nameOfUid(peer.uid);
    if (passwdName === null) return { errno: Errno.EPERM, reason: `unable to verify ut_user identity: uid ${peer.uid} has no passwd entry` };
    const name = nameBytes(passwdName);
    if (name === null) {
      return { errno: Errno.EPERM, reason: `unable to verify ut_user identity: the name of uid ${peer.uid} does not fit in ut_user` };
    }
    const given = userField(record);
    if (!given.equals(name)) return { errno: Errno.EPERM, reason: `unable to verify ut_user identity: ${await this.mismatch(given)}` };
    const why = await this.notOwnLine(record, name, utmp, type === RecordType.DEAD_PROCESS);
    if (why) return { errno: Errno.EPERM, reason: `uid ${peer.uid} may not end the session on that line: ${why}` };
    return this.rate(peer);
  }

  /** Upstream's words for a ut_user that is not the peer's name. */
  private async mismatch(given: Buffer): Promise<string> {
    if (given.length === 0) return 'empty user name';
    if (!this.options.uidOfName) return 'uid mismatch';
    try {
      return (await this.options.uidOfName(given.toString('utf8'))) === null ? 'no such user' : 'uid mismatch';
    } catch {
      return 'uid mismatch';
    }
  }

  /** Why a record for its line is not the peer's to write, or null. */
  private async notOwnLine(record: Uint8Array, name: Buffer, utmp: UtmpView | undefined, needEntry: boolean): Promise<string | null> {
    if (!utmp) return 'utmp is not available to check the line';
    let entries: Buffer[];
    try {
      entries = await utmp.liveEntries(record.subarray(L.line, L.line + FIELD_SIZE.line));
    } catch (e) {
      return `unable to read utmp: ${(e as Error).message}`;
    }
    if (entries.length === 0) return needEntry ? 'no live utmp entry for its line' : null;
    if (!entries.every((entry) => userField(entry).equals(name))) return 'the live utmp entry for its line is not its own';
    return null;
  }

  /**
   * The only ut_user a peer may read in wtmp, as a 32-byte field, or null for all. Reads
   * are open to everyone by default, like a 0644 file. A name that does not fit the field
   * whole matches nothing: its first 32 bytes may well be someone else's name.
   */
  readableUser(peer: Peer): Buffer | null {
    if (!this.options.privateReads || peer.uid === 0) return null;
    const passwdName = this.options.userNameOf?.(peer.uid) ?? null;
    const name = passwdName === null ? null : nameBytes(passwdName);
    if (name === null) return NO_USER;
    const field = Buffer.alloc(FIELD_SIZE.user);
    name.copy(field);
    return field;
  }

  /**
   * btmp, appends and reads alike: root only. Failed logins hold passwords typed as user
   * names, so not even the utmp group may see them; the refusal names no file.
   */
  btmpAccess(peer: Peer): Refusal | null {
    if (peer.uid === 0) return null;
    return { errno: Errno.EPERM, reason: `uid ${peer.uid} may not use btmp (only root may)` };
  }

  /** Allowed writes still count against the peer's rate. */
  private rate(peer: Peer): Refusal | null {
    const decision = this.options.rateLimiter?.take(peer.uid);
    if (!decision || decision.allowed) return null;
    return {
      errno: Errno.EDQUOT,
      reason: `uid ${peer.uid} is over its write rate limit; refusing its writes until the rate drops`,
    };
  }
}
