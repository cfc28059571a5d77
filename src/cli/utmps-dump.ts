// utmps dump: utmp/wtmp records as util-linux utmpdump's text, and back with --reverse.
// What the text cannot carry is listed in src/format/dump.ts and docs/READERS.md.

import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GLIBC_LAYOUT, type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { DumpParseError, dumpLine, parseDumpLine, recordFromDump } from '../format/dump.js';
import { detectLayout } from '../store/detect.js';
import { toUtmpsRecords, utmpsToGlibc } from '../record/convert.js';
import { WtmpReader } from '../store/wtmp-reader.js';
import { AtomicFile, Exit, EXIT_REFUSED, fatalError, formatOption, Output, parseOptions, readAll, readLines, reason, usageError } from './utmps-io.js';

const USAGE = 'utmps dump [ -r | --reverse ] [ -o FILE ] [ --format utmps|glibc ] [ FILE ]';

const HELP = `usage: ${USAGE}

Prints utmp/wtmp records (FILE, or standard input) in util-linux utmpdump's text format.
  -r, --reverse   read that text (FILE or standard input) and write the records, as
                  utmpdump -r does (a short ut_id keeps its trailing spaces)
  -o, --output F  write to F (replaced atomically) instead of standard output
      --format F  the binary layout, utmps or glibc: of the input (default: detected),
                  or with --reverse of the output (default: glibc, like utmpdump)
`;

const OPTIONS = {
  reverse: { type: 'boolean', short: 'r' },
  // Accepted and ignored: what it asked for (ut_id's spaces kept) is the default now.
  'id-spaces': { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  format: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where the output goes: standard output, or a file put in place when all went well. */
class Sink {
  readonly out: Output;
  private readonly file: AtomicFile | null;

  constructor(path: string | undefined) {
    try {
      this.file = path === undefined ? null : new AtomicFile(path, true);
    } catch (e) {
      throw fatalError(`unable to create a temporary file next to ${path}: ${reason(e)}`);
    }
    this.out = this.file ? new Output(this.file.fd, path) : new Output();
  }

  finish(): void {
    this.out.flush();
    try {
      this.file?.commit();
    } catch (e) {
      throw fatalError(`unable to write ${this.file!.path}: ${reason(e)}`);
    }
  }

  abort(): void {
    this.file?.abort();
  }
}

function dumpBlock(out: Output, buf: Buffer, count: number): void {
  for (let i = 0; i < count; i++) out.line(dumpLine(buf, i * UTMPS_LAYOUT.size));
}

function forward(file: string | undefined, layout: RecordLayout | undefined, out: Output): void {
  if (file === undefined || file === '-') {
    // Standard input has no size to go by: read it whole, then detect.
    let raw: Buffer;
    try {
      raw = readAll(0);
    } catch (e) {
      throw fatalError(`unable to read standard input: ${reason(e)}`);
    }
    const l = layout ?? detectLayout(raw.length, [{ offset: 0, bytes: raw }]).layout;
    const count = Math.floor(raw.length / l.size);
    const buf = l === UTMPS_LAYOUT ? raw : toUtmpsRecords(raw, l);
    dumpBlock(out, buf, count);
    return;
  }
  let reader: WtmpReader;
  try {
    reader = WtmpReader.open(file, { layout });
  } catch (e) {
    throw fatalError(`unable to open ${file}: ${reason(e)}`);
  }
  try {
    for (const { buf, count } of reader.blocksForward()) dumpBlock(out, buf, count);
  } catch (e) {
    if (e instanceof Exit) throw e;
    throw fatalError(`unable to read ${file}: ${reason(e)}`);
  } finally {
    reader.close();
  }
}

function reverse(file: string | undefined, layout: RecordLayout, out: Output): void {
  let fd = 0;
  if (file !== undefined && file !== '-') {
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw fatalError(`unable to open ${file}: ${reason(e)}`);
    }
  }
  // Records are gathered into chunks: one write per record would crawl.
  const size = layout.size;
  const chunk = Buffer.alloc(size * 512);
  let filled = 0;
  let n = 0;
  try {
    for (const text of readLines(fd)) {
      n++;
      if (text.trim() === '') continue; // blank lines carry no record
      try {
        const record = recordFromDump(parseDumpLine(text));
        if (layout === GLIBC_LAYOUT) utmpsToGlibc(record, 0, chunk, filled);
        else record.copy(chunk, filled);
      } catch (e) {
        if (e instanceof DumpParseError || e instanceof RangeError) throw fatalError(`unable to read line ${n}: ${e.message}`, EXIT_REFUSED);
        throw e;
      }
      filled += size;
      if (filled === chunk.length) {
        out.bytes(chunk);
        filled = 0;
      }
    }
    out.bytes(chunk.subarray(0, filled));
  } catch (e) {
    if (e instanceof Exit) throw e;
    throw fatalError(`unable to read ${file ?? 'standard input'}: ${reason(e)}`);
  } finally {
    if (fd !== 0) closeSync(fd);
  }
}

export function run(argv: string[]): number {
  const { values: v, positionals } = parseOptions(() => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true }), USAGE);
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 1 || (v['id-spaces'] && !v.reverse)) throw usageError(USAGE);
  const layout = formatOption(v.format);
  const sink = new Sink(v.output);
  try {
    if (v.reverse) reverse(positionals[0], layout ?? GLIBC_LAYOUT, sink.out);
    else forward(positionals[0], layout, sink.out);
    sink.finish();
  } catch (e) {
    sink.abort();
    throw e;
  }
  return 0;
}
