// utmps verify: checks a sealed wtmp against its sidecar with the verification key
// (docs/SEALING.md). Exit 0: every record sealed and unchanged; 2: those sealed are
// intact, but a tail is not sealed; 1: tampering, naming the first bad record; 100, 111.

import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { DIGEST_SIZE, parseVerificationKey, recordDigest, type VerificationKey } from '../seal/chain.js';
import { type Problem, verifySealed, type VerifyResult } from '../seal/verify.js';
import { readAt } from '../store/block-read.js';
import { detectFileLayout } from '../store/detect.js';
import { SIDECAR_SUFFIX } from '../store/wtmp-seal.js';
import { EXIT_REFUSED, fatalError, formatOption, parseOptions, reason, usageError, valueError } from './utmps-io.js';

const USAGE = 'utmps verify --verify-key KEY [ -f FILE ]... [ --seal SIDECAR ] [ --format utmps|glibc ] [ --at TIME ]';

const HELP = `usage: ${USAGE}

Checks every record of a sealed wtmp (FILE, default $UTMPS_WTMP_FILE, else /var/log/wtmp)
against its seals (SIDECAR, default FILE.seal), with the verification key utmps seal init
printed (KEY, or @PATH to read it from a file). Several -f, oldest first (-f wtmp.2 -f wtmp.1
-f wtmp): each is checked, and so is the link of each sidecar to the one before.
Exit status: 0 every record is sealed and unchanged; 2 the sealed records are intact but
the last ones have no seal yet (an unsealed tail: a crash, or a writer other than utmpsd);
1 the history was tampered with: the first bad record is named, with what happened to it
(altered, removed, inserted, reordered, sealed under another key, cut before the last
epoch mark); 100 usage; 111 the files could not be read.
  --at TIME   judge the seal as of TIME (ISO 8601, or unix seconds) instead of now: a seal
              that was neither closed nor extended to within an epoch of TIME is reported
              as cut (use the time the copy was taken when checking an old copy)
`;

const PROBLEM_TEXT: Record<Problem, string> = {
  altered: 'altered',
  removed: 'removed',
  inserted: 'inserted',
  reordered: 'reordered',
  'another-key': 'sealed under another key',
  cut: 'cut before the last epoch mark',
};

export const EXIT_UNSEALED = 2;

function iso(ms: number | undefined): string {
  // A tampered record or sidecar may hold any time: out of Date's range is no crash.
  const d = ms === undefined ? null : new Date(ms);
  return d === null || Number.isNaN(d.getTime()) ? 'time unknown' : d.toISOString().replace('.000Z', 'Z');
}

interface Records {
  digests: Buffer;
  layout: RecordLayout;
  fd: number;
}

/** One SHA-256 per whole record, read in large blocks. */
function digestRecords(path: string, layout: RecordLayout | undefined): Records {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fatalError(`unable to open ${path}: ${reason(e)}`);
  }
  const size = fstatSync(fd).size;
  const l = layout ?? (size === 0 ? UTMPS_LAYOUT : detectFileLayout(fd, size).layout);
  const n = Math.floor(size / l.size);
  const digests = Buffer.alloc(n * DIGEST_SIZE);
  const per = 2048;
  const block = Buffer.alloc(per * l.size);
  for (let first = 0; first < n; first += per) {
    const want = Math.min(per, n - first);
    const got = Math.floor(readAt(fd, block, first * l.size, want * l.size) / l.size);
    for (let i = 0; i < got; i++) {
      recordDigest(block.subarray(i * l.size, (i + 1) * l.size)).copy(digests, (first + i) * DIGEST_SIZE);
    }
    if (got < want) return { digests: digests.subarray(0, (first + got) * DIGEST_SIZE), layout: l, fd };
  }
  return { digests, layout: l, fd };
}

function recordTimeOf(fd: number, l: RecordLayout): (i: number) => number | undefined {
  return (i) => {
    const rec = Buffer.alloc(l.size);
    if (readAt(fd, rec, i * l.size) < l.size) return undefined;
    const sec = l.timeBytes === 8 ? Number(rec.readBigInt64LE(l.tvSec)) : rec.readInt32LE(l.tvSec);
    const usec = l.timeBytes === 8 ? Number(rec.readBigInt64LE(l.tvUsec)) : rec.readInt32LE(l.tvUsec);
    return sec * 1000 + Math.floor(usec / 1000);
  };
}

