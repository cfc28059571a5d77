// utmpsd's reaper (docs/REAPING.md): when the process a session's utmp entry names exits
// without logging out, write what logout() and logwtmp() would have written.
//
// Each watched process costs one pidfd, registered in the addon's epoll set; one thread
// there reports exits through a pipe we read like any stream. Where pidfds are missing
// (ENOSYS) or run out (EMFILE), the process is checked in /proc every pollMs instead.

import { closeSync } from 'node:fs';
import { Socket } from 'node:net';
import { FIELD_SIZE, typeName, UTMPS_LAYOUT as L } from '../record/layout.js';
import { recordType } from '../record/fields.js';
import { deadEntry, logoutRecord } from '../record/logout.js';
import { nowTimeval } from '../record/time.js';
import { newCursor, type UtmpFile } from '../store/utmp-file.js';
import type { WtmpFile } from '../store/wtmp-file.js';
import { entryPid, type Host, inOurPidNamespace, judge, procHost, stillRunning, WATCHED_TYPES } from '../host/liveness.js';
import { addPidWatch, pidfdOpen, removePidWatch, startPidWatch, SysError } from '../sys/native.js';
import type { Logger } from './log.js';
import type { Peer } from './policy.js';

export const DEFAULT_REAP_POLL_MS = 5_000;
/**
 * How long a login program has, once its session's process exited, to log the session out
 * itself (a terminal emulator or server writes the child's pid, and its own logout and
 * logwtmp on SIGCHLD): a reap waits this long, then finds the entry already dead and writes
 * nothing, so wtmp gets one logout, not two.
 */
export const DEFAULT_REAP_GRACE_MS = 2_000;

export interface ReaperOptions {
  utmp: UtmpFile;
  wtmp: WtmpFile;
  log: Logger;
  /** The /proc check interval for processes without a pidfd. */
  pollMs?: number;
  /** The wait between a process's exit and its reap (DEFAULT_REAP_GRACE_MS; 0: none). */
  graceMs?: number;
  /** false: check every process in /proc, as where pidfd_open is missing (bench, tests). */
  pidfds?: boolean;
  /**
   * At most this many pidfds; past it, processes are checked in /proc. The fds a
   * connection needs must never go to watches (cli/utmpsd.ts keeps them out of it).
   */
  maxPidfds?: number;
  host?: Host;
  /** Where the namespace test looks (tests). */
  inOurNamespace?: (pid: number) => boolean;
}

/** One watched process, and the utmp slots that name it (usually one). */
interface Watch {
  token: number;
  pid: number;
  start: number;
  /** The pidfd in the epoll set, or null: checked in /proc. */
  fd: number | null;
  slots: Slot[];
}

/**
 * A watched utmp entry. Only its first bytes are kept (type, pid, line, id): what finding
 * it again, checking it and the log need. A few hundred bytes a session in all.
 */
interface Slot {
  key: string;
  /** The head as latin1 text: cheaper to keep than a Buffer object. */
  head: string;
  watch: Watch;
}

const HEAD = L.user;

/** A whole record again from a kept head (the rest zero): what rewriteIfHeld matches on. */
function fromHead(head: string): Buffer {
  const rec = Buffer.alloc(L.size);
  rec.write(head, 0, 'latin1');
  return rec;
}

export interface ReaperStats {
  watched: number;
  pidfds: number;
  polled: number;
  reaped: number;
}

/** A utmp slot as putline finds it: by ut_id, or by ut_line for an entry without id. */
function slotKey(record: Buffer): string {
  const id = record.subarray(L.id, L.id + FIELD_SIZE.id);
  if (id[0] !== 0) return `i${id.toString('latin1').replace(/\0.*$/s, '')}`;
  return `l${record.subarray(L.line, L.line + FIELD_SIZE.line).toString('latin1').replace(/\0.*$/s, '')}`;
}

/** The addon's one exit pipe, read for as long as the process lives. */
let pipeReader: Socket | null = null;

export class Reaper {
  private readonly host: Host;
  private readonly byToken = new Map<number, Watch>();
  private readonly byPid = new Map<number, Watch>();
  private readonly bySlot = new Map<string, Slot>();
  private readonly polled = new Set<Watch>();
  private readonly peerInNs = new WeakMap<Peer, boolean>();
  private pollTimer: NodeJS.Timeout | null = null;
  private nextToken = 1;
  private pidfds: boolean;
  private reaped = 0;
  private openPidfds = 0;
  private pending = new Set<Promise<void>>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private closed = false;
  private carry = Buffer.alloc(0);
  private readonly onData = (chunk: Buffer): void => this.tokens(chunk);

