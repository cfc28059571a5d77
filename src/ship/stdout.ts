// -: one message per line on standard output, written synchronously (a pipe's reader
// going away ends the program quietly, as for the other utmps tools).

import { writeAll } from '../cli/utmps-io.js';
import type { Target } from './target.js';

export class StdoutTarget implements Target {
  readonly name = 'standard output';

  async send(messages: Buffer[]): Promise<void> {
    const parts: Buffer[] = [];
    for (const m of messages) parts.push(m, NL);
    writeAll(1, Buffer.concat(parts));
  }

  async close(): Promise<void> {}
}

const NL = Buffer.of(0x0a);
