// tcp://host:port: syslog over TCP with RFC 6587 octet counting ("LEN SP MSG"), which
// keeps a message with any byte in it one message. One connection, reopened with
// exponential backoff when it fails or the peer closes it. A batch whose write failed is
// sent again on the next connection (at least once); bytes the kernel had accepted before
// the peer went away cannot be known and may be lost (plain TCP syslog has no
// acknowledgements: docs/SHIPPING.md).

import { once } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { pause, type Report } from './source.js';
import { Backoff, type Target } from './target.js';

/** RFC 6587 section 3.4.1: MSG-LEN SP SYSLOG-MSG, MSG-LEN in octets. */
export function octetCount(messages: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) parts.push(Buffer.from(`${m.length} `), m);
  return Buffer.concat(parts);
}

export class TcpTarget implements Target {
  readonly name: string;
  private socket: Socket | null = null;
  private readonly backoff = new Backoff();
  private failing = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly report: Report,
  ) {
    this.name = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  private connect(signal: AbortSignal): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: this.host, port: this.port });
      const onAbort = (): void => {
        s.destroy();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      s.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        s.off('error', reject);
        s.setNoDelay(true);
        // Nothing is read from a syslog server; its end or an error means reconnect.
        s.on('data', () => undefined);
        const drop = (): void => {
          if (this.socket === s) this.socket = null;
          s.destroy();
        };
        s.on('end', drop);
        s.on('error', drop);
        s.on('close', drop);
        resolve(s);
      });
      s.once('error', (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      });
    });
  }

  private async connected(signal: AbortSignal): Promise<Socket> {
    while (this.socket === null || this.socket.destroyed) {
      signal.throwIfAborted();
      try {
        this.socket = await this.connect(signal);
        if (this.failing) this.report(`connected to ${this.name} again`);
        this.failing = false;
        this.backoff.reset();
      } catch (e) {
        signal.throwIfAborted();
        const wait = this.backoff.next();
        if (!this.failing) this.report(`unable to connect to ${this.name}: ${(e as Error).message}; retrying with backoff`);
        this.failing = true;
        await pause(wait, signal);
      }
    }
    return this.socket;
  }

  async send(messages: Buffer[], signal: AbortSignal): Promise<void> {
    const data = octetCount(messages);
    for (;;) {
      const s = await this.connected(signal);
      const ok = await new Promise<boolean>((resolve) => {
        const onClose = (): void => resolve(false);
        s.once('close', onClose);
        s.write(data, (e) => {
          s.off('close', onClose);
          resolve(!e);
        });
      });
      if (ok) return;
      if (!this.failing) this.report(`lost the connection to ${this.name}; sending the last batch again once reconnected`);
      this.failing = true;
      if (this.socket === s) this.socket = null;
      s.destroy();
    }
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (!s || s.destroyed) return;
    s.end();
    await Promise.race([once(s, 'close'), new Promise((r) => setTimeout(r, 2000).unref())]);
    s.destroy();
  }
}
