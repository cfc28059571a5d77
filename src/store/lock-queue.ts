// Waiting for a file's lock, for every request of this process at once.
//
// Every session of the built-in server shares one open file description, so its OFD lock
// cannot order them against each other; and the work done under the lock is synchronous
// (readSync/writeSync), so once the lock is ours, any number of queued tasks can run
// under it before it is let go. One poll loop therefore waits for the lock on behalf of
// all queued tasks, and each task carries its own deadline, counted from its arrival: N
// requests queued behind another process's lock are all answered within -L of arriving,
// not one -L after another.
//
// Writers first: when a writer waits, each poll tries the write lock before anything
// else, and runs every queued task under it. When only the write lock is refused (another
// process holds a read lock), the queued readers still go, under a read lock of their
// own, so a reader never waits behind a writer that cannot get in. Our own locks are
// released before the next poll, so our readers never keep our writers out.

import { Errno, errnoOf } from '../errno.js';
import { type LockKind, tryLock, unlock } from '../sys/native.js';
import { StoreError } from './errors.js';

interface Task {
  kind: LockKind;
  run: () => unknown;
  deadline: number;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

const FIRST_DELAY_MS = 1;
const MAX_DELAY_MS = 25;

export class LockQueue {
  private tasks: Task[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private delay = FIRST_DELAY_MS;
  private idleWaiters: (() => void)[] = [];

  constructor(
    /** The descriptor to lock, looked up at each try (it changes on log rotation). */
    private readonly fd: () => number,
    private readonly timeoutMs: number,
    private readonly path: string,
  ) {}

  /** Tasks waiting for the lock now. */
  get waiting(): number {
    return this.tasks.length;
  }

  /**
   * Runs fn under a whole-file lock of at least the given kind, within timeoutMs of now
   * (EAGAIN after that). When signal aborts first, fn never runs and the promise rejects
   * with the signal's reason.
   */
  run<T>(kind: LockKind, fn: () => T, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const task: Task = {
        kind,
        run: fn,
        deadline: performance.now() + this.timeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
      };
      if (signal) {
        task.onAbort = () => {
          const at = this.tasks.indexOf(task);
          if (at < 0) return;
          this.tasks.splice(at, 1);
          reject(signal.reason);
          if (this.tasks.length === 0) this.settleIdle();
        };
        signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.tasks.push(task);
      // Tasks that arrive in the same tick share one try.
      if (!this.scheduled && this.timer === null) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.attempt();
        });
      }
    });
  }

  /** Resolves once no task is waiting (close: let what was asked for finish). */
  idle(): Promise<void> {
    if (this.tasks.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private attempt(): void {
    this.timer = null;
    if (this.tasks.some((t) => t.kind === 'write')) {
      if (this.take('write')) this.serve(() => true);
    }
    if (this.tasks.some((t) => t.kind === 'read')) {
      if (this.take('read')) this.serve((t) => t.kind === 'read');
    }
    // Those whose wait is over hear so now, not after the tasks ahead of them.
    const now = performance.now();
    for (const task of this.tasks.filter((t) => t.deadline <= now)) {
      this.fail(
        task,
        new StoreError(Errno.EAGAIN, `unable to lock ${this.path}: still locked by another process after ${this.timeoutMs} ms`),
      );
    }
    if (this.tasks.length === 0) {
      this.delay = FIRST_DELAY_MS;
      this.settleIdle();
      return;
    }
    // Every task has the same timeout, so the first to arrive is the first to expire.
    const soonest = this.tasks[0].deadline;
    const wait = Math.max(0, Math.min(this.delay, soonest - now));
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    this.timer = setTimeout(() => this.attempt(), wait);
  }

  /** Tries the lock; a failure other than "held by someone else" fails the tasks that needed it. */
  private take(kind: LockKind): boolean {
    try {
      return tryLock(this.fd(), kind);
    } catch (e) {
      const error = new StoreError(errnoOf(e), `unable to lock ${this.path}: ${(e as Error).message}`, { cause: e });
      for (const task of this.tasks.filter((t) => t.kind === kind)) this.fail(task, error);
      return false;
    }
  }

  /** Runs the chosen tasks in arrival order under the lock just taken, then lets it go. */
  private serve(chosen: (t: Task) => boolean): void {
    const fd = this.fd();
    const now = this.tasks.filter(chosen);
    this.tasks = this.tasks.filter((t) => !chosen(t));
    try {
      for (const task of now) {
        this.detach(task);
        try {
          task.resolve(task.run());
        } catch (e) {
          task.reject(e);
        }
      }
    } finally {
      try {
        unlock(fd);
      } catch {
        // Only a bad descriptor fails here, and its locks went with it.
      }
    }
  }

  private fail(task: Task, error: unknown): void {
    this.forget(task);
    task.reject(error);
  }

  /** Takes a task off the queue: from here on, an abort no longer concerns it. */
  private forget(task: Task): void {
    const at = this.tasks.indexOf(task);
    if (at >= 0) this.tasks.splice(at, 1);
    this.detach(task);
  }

  private detach(task: Task): void {
    if (task.onAbort) task.signal?.removeEventListener('abort', task.onAbort);
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
