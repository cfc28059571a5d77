// A small fake service for transport tests, and (run as a program) one UCSPI session over
// stdin/stdout with it: `node session-fixture.js '{"bodyMs":…,"answerMs":…,"idleMs":…,
// "oneRequest":false}'` serves the connection with the real serveStdio and Session, then
// prints how the session ended as one JSON line on stderr.

import { fileURLToPath } from 'node:url';
import type { Request } from '../../src/protocol/request.js';
import type { HandlerResult, ServiceHandler, SessionTimeouts } from '../../src/server/session.js';

export const REWIND = 0x72;
export const GETENT = 0x65;
export const GETLINE = 0x6c;
/** getent's answer: 00 and a 400-byte record of 0xee. */
export const GETENT_ANSWER = Buffer.concat([Buffer.of(0), Buffer.alloc(400, 0xee)]);

/** rewind answers 00, getent a record, getline 03 (ESRCH). */
export function fakeUtmpHandler(oneRequest = false): ServiceHandler {
  return {
    service: 'utmp',
    oneRequest,
    async handle(request: Request): Promise<HandlerResult> {
      if (request.op === 'getent') return { answer: GETENT_ANSWER };
      if (request.op === 'getline') return { answer: Buffer.of(3) };
      return { answer: Buffer.of(0) };
    },
  };
}

export interface FixtureConfig extends SessionTimeouts {
  oneRequest: boolean;
}

export const FIXTURE = fileURLToPath(import.meta.url);

if (process.argv[1] === FIXTURE) {
  const { serveStdio } = await import('../../src/server/ucspi.js');
  const config = JSON.parse(process.argv[2]) as FixtureConfig;
  const end = await serveStdio(fakeUtmpHandler(config.oneRequest), config);
  process.stderr.write(`${JSON.stringify(end)}\n`);
  process.exit(0);
}
