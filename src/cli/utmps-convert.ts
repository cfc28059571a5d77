// utmps convert: a utmp/wtmp file from one layout to the other (migrating /var/log/wtmp).
// A time that does not fit 32 bits stops the conversion (exit 1, naming the record): it is
// never wrapped. OUT appears whole or not at all, and is never replaced without --force.

import { existsSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GLIBC_LAYOUT, UTMPS_LAYOUT } from '../record/layout.js';
import { utmpsToGlibc } from '../record/convert.js';
import { WtmpReader } from '../store/wtmp-reader.js';
import { AtomicFile, Exit, EXIT_REFUSED, fatalError, formatOption, parseOptions, reason, usageError, writeAll } from './utmps-io.js';

const USAGE = 'utmps convert [ --from utmps|glibc ] --to utmps|glibc [ --force ] IN OUT';

const HELP = `usage: ${USAGE}

Copies the records of IN to OUT in the other layout (utmps: 400 bytes, 64-bit time;
glibc: 384 bytes, 32-bit time). --from defaults to IN's detected layout. OUT is written
under a temporary name and renamed into place; an existing OUT is kept unless --force.
`;

const OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  force: { type: 'boolean', short: 'f' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function run(argv: string[]): number {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 2 || v.to === undefined) throw usageError(USAGE);
  const [input, output] = positionals;
  const from = formatOption(v.from);
  const to = formatOption(v.to)!;
  if (!v.force && existsSync(output)) throw fatalError(`unable to write ${output}: it exists (--force replaces it)`, EXIT_REFUSED);

  let reader: WtmpReader;
  let mode: number;
  try {
    reader = WtmpReader.open(input, { layout: from });
    mode = statSync(input).mode & 0o7777;
  } catch (e) {
    throw fatalError(`unable to open ${input}: ${reason(e)}`);
  }
  let file: AtomicFile | undefined;
  try {
    const tail = reader.size - reader.count * reader.layout.size;
    if (tail !== 0) {
      writeAll(2, Buffer.from(`utmps: warning: ${input}: ignoring a partial record of ${tail} bytes at the end\n`));
    }
    try {
      file = new AtomicFile(output, v.force ?? false, mode);
    } catch (e) {
      throw fatalError(`unable to create a temporary file next to ${output}: ${reason(e)}`);
    }
    const glibc = Buffer.alloc(8192 * GLIBC_LAYOUT.size);
    for (const { buf, count, first } of reader.blocksForward(8192)) {
      if (to === UTMPS_LAYOUT) {
        file.write(buf);
        continue;
      }
      for (let i = 0; i < count; i++) {
        try {
          utmpsToGlibc(buf, i * UTMPS_LAYOUT.size, glibc, i * GLIBC_LAYOUT.size);
        } catch (e) {
          throw fatalError(`unable to convert record ${first + i} of ${input} (offset ${(first + i) * reader.layout.size}): ${(e as Error).message}`, EXIT_REFUSED);
        }
      }
      file.write(glibc.subarray(0, count * GLIBC_LAYOUT.size));
    }
    try {
      file.commit();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw fatalError(`unable to write ${output}: it exists (--force replaces it)`, EXIT_REFUSED);
      throw fatalError(`unable to write ${output}: ${reason(e)}`);
    }
  } catch (e) {
    file?.abort();
    if (e instanceof Exit) throw e;
    throw fatalError(`unable to convert ${input}: ${reason(e)}`);
  } finally {
    reader.close();
  }
  return 0;
}
