// Checking a sealed wtmp against its sidecar (docs/SEALING.md, "What verify says"). Pure:
// the caller reads the files and passes the sidecar bytes and one SHA-256 per record.
//
// Two steps. First the sidecar's MAC chain is walked from the verification key, evolving
// the key at each epoch mark: the verified prefix is what the host sealed, in order. Then
// the records' digests are compared with the sealed ones; the first difference is
// classified by looking for the same digests nearby (removed, inserted, reordered).

import {
  BODY_SIZE,
  DIGEST_SIZE,
  decodeBody,
  ENTRY_SIZE,
  entryMac,
  epochAt,
  keyAt,
  macEquals,
  macKeyOf,
  MAC_SIZE,
  type VerificationKey,
  ZERO_MAC,
} from './chain.js';

export type Problem = 'altered' | 'removed' | 'inserted' | 'reordered' | 'another-key' | 'cut';

export interface Finding {
  problem: Problem;
  /** The first bad record's index in wtmp. */
  index: number;
  /** Its time (unix ms) when known: from the record, else from its seal. */
  timeMs?: number;
  detail: string;
}

export interface VerifyResult {
  /** intact: exit 0; unsealed: every sealed record is intact but a tail is not sealed (2); tampered (1). */
  status: 'intact' | 'unsealed' | 'tampered';
  finding?: Finding;
  records: number;
  sealed: number;
  adopted: number;
  unsealedTail: number;
  firstEpoch?: bigint;
  lastEpoch?: bigint;
  /** Time of the last verified sidecar entry (unix ms). */
  lastSealMs?: number;
  /** The sidecar ends with a close mark (clean stop or rotation). */
  closed: boolean;
  /** The previous chain's last MAC, from the header (zeros for the first sidecar). */
  previousChain?: Buffer;
  /** The last verified entry's MAC: the next sidecar's header must carry it (rotation). */
  lastMac?: Buffer;
  /** Bytes of a partial last sidecar entry, ignored. */
  partialSidecarBytes: number;
}

export interface VerifyInput {
  key: VerificationKey;
  sidecar: Uint8Array;
  /** SHA-256 of each wtmp record, in file order, concatenated. */
  digests: Uint8Array;
  /** Time of record i (unix ms), for messages. */
  recordTime?: (index: number) => number | undefined;
  nowMs: number;
  /** How many epochs past a failing entry to try later keys (a cut sidecar); default 100000. */
  maxJump?: number;
}

const WINDOW = 4096;


