// Which layout is a record file in? (PROTOCOL.md section 1: utmps 400 bytes, glibc 384.)
//
// The size decides only when exactly one record size divides it and the content does not
// contradict it; sizes that both divide (multiples of 9600, and the empty file) and files
// with a torn tail need the content. Each layout reads the same bytes as its records;
// the wrong one sees misaligned fields: types outside 0..9, microseconds outside
// 0..999999, seconds beyond any calendar. A plausible record has a known non-EMPTY type,
// a positive time and no control bytes in ut_line and ut_user.

import { GLIBC_LAYOUT, type RecordLayout, UTMPS_LAYOUT } from '../record/layout.js';
import { readAt } from './block-read.js';

export interface Detection {
  layout: RecordLayout;
  /** Plausible and impossible sampled records when read in each layout. */
  scores: Record<RecordLayout['name'], Score>;
  /** Why, for messages: "size 1600 fits only utmps", "content: 12 plausible glibc records...". */
  reason: string;
}

/** Bytes of the file at an offset. */
export interface Sample {
  offset: number;
  bytes: Uint8Array;
}

/** Records examined at each end of a file. */
export const SAMPLE_RECORDS = 48;

interface Score {
  good: number;
  bad: number;
}

function clean(b: Uint8Array, p: number, size: number): boolean {
  for (let i = 0; i < size; i++) {
    const c = b[p + i];
    if (c === 0) return true;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** +1 plausible, -1 impossible, 0 neither (EMPTY, time zero). */
function verdict(b: Uint8Array, p: number, layout: RecordLayout): number {
  const v = new DataView(b.buffer, b.byteOffset + p, layout.size);
  const type = v.getInt16(layout.type, true);
  if (type < 0 || type > 9) return -1;
  let sec: number;
  if (layout.timeBytes === 8) {
    const hi = v.getInt32(layout.tvSec + 4, true);
    // Beyond year 2242 or before 1902: misread bytes, not a time.
    if (hi < -1 || hi > 1) return -1;
    sec = hi * 4_294_967_296 + v.getUint32(layout.tvSec, true);
    if (v.getInt32(layout.tvUsec + 4, true) !== 0) return -1;
  } else {
    sec = v.getInt32(layout.tvSec, true);
  }
  const usec = v.getInt32(layout.tvUsec, true);
  if (usec < 0 || usec > 999_999) return -1;
  // Odd bytes in names happen; they only keep a record from counting as plausible.
  return type !== 0 && sec > 0 && clean(b, p + layout.line, 32) && clean(b, p + layout.user, 32) ? 1 : 0;
}

function score(layout: RecordLayout, samples: readonly Sample[]): Score {
  const s: Score = { good: 0, bad: 0 };
  const seen = new Set<number>();
  const rs = layout.size;
  for (const { offset, bytes } of samples) {
    for (let i = Math.ceil(offset / rs); (i + 1) * rs <= offset + bytes.length; i++) {
      if (seen.has(i)) continue;
      seen.add(i);
      const v = verdict(bytes, i * rs - offset, layout);
      if (v > 0) s.good++;
      else if (v < 0) s.bad++;
    }
  }
  return s;
}

/** Decides from the file size and samples of its content. Pure. */
export function detectLayout(size: number, samples: readonly Sample[]): Detection {
  if (size === 0) return { layout: UTMPS_LAYOUT, reason: 'empty file', scores: { utmps: { good: 0, bad: 0 }, glibc: { good: 0, bad: 0 } } };
  const candidates = [UTMPS_LAYOUT, GLIBC_LAYOUT].map((layout) => {
    const s = score(layout, samples);
    return { layout, divides: size % layout.size === 0, s, value: s.good - 2 * s.bad };
  });
  const [a, b] = candidates;
  // Content first, then divisibility, then the utmps default.
  const pick = a.value !== b.value ? (a.value > b.value ? a : b) : a.divides !== b.divides ? (a.divides ? a : b) : a;
  const other = pick === a ? b : a;
  const fits = candidates.filter((c) => c.divides).map((c) => c.layout.name);
  const sizeText = fits.length === 0 ? 'fits neither record size' : `fits ${fits.join(' and ')}`;
  return {
    layout: pick.layout,
    scores: { [a.layout.name]: a.s, [b.layout.name]: b.s } as Detection['scores'],
    reason:
      `size ${size} ${sizeText}; sampled records: ${pick.layout.name} ${pick.s.good} plausible / ${pick.s.bad} impossible, ` +
      `${other.layout.name} ${other.s.good} / ${other.s.bad}`,
  };
}

function sample(fd: number, offset: number, length: number): Sample {
  const bytes = Buffer.alloc(length);
  return { offset, bytes: bytes.subarray(0, readAt(fd, bytes, offset)) };
}

/** Detects the layout of an open file of the given size from its first and last records. */
export function detectFileLayout(fd: number, size: number): Detection {
  const span = SAMPLE_RECORDS * UTMPS_LAYOUT.size;
  const samples: Sample[] = [sample(fd, 0, Math.min(size, span))];
  if (size > span) {
    const offset = Math.max(span, size - span);
    samples.push(sample(fd, offset, size - offset));
  }
  return detectLayout(size, samples);
}
