// Who may do what (PROTOCOL.md sections 3 and 4). Identity is always the kernel's view of
// the peer at connect time; nothing the client sends can change it.

import { FIELD_SIZE, UTMPS_LAYOUT as L } from '../record/layout.js';
import { Errno } from '../protocol/errno.js';
import type { PasswdEntry } from '../sys/native.js';
import type { RateLimiter } from './rate-limit.js';

export interface Peer {
  uid: number;
  gid: number;
  pid?: number;
}

export interface Refusal {
  errno: number;
  reason: string;
  /** Not worth a log line (a repeat within one burst of rate refusals). */
  quiet?: boolean;
}

export interface PolicyOptions {
  /** The daemon's effective gid (read when needed: it changes when privileges drop). */
  daemonGid: () => number;
  /** Name-service lookup of a user name (getpwnam through NSS). */
  lookupUser: (name: string) => Promise<PasswdEntry | null>;
  /** Write rate limits for non-root peers (utmpsd); none in UCSPI mode. */
  rateLimiter?: RateLimiter;
  /** wtmp reads: non-root peers see only records with their own user name. */
  privateReads?: boolean;
  /** Name-service lookup of a uid's name, for private reads. */
  userNameOf?: (uid: number) => string | null;
}

/** Matches no user field: 0xff is never part of a NUL-padded UTF-8 name. */
const NO_USER = Buffer.alloc(FIELD_SIZE.user, 0xff);

export class Policy {
  constructor(private readonly options: PolicyOptions) {}

  /** utmp writes: root, or a peer whose effective gid is the daemon's. */
  utmpWrite(peer: Peer): Refusal | null {
    if (peer.uid !== 0 && peer.gid !== this.options.daemonGid()) {
      return { errno: Errno.EPERM, reason: `uid ${peer.uid} gid ${peer.gid} may not write utmp` };
    }
    return this.rate(peer);
  }

  /** wtmp appends: root, or a record whose ut_user names the peer's own uid. */
  async wtmpAppend(peer: Peer, record: Uint8Array): Promise<Refusal | null> {
    if (peer.uid === 0) return null;
    // The lookup uses at most 31 bytes of the name, as the C daemon does.
    const field = record.subarray(L.user, L.user + FIELD_SIZE.user - 1);
    const nul = field.indexOf(0);
    const name = Buffer.from(nul < 0 ? field : field.subarray(0, nul)).toString('utf8');
    if (name === '') return { errno: Errno.EPERM, reason: 'unable to verify ut_user identity: empty user name' };
    const user = await this.options.lookupUser(name);
    if (!user) return { errno: Errno.EPERM, reason: 'unable to verify ut_user identity: no such user' };
    if (user.uid !== peer.uid) return { errno: Errno.EPERM, reason: 'unable to verify ut_user identity: uid mismatch' };
    return this.rate(peer);
  }

  /**
   * The only ut_user a peer may read in wtmp, as a 32-byte field, or null for all. Reads
   * are open to everyone by default, like a 0644 file.
   */
  readableUser(peer: Peer): Buffer | null {
    if (!this.options.privateReads || peer.uid === 0) return null;
    const name = this.options.userNameOf?.(peer.uid) ?? null;
    if (name === null) return NO_USER;
    const field = Buffer.alloc(FIELD_SIZE.user);
    field.write(name, 'utf8');
    return field;
  }

  /** Allowed writes still count against the peer's rate; refusals log once per burst. */
  private rate(peer: Peer): Refusal | null {
    const decision = this.options.rateLimiter?.take(peer.uid);
    if (!decision || decision.allowed) return null;
    return {
      errno: Errno.EDQUOT,
      reason: `uid ${peer.uid} is over its write rate limit; refusing its writes until the rate drops`,
      quiet: !decision.firstOfBurst,
    };
  }
}
