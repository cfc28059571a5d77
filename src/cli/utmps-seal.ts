// utmps seal init: creates the wtmp seal key state (docs/SEALING.md) and prints the
// verification key once, as the last word on standard output, for the admin to keep off
// this host.

import { closeSync, constants, fchmodSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeState, formatVerificationKey, parseInterval } from '../seal/chain.js';
import { fatalError, parseOptions, reason, usageError, valueError } from './utmps-io.js';

const USAGE = 'utmps seal init --key FILE [ --interval 15m ]';

const HELP = `usage: ${USAGE}

Creates FILE (mode 0600; an existing FILE is never replaced) with a random sealing key for
utmpsd --seal-key FILE, and prints the verification key: store it off this host, it is
printed only once. It recomputes every epoch's key, so whoever holds it can check the
seals (utmps verify --verify-key KEY) and could also forge them.
  --interval T   how long an epoch lasts before the key evolves and the old one is
                 erased: 30s, 15m, 1h, 1d (default 15m)
`;

export function run(argv: string[]): number {
  const { values, positionals } = parseOptions(
    () =>
      parseArgs({
        args: argv,
        allowPositionals: true,
        options: { key: { type: 'string' }, interval: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      }),
    USAGE,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals[0] !== 'init' || positionals.length !== 1) throw usageError(USAGE);
  if (values.key === undefined) throw usageError(USAGE, '--key FILE is required');
  let intervalS: number;
  try {
    intervalS = parseInterval(values.interval ?? '15m');
  } catch (e) {
    throw valueError((e as Error).message);
  }
  const startS = Math.floor(Date.now() / 1000);
  const key = randomBytes(32);
  const state = encodeState({ startS, intervalS, epoch: 0n, key });
  let fd: number;
  try {
    fd = openSync(values.key, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === 'EEXIST';
    throw fatalError(`unable to create ${values.key}: ${exists ? 'it exists; a seal key is never replaced (remove it first, and keep its verification key)' : reason(e)}`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, state);
    fsyncSync(fd);
  } catch (e) {
    throw fatalError(`unable to write ${values.key}: ${reason(e)}`);
  } finally {
    closeSync(fd);
    state.fill(0);
  }
  try {
    const dir = openSync(dirname(values.key), constants.O_RDONLY | constants.O_DIRECTORY);
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // the file itself is durable; its name will be after the next sync
  }
  process.stderr.write(`utmps: seal key created in ${values.key}; keep this verification key off this host:\n`);
  process.stdout.write(`${formatVerificationKey({ key0: key, startS, intervalS })}\n`);
  key.fill(0);
  return 0;
}