function keyOption(text: string): VerificationKey {
  let t = text;
  if (t.startsWith('@')) {
    try {
      t = readFileSync(t.slice(1), 'latin1');
    } catch (e) {
      throw fatalError(`unable to read the verification key from ${t.slice(1)}: ${reason(e)}`);
    }
  }
  try {
    return parseVerificationKey(t);
  } catch (e) {
    throw valueError((e as Error).message);
  }
}

export function report(file: string, r: VerifyResult): { status: number; out: string; err: string } {
  const range = r.firstEpoch === undefined ? '' : `, epochs ${r.firstEpoch}..${r.lastEpoch}, last seal ${iso(r.lastSealMs)}${r.closed ? ', closed' : ''}`;
  const adopted = r.adopted > 0 ? `; ${r.adopted} of them were sealed late, when utmpsd found them without a seal (written before sealing began, after a crash, or by another writer)` : '';
  let err = r.partialSidecarBytes > 0 ? `utmps: warning: ${file}${SIDECAR_SUFFIX}: a partial last entry of ${r.partialSidecarBytes} bytes is ignored\n` : '';
  if (r.status === 'tampered' && r.finding) {
    const f = r.finding;
    return {
      status: EXIT_REFUSED,
      out: `${file}: record ${f.index} (${iso(f.timeMs)}): ${PROBLEM_TEXT[f.problem]}: ${f.detail}\n`,
      err,
    };
  }
  if (r.status === 'unsealed') {
    err += `utmps: warning: ${file}: records ${r.sealed}..${r.records - 1} have no seal: an unsealed tail (utmpsd stopped between a record and its seal, or another program appended them)\n`;
    return { status: EXIT_UNSEALED, out: `${file}: ${r.sealed} of ${r.records} records sealed and unchanged, ${r.unsealedTail} unsealed at the end${range}${adopted}\n`, err };
  }
  return { status: 0, out: `${file}: ${r.records} records, all sealed and unchanged${range}${adopted}\n`, err };
}

function verifyOne(file: string, sidecarPath: string, key: VerificationKey, layout: RecordLayout | undefined, nowMs: number): VerifyResult {
  // The sidecar first: a record appended meanwhile then shows as an unsealed tail, not a cut.
  let sidecar: Buffer;
  try {
    sidecar = readFileSync(sidecarPath);
  } catch (e) {
    throw fatalError(`unable to read the seals ${sidecarPath}: ${reason(e)}`);
  }
  const records = digestRecords(file, layout);
  try {
    return verifySealed({ key, sidecar, digests: records.digests, recordTime: recordTimeOf(records.fd, records.layout), nowMs });
  } finally {
    closeSync(records.fd);
  }
}

export function run(argv: string[]): number {
  const { values, positionals } = parseOptions(
    () =>
      parseArgs({
        args: argv,
        options: {
          'verify-key': { type: 'string' },
          file: { type: 'string', short: 'f', multiple: true },
          seal: { type: 'string' },
          format: { type: 'string' },
          at: { type: 'string' },
          help: { type: 'boolean', short: 'h' },
        },
      }),
    USAGE,
  );
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length > 0) throw usageError(USAGE);
  if (values['verify-key'] === undefined) throw usageError(USAGE, '--verify-key KEY is required');
  const key = keyOption(values['verify-key']);
  const nowMs = values.at === undefined ? Date.now() : /^\d+$/.test(values.at) ? Number(values.at) * 1000 : Date.parse(values.at);
  if (!Number.isFinite(nowMs)) throw valueError(`--at: not a time: '${values.at}' (ISO 8601 or unix seconds)`);
  const files = values.file ?? [process.env.UTMPS_WTMP_FILE || '/var/log/wtmp'];
  if (values.seal !== undefined && files.length > 1) throw usageError(USAGE, '--seal names the sidecar of one file only');
  let worst = 0;
  let before: { file: string; lastMac?: Buffer } | null = null;
  for (const file of files) {
    const result = verifyOne(file, values.seal ?? file + SIDECAR_SUFFIX, key, formatOption(values.format), nowMs);
    const { status, out, err } = report(file, result);
    process.stderr.write(err);
    process.stdout.write(out);
    // Rotated files given oldest first: each sidecar's header must carry the MAC the one
    // before ended with, or a file between them is missing or was replaced.
    if (before && status !== EXIT_REFUSED && !(before.lastMac && result.previousChain?.equals(before.lastMac))) {
      process.stdout.write(`${file}: record 0: removed: its seal does not continue ${before.file}'s (a rotated file between them is missing or was replaced)\n`);
      worst = EXIT_REFUSED;
    }
    if (status === EXIT_REFUSED || (status === EXIT_UNSEALED && worst === 0)) worst = status;
    before = { file, lastMac: result.lastMac };
  }
  return worst;
}