export function verifySealed(input: VerifyInput): VerifyResult {
  const { key, sidecar, digests } = input;
  const n = Math.floor(digests.length / DIGEST_SIZE);
  const entries = Math.floor(sidecar.length / ENTRY_SIZE);
  const result: VerifyResult = {
    status: 'intact',
    records: n,
    sealed: 0,
    adopted: 0,
    unsealedTail: 0,
    closed: false,
    partialSidecarBytes: sidecar.length % ENTRY_SIZE,
  };
  const timeOf = (i: number, fallback?: number): number | undefined => input.recordTime?.(i) ?? fallback;
  const fail = (problem: Problem, index: number, detail: string, fallbackTime?: number): VerifyResult => {
    result.status = 'tampered';
    result.finding = { problem, index, timeMs: timeOf(index, fallbackTime), detail };
    return result;
  };

  // Step 1: the MAC chain.
  // Sealed records as their entry numbers in the sidecar: digests and times are read from
  // it where they are, so a million records cost no million objects.
  const sealed: number[] = [];
  const sc = Buffer.from(sidecar.buffer, sidecar.byteOffset, sidecar.length);
  const timeAt = (i: number): number => Number(sc.readBigUInt64BE(sealed[i] * ENTRY_SIZE + 24));
  let epoch = 0n;
  let k: Buffer = Buffer.from(key.key0);
  let macKey = macKeyOf(k);
  let prev: Buffer = ZERO_MAC;
  /** sealed.length at each epoch mark: where a closed epoch ends. */
  let lastMarkAt = 0;
  let lastMarkTime = 0;
  let chainBroken: VerifyResult | null = null;
  const nowEpoch = epochAt(input.nowMs, key.startS, key.intervalS);
  const maxJump = BigInt(input.maxJump ?? 100_000);
  for (let j = 0; j < entries; j++) {
    const body = sidecar.subarray(j * ENTRY_SIZE, j * ENTRY_SIZE + BODY_SIZE);
    const mac = sidecar.subarray(j * ENTRY_SIZE + BODY_SIZE, (j + 1) * ENTRY_SIZE);
    const entry = decodeBody(body);
    if (j === 0 && entry?.kind === 'header' && entry.epoch > epoch && entry.epoch - epoch <= maxJump) {
      // A sidecar started after epoch 0 (sealing began later, or a rotation).
      k = keyAt(k, epoch, entry.epoch);
      epoch = entry.epoch;
      macKey = macKeyOf(k);
    }
    const ok = entry !== null && entry.epoch === epoch && macEquals(entryMac(macKey, prev, j, body), mac);
    if (!ok) {
      const next = sealed.length;
      const when = entry?.time;
      if (j === 0) {
        chainBroken = fail('another-key', 0, 'the sidecar\'s first entry does not verify under this verification key: sealed under another key');
        break;
      }
      // Cut: the host went on sealing under a later key after the sidecar lost its tail.
      if (entry && entry.epoch > epoch && entry.epoch - epoch <= maxJump && entry.epoch <= nowEpoch + 1n) {
        const later = keyAt(k, epoch, entry.epoch);
        if (macEquals(entryMac(macKeyOf(later), prev, j, body), mac)) {
          later.fill(0);
          chainBroken = fail(
            'cut',
            next,
            `the seal continues in epoch ${entry.epoch} right after epoch ${epoch}: the epoch marks and records sealed between were cut (cut before the last epoch mark)`,
            when,
          );
          break;
        }
        later.fill(0);
      }
      chainBroken = fail('another-key', next, `sidecar entry ${j} does not verify: the seal was rewritten from here (sealed under another key)`, when);
      break;
    }
    prev = Buffer.from(mac.buffer, mac.byteOffset, MAC_SIZE);
    result.lastSealMs = entry.time;
    result.closed = entry.kind === 'close';
    result.lastMac = prev;
    result.firstEpoch ??= entry.epoch;
    result.lastEpoch = entry.epoch;
    if (entry.kind === 'header') {
      result.previousChain = entry.digest;
    } else if (entry.kind === 'record' || entry.kind === 'adopted') {
      if (entry.index !== sealed.length) {
        // Sealed under its real index: wtmp had been cut under a running utmpsd.
        chainBroken = fail(
          'removed',
          entry.index,
          `records ${entry.index}..${sealed.length - 1} were sealed, then wtmp was cut to ${entry.index} records and appended to again`,
          entry.time,
        );
        break;
      }
      sealed.push(j);
      if (entry.kind === 'adopted') result.adopted++;
    } else if (entry.kind === 'epoch') {
      if (entry.newEpoch <= epoch) {
        chainBroken = fail('another-key', sealed.length, `sidecar entry ${j} goes back to epoch ${entry.newEpoch}`, entry.time);
        break;
      }
      // A key from after the verification time cannot have been reached honestly, and
      // walking to it would take as long as the forger likes (one hash per epoch).
      if (entry.newEpoch > nowEpoch + 1n || entry.newEpoch - epoch > maxJump) {
        chainBroken = fail('another-key', sealed.length, `sidecar entry ${j} jumps from epoch ${epoch} to epoch ${entry.newEpoch}, past the time of verification: forged with a stolen key`, entry.time);
        break;
      }
      lastMarkAt = sealed.length;
      lastMarkTime = entry.time;
      k = keyAt(k, epoch, entry.newEpoch);
      epoch = entry.newEpoch;
      macKey = macKeyOf(k);
      result.lastEpoch = epoch;
    }
  }
  k.fill(0);
  result.sealed = sealed.length;

  // Step 2: the records against what was sealed.
  const m = sealed.length;
  const d = (i: number): Buffer => sc.subarray(sealed[i] * ENTRY_SIZE + 32, sealed[i] * ENTRY_SIZE + 64);
  const dg = Buffer.from(digests.buffer, digests.byteOffset, digests.length);
  const w = (i: number): Buffer => dg.subarray(i * DIGEST_SIZE, (i + 1) * DIGEST_SIZE);
  let p = 0;
  const common = Math.min(m, n);
  while (p < common && sc.compare(dg, p * DIGEST_SIZE, (p + 1) * DIGEST_SIZE, sealed[p] * ENTRY_SIZE + 32, sealed[p] * ENTRY_SIZE + 64) === 0) p++;
  if (p < common) {
    return classify(p, m, n, w, d, (problem, index, detail) => fail(problem, index, detail, timeAt(Math.min(index, m - 1))));
  }
  if (n < m) {
    if (lastMarkAt > n) {
      return fail('cut', n, `wtmp ends at record ${n}, but ${m} records were sealed and an epoch mark follows record ${lastMarkAt - 1}: cut before the last epoch mark`, timeAt(n));
    }
    return fail('removed', n, `records ${n}..${m - 1} were sealed but are missing from wtmp (its tail was cut)`, timeAt(n));
  }
  if (chainBroken) return chainBroken;
  result.unsealedTail = n - m;
  if (n > m) result.status = 'unsealed';
  // A sidecar that is not closed stops being extended only when utmpsd stops: epoch marks
  // must reach the present, or they were cut.
  if (!result.closed && result.lastEpoch !== undefined && result.lastEpoch + 1n < nowEpoch) {
    return fail(
      'cut',
      m,
      `the seal stops in epoch ${result.lastEpoch} (last mark ${new Date(lastMarkTime || result.lastSealMs || 0).toISOString()}) and was not closed, ` +
        `but this is epoch ${nowEpoch}: the later epoch marks were cut (or utmpsd has not run since)`,
      result.lastSealMs,
    );
  }
  return result;
}