  private constructor(private readonly options: ReaperOptions) {
    this.host = options.host ?? procHost();
    this.pidfds = options.pidfds ?? true;
    if (this.pidfds) {
      try {
        this.listen();
      } catch (e) {
        this.options.log.warn(`reaper: no process exit watch (${(e as Error).message}); checking /proc every ${this.pollMs} ms`);
        this.pidfds = false;
      }
    }
  }

  /** Starts watching, after one pass over the entries utmp already holds. */
  static async start(options: ReaperOptions): Promise<Reaper> {
    const reaper = new Reaper(options);
    await reaper.scan();
    return reaper;
  }

  private get pollMs(): number {
    return this.options.pollMs ?? DEFAULT_REAP_POLL_MS;
  }

  stats(): ReaperStats {
    return { watched: this.bySlot.size, pidfds: this.openPidfds, polled: this.polled.size, reaped: this.reaped };
  }

  /**
   * The start-up pass: entries written before this boot are left alone; later ones whose
   * process is gone are reaped now, the others watched. Who wrote them, and from which
   * pid namespace, is not known any more (docs/REAPING.md).
   */
  private async scan(): Promise<void> {
    const all = await this.options.utmp.getall(newCursor());
    for (let off = 0; off < all.length; off += L.size) this.consider(all.subarray(off, off + L.size));
  }

  /** A putline went through: watch the entry's process, or stop watching the slot. */
  written(record: Buffer, peer: Peer): void {
    if (this.closed) return;
    this.forget(slotKey(record));
    if (!WATCHED_TYPES.has(recordType(record))) return;
    if (!this.writerInOurNamespace(peer)) return;
    this.consider(record);
  }

  private writerInOurNamespace(peer: Peer): boolean {
    let known = this.peerInNs.get(peer);
    if (known === undefined) {
      const test = this.options.inOurNamespace ?? inOurPidNamespace;
      known = peer.pid !== undefined && test(peer.pid);
      this.peerInNs.set(peer, known);
    }
    return known;
  }

  /** The putline that wrote the entry has succeeded: a failure here is only logged. */
  private consider(record: Buffer): void {
    try {
      const verdict = judge(record, this.host);
      if (verdict.kind === 'gone') this.reap(record, verdict.why);
      else if (verdict.kind === 'alive') this.watch(record, verdict.start);
    } catch (e) {
      this.options.log.error(`reaper: unable to watch pid ${entryPid(record)}: ${(e as Error).message}`);
    }
  }

  private watch(record: Buffer, start: number): void {
    const pid = entryPid(record);
    const key = slotKey(record);
    this.forget(key);
    let w = this.byPid.get(pid);
    // The same pid, another start: the process we watched is gone and its pid reused.
    if (w && w.start !== start) {
      this.exited(w);
      w = undefined;
    }
    if (!w) {
      const fd = this.openPidfd(pid, start);
      if (fd === 'gone') {
        this.reap(record, 'exited');
        return;
      }
      w = { token: this.nextToken, pid, start, fd, slots: [] as Slot[] };
      this.nextToken = (this.nextToken % 0xffffffff) + 1;
      this.byToken.set(w.token, w);
      this.byPid.set(pid, w);
      if (fd !== null) {
        try {
          addPidWatch(fd, w.token);
        } catch {
          // No room in the epoll set (ENOMEM, ENOSPC): check this one in /proc.
          closeSync(fd);
          this.openPidfds--;
          w.fd = null;
        }
      }
      if (w.fd === null) this.poll(w);
    }
    const slot: Slot = { key, head: record.toString('latin1', 0, HEAD), watch: w };
    // Most processes hold one entry: an array of exactly one, not one grown by push.
    if (w.slots.length === 0) w.slots = [slot];
    else w.slots.push(slot);
    this.bySlot.set(key, slot);
  }

  /** A pidfd pinned to the process that started at `start`, null to poll, or 'gone'. */
  private openPidfd(pid: number, start: number): number | null | 'gone' {
    if (!this.pidfds || this.openPidfds >= (this.options.maxPidfds ?? Infinity)) return null;
    let fd: number;
    try {
      fd = pidfdOpen(pid);
    } catch (e) {
      const code = (e as SysError).code;
      if (code === 'ESRCH') return 'gone';
      if (code === 'ENOSYS') {
        this.pidfds = false;
        this.options.log.warn(`reaper: pidfd_open is not available; checking /proc every ${this.pollMs} ms`);
      } else if (code !== 'EMFILE' && code !== 'ENFILE' && code !== 'ENOMEM') {
        throw e;
      }
      return null;
    }
    // The pid may have been reused between our look in /proc and pidfd_open.
    if (!stillRunning(pid, start, this.host)) {
      closeSync(fd);
      return 'gone';
    }
    this.openPidfds++;
    return fd;
  }

