// unix:///dev/log and journal: one AF_UNIX datagram per message, through the native
// addon (Node has no Unix datagram sockets). The send never blocks: a receiver whose
// queue is full (EAGAIN) is waited for in short steps, so the event loop and SIGTERM stay
// alive; a missing or dead receiver (ENOENT, ECONNREFUSED) is retried with backoff. The
// kernel queues the datagram for the receiver: that is "sent".

import { sendDatagram } from '../sys/native.js';
import { pause, type Report } from './source.js';
import { Backoff, type Target } from './target.js';

export class DatagramTarget implements Target {
  private readonly backoff = new Backoff();
  // A full queue drains in milliseconds: retry soon, up to a second apart.
  private readonly full = new Backoff(2, 1000);
  private failing = false;
  private waiting = false;

  constructor(
    private readonly path: string,
    readonly name: string,
    private readonly report: Report,
  ) {}

  async send(messages: Buffer[], signal: AbortSignal): Promise<void> {
    for (const m of messages) {
      for (;;) {
        signal.throwIfAborted();
        try {
          sendDatagram(this.path, m, { wait: false });
          if (this.failing) this.report(`sending to ${this.name} again`);
          this.failing = false;
          this.waiting = false;
          this.backoff.reset();
          this.full.reset();
          break;
        } catch (e) {
          const code = (e as { code?: string }).code;
          // Too big for one datagram: nothing will make it fit; say so and go on.
          if (code === 'EMSGSIZE') {
            this.report(`a message of ${m.length} bytes is too big for ${this.name}: not sent`);
            break;
          }
          if (code === 'EAGAIN' || code === 'ENOBUFS') {
            if (!this.waiting) this.report(`${this.name} is not keeping up (its queue is full): waiting`);
            this.waiting = true;
            await pause(this.full.next(), signal);
            continue;
          }
          if (!this.failing) this.report(`unable to send to ${this.name}: ${(e as Error).message}; retrying with backoff`);
          this.failing = true;
          await pause(this.backoff.next(), signal);
        }
      }
    }
  }

  async close(): Promise<void> {}
}
