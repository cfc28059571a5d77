// ut_addr_v6 as text, the way util-linux last -i and utmpdump print it: IPv4 when the last
// 12 bytes are zero (so an unset address is "0.0.0.0"), otherwise IPv6 in glibc
// inet_ntop's form (longest zero run of two or more groups compressed, the first on a
// tie; an IPv4 tail after ::ffff: or after six zero groups).

import { formatIPv6 } from '../record/address.js';

function dotted(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

export function addressText(b: Uint8Array, at = 0): string {
  return text(b, at, false);
}

/** As last -i prints it: an IPv4-mapped address (::ffff:a.b.c.d) as plain IPv4. */
export function addressTextUnmapped(b: Uint8Array, at = 0): string {
  return text(b, at, true);
}

function text(b: Uint8Array, at: number, unmap: boolean): string {
  let mapped = b[at + 10] === 0xff && b[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = b[at + i] === 0;
  if (unmap && mapped) return dotted(b, at + 12);
  let v4 = true;
  for (let i = 4; i < 16; i++) {
    if (b[at + i] !== 0) {
      v4 = false;
      break;
    }
  }
  if (v4) return dotted(b, at);
  return formatIPv6(b.subarray(at, at + 16));
}
