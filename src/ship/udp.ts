// udp://host:port: one message per datagram (RFC 5426). Delivery cannot be confirmed:
// "sent" means the kernel took the datagram (docs/SHIPPING.md).

import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { pause, type Report } from './source.js';
import { Backoff, type Target } from './target.js';

export class UdpTarget implements Target {
  readonly name: string;
  private readonly socket: Socket;
  private readonly backoff = new Backoff();

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly report: Report,
  ) {
    this.name = `udp://${isIPv6(host) ? `[${host}]` : host}:${port}`;
    this.socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    this.socket.on('error', () => undefined); // per-send errors are handled in send()
  }

  private sendOne(m: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(m, this.port, this.host, (e) => (e ? reject(e) : resolve())));
  }

  async send(messages: Buffer[], signal: AbortSignal): Promise<void> {
    for (const m of messages) {
      for (;;) {
        signal.throwIfAborted();
        try {
          await this.sendOne(m);
          this.backoff.reset();
          break;
        } catch (e) {
          // A local failure (no route, a name that does not resolve, ENOBUFS): try again.
          this.report(`unable to send to ${this.name}: ${(e as Error).message}; retrying`);
          await pause(this.backoff.next(), signal);
        }
      }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