  private poll(w: Watch): void {
    this.polled.add(w);
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      for (const p of this.polled) if (!stillRunning(p.pid, p.start, this.host)) this.exited(p);
      if (this.polled.size === 0 && this.pollTimer) {
        clearInterval(this.pollTimer);
        this.pollTimer = null;
      }
    }, this.pollMs);
    this.pollTimer.unref();
  }

  private forget(key: string): void {
    const slot = this.bySlot.get(key);
    if (!slot) return;
    this.bySlot.delete(key);
    const w = slot.watch;
    w.slots.splice(w.slots.indexOf(slot), 1);
    if (w.slots.length === 0) this.drop(w);
  }

  private drop(w: Watch): void {
    this.byToken.delete(w.token);
    if (this.byPid.get(w.pid) === w) this.byPid.delete(w.pid);
    this.polled.delete(w);
    if (w.fd !== null) {
      try {
        removePidWatch(w.fd);
      } catch {
        // already out of the set
      }
      closeSync(w.fd);
      this.openPidfds--;
      w.fd = null;
    }
  }

  private exited(w: Watch): void {
    const slots = w.slots;
    w.slots = [];
    for (const slot of slots) this.bySlot.delete(slot.key);
    this.drop(w);
    for (const slot of slots) this.afterGrace(fromHead(slot.head));
  }

  /** Reaps once the grace has passed, unless utmpsd stops first (the next start judges it). */
  private afterGrace(record: Buffer): void {
    const grace = this.options.graceMs ?? DEFAULT_REAP_GRACE_MS;
    if (grace <= 0) return this.reap(record, 'exited');
    const timer = setTimeout(() => {
      this.graceTimers.delete(timer);
      this.reap(record, 'exited');
    }, grace);
    this.graceTimers.add(timer);
  }

  private reap(record: Buffer, why: string): void {
    // Ours: the request's bytes may be reused once the putline has been answered.
    const task = this.write(Buffer.from(record), why).catch((e: Error) =>
      this.options.log.error(`reaper: unable to end the session of pid ${entryPid(record)}: ${e.message}`),
    );
    this.pending.add(task);
    void task.finally(() => this.pending.delete(task));
  }

  private async write(record: Buffer, why: string): Promise<void> {
    const at = nowTimeval();
    const dead = await this.options.utmp.rewriteIfHeld(record, (found) => deadEntry(found, at));
    if (!dead) return;
    // A logout for a line ends, in last, whatever session is on it. Another live entry on
    // the line may be someone else's (a utmp writer chose this entry's line): then the
    // entry alone is ended, as a writer could not append that logout itself (policy.ts).
    if (await this.options.utmp.getline(newCursor(), dead.subarray(L.line, L.line + FIELD_SIZE.line))) {
      this.reaped++;
      this.options.log.notice(`reaper: ended the ${typeName(recordType(record))} entry of pid ${entryPid(record)}: its process ${why === 'exited' ? 'exited' : 'is gone (pid reused)'}; no wtmp logout: its line has another live entry`);
      return;
    }
    await this.options.wtmp.append(logoutRecord(dead, at));
    this.reaped++;
    this.options.log.notice(`reaper: ended the ${typeName(recordType(record))} entry of pid ${entryPid(record)}: its process ${why === 'exited' ? 'exited' : 'is gone (pid reused)'}`);
  }

  /** The exit reports: 32-bit tokens, host order, possibly split across chunks. */
  private tokens(chunk: Buffer): void {
    const data = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const whole = data.length - (data.length % 4);
    for (let off = 0; off < whole; off += 4) {
      const w = this.byToken.get(data.readUInt32LE(off));
      if (w) this.exited(w);
    }
    this.carry = Buffer.from(data.subarray(whole));
  }

  private listen(): void {
    if (!pipeReader) {
      pipeReader = new Socket({ fd: startPidWatch(), readable: true, writable: false });
      pipeReader.unref();
    }
    pipeReader.on('data', this.onData);
  }

  /** Stops watching; reaps already under way finish first. */
  async close(): Promise<void> {
    this.closed = true;
    pipeReader?.off('data', this.onData);
    if (this.pollTimer) clearInterval(this.pollTimer);
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    for (const w of [...this.byToken.values()]) this.drop(w);
    this.bySlot.clear();
    await Promise.all([...this.pending]);
  }
}
