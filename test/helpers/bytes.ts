// Small byte builders for tests. Expected bytes are written out by hand (hex, ASCII,
// integers at explicit widths) so that no test trusts the encoders it is testing.

const HEX_DIGITS = '0123456789abcdef';

/**
 * Parses hex text into bytes. Whitespace, '_' and ':' are ignored so vectors can be
 * grouped for reading; anything else that is not a hex digit, or an odd digit count, throws
 * (Buffer.from(text, 'hex') would silently stop at the first bad character).
 */
export function hex(text: string): Buffer {
  const digits = text.toLowerCase().replace(/[\s_:]/g, '');
  if (digits.length % 2 !== 0) throw new RangeError(`odd number of hex digits in '${text}'`);
  const out = Buffer.alloc(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = HEX_DIGITS.indexOf(digits[2 * i]);
    const lo = HEX_DIGITS.indexOf(digits[2 * i + 1]);
    if (hi < 0 || lo < 0) throw new RangeError(`bad hex digit in '${text}' at ${2 * i}`);
    out[i] = hi * 16 + lo;
  }
  return out;
}

/** Lowercase hex of some bytes, for readable assertion messages. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += HEX_DIGITS[b >> 4] + HEX_DIGITS[b & 15];
  return s;
}

/** Concatenates byte arrays, single bytes (numbers 0..255) and ASCII strings. */
export function cat(...parts: ReadonlyArray<Uint8Array | number | string>): Buffer {
  const pieces: Buffer[] = parts.map((p) => {
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 0 || p > 255) throw new RangeError(`${p} is not a byte`);
      return Buffer.of(p);
    }
    if (typeof p === 'string') return ascii(p);
    return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  });
  return Buffer.concat(pieces);
}

/** ASCII text as bytes; refuses anything outside 0..127 so tests stay explicit. */
export function ascii(text: string): Buffer {
  const out = Buffer.alloc(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) throw new RangeError(`non-ASCII character in '${text}'`);
    out[i] = c;
  }
  return out;
}

/** A NUL-padded fixed-size field, like strncpy into a char[size]. */
export function padded(value: Uint8Array | string, size: number): Buffer {
  const bytes = typeof value === 'string' ? ascii(value) : value;
  if (bytes.length > size) throw new RangeError(`${bytes.length} bytes do not fit ${size}`);
  const out = Buffer.alloc(size);
  out.set(bytes, 0);
  return out;
}

/** Unsigned 16-bit big-endian (the getid type on the wire). */
export function u16be(n: number): Buffer {
  return Buffer.of((n >> 8) & 0xff, n & 0xff);
}

/** Little-endian two's-complement integer of `width` bytes (record fields on x86_64). */
export function le(value: number | bigint, width: 2 | 4 | 8): Buffer {
  let v = BigInt(value);
  const modulus = 1n << BigInt(width * 8);
  if (v < -(modulus >> 1n) || v >= modulus) throw new RangeError(`${value} does not fit ${width} bytes`);
  if (v < 0n) v += modulus;
  const out = Buffer.alloc(width);
  for (let i = 0; i < width; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Splits bytes into consecutive chunks at the given cut points. */
export function splitAt(bytes: Uint8Array, ...cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(Buffer.from(bytes.subarray(start, cut)));
    start = cut;
  }
  return out;
}

/** Every byte as its own chunk. */
export function byteByByte(bytes: Uint8Array): Buffer[] {
  return Array.from(bytes, (b) => Buffer.of(b));
}
