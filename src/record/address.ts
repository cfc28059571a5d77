// ut_addr_v6 holds network-order bytes: IPv4 in the first 4 bytes with the rest zero,
// otherwise the 16 bytes of an IPv6 address (PROTOCOL.md section 1).

import { isIPv4, isIPv6 } from 'node:net';

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

/**
 * IPv6 text as glibc's inet_ntop writes it: the longest run of two or more zero groups
 * compressed (the first on a tie, RFC 5952), and a dotted IPv4 tail after ::ffff: or after
 * six zero groups.
 */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff))) {
    return `::${bestLength === 5 ? 'ffff:' : ''}${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Text form of ut_addr_v6: '' when unset, dotted IPv4, or IPv6. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`ut_addr_v6 is 16 bytes, got ${bytes.length}`);
  if (isZero(bytes)) return '';
  if (isZero(bytes.subarray(4))) return Array.from(bytes.subarray(0, 4)).join('.');
  return formatIPv6(bytes);
}

function parseIPv4Into(text: string, out: Uint8Array, at: number): void {
  text.split('.').forEach((part, i) => {
    out[at + i] = Number(part);
  });
}

/** Parses an IPv4 or IPv6 address into the 16 ut_addr_v6 bytes; '' gives all zeroes. */
export function parseAddress(text: string): Buffer {
  const out = Buffer.alloc(16);
  if (text === '') return out;
  if (isIPv4(text)) {
    parseIPv4Into(text, out, 0);
    return out;
  }
  if (!isIPv6(text) || text.includes('%')) {
    throw new RangeError(`malformed IP address '${text}'`);
  }
  let body = text;
  let tail: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.includes('.', lastColon)) {
    const v4 = Buffer.alloc(4);
    parseIPv4Into(body.slice(lastColon + 1), v4, 0);
    tail = [(v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]];
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const [left, right] = body.includes('::') ? body.split('::') : [body, undefined];
  const parse = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const head = parse(left);
  const rest = parse(right);
  const groups = right === undefined ? head : [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  if (tail.length) groups.splice(6, 2, ...tail);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}
