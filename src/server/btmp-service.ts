// The btmp service (failed logins): wtmpd's wire protocol, the `+` append and the read
// extension (docs/PROTOCOL-EXTENSIONS.md), for root only. Everyone else is answered EPERM
// once its request is whole, before the file is looked at: a refused peer learns nothing
// of btmp, not even whether it exists or how long it is.

import { fstatSync } from 'node:fs';
import { statusAnswer } from '../protocol/answer.js';
import type { Request } from '../protocol/request.js';
import type { Peer, Policy } from './policy.js';
import type { HandlerResult, ServiceHandler } from './session.js';
import type { ServiceEvents } from './utmp-service.js';

export class BtmpService implements ServiceHandler {
  readonly oneRequest = true;
  /** The wire protocol is wtmpd's. */
  readonly service = 'wtmp' as const;
  private inner: ServiceHandler | null = null;

  constructor(
    private readonly peer: Peer,
    private readonly policy: Policy,
    private readonly events: ServiceEvents,
    /**
     * The wtmp service over the btmp file, built only for a peer the policy lets in (so
     * utmps-btmpd opens no file for anyone else). Root's appends and reads then follow the
     * wtmp rules: any record, every record, follow, rotation.
     */
    private readonly serve: () => ServiceHandler | Promise<ServiceHandler>,
  ) {}

  async handle(request: Request, signal: AbortSignal): Promise<HandlerResult> {
    const refusal = this.policy.btmpAccess(this.peer);
    if (refusal) {
      this.events.report(request.op === 'read' ? 'read refusals' : 'append refusals', `${request.op} refused for uid ${this.peer.uid}: ${refusal.reason}`);
      return { answer: statusAnswer(refusal.errno), end: { reason: 'refused', message: refusal.reason } };
    }
    this.inner ??= await this.serve();
    return this.inner.handle(request, signal);
  }
}

/** btmp is created owner-only, whatever mode the other files get. */
export const BTMP_MODE = 0o600;

/**
 * An existing btmp keeps its mode (never widened, never changed behind the admin's back:
 * Debian's is 0660 root:utmp); say so when more than its owner can open it, since they
 * read failed logins around the daemon.
 */
export function warnLooseBtmp(path: string, fd: number, warn: (message: string) => void): void {
  const mode = fstatSync(fd).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  warn(`${path} is mode 0${mode.toString(8)}: users other than its owner can read failed logins (typed passwords among them) directly; chmod 0600 it`);
}