function classify(
  p: number,
  m: number,
  n: number,
  w: (i: number) => Buffer,
  d: (i: number) => Buffer,
  fail: (problem: Problem, index: number, detail: string) => VerifyResult,
): VerifyResult {
  if (p + 1 < m && p + 1 < n && w(p).equals(d(p + 1)) && w(p + 1).equals(d(p))) {
    return fail('reordered', p, `records ${p} and ${p + 1} were swapped`);
  }
  const sealedAt = new Map<string, number>();
  for (let i = p + 1; i < Math.min(m, p + WINDOW); i++) sealedAt.set(d(i).toString('hex'), i);
  const inWtmp = new Map<string, number>();
  for (let i = p + 1; i < Math.min(n, p + WINDOW); i++) inWtmp.set(w(i).toString('hex'), i);
  const later = sealedAt.get(w(p).toString('hex'));
  const moved = inWtmp.get(d(p).toString('hex'));
  if (later !== undefined && moved !== undefined) {
    return fail('reordered', p, `record ${p} was sealed here but now stands at ${moved}, and record ${later} was moved up to ${p}`);
  }
  if (later !== undefined) {
    return fail('removed', p, later === p + 1 ? `record ${p} was removed` : `records ${p}..${later - 1} were removed`);
  }
  if (moved !== undefined) {
    return fail('inserted', p, moved === p + 1 ? `a record was inserted before record ${p}` : `${moved - p} records were inserted before record ${p}`);
  }
  return fail('altered', p, `record ${p} was changed after it was sealed`);
}
