// Which transports the integration tests run against: UTMPS_TEST_TRANSPORTS is a
// comma-separated list of 'ucspi' (s6-ipcserver + one daemon process per connection) and
// 'utmpsd' (the built-in server); the default is both.

import type { TransportKind } from './daemons.js';

const KNOWN: readonly TransportKind[] = ['ucspi', 'utmpsd'];

function parseTransports(text: string): TransportKind[] {
  const kinds = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const kind of kinds) {
    if (!KNOWN.includes(kind as TransportKind)) {
      throw new Error(`UTMPS_TEST_TRANSPORTS: unknown transport '${kind}' (known: ${KNOWN.join(', ')})`);
    }
  }
  return kinds as TransportKind[];
}

export const TRANSPORTS: TransportKind[] = parseTransports(process.env.UTMPS_TEST_TRANSPORTS ?? 'ucspi,utmpsd');
