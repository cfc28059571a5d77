// What the readers (who, last, dump's text) may print of a field that came from a record.
// Anyone allowed to write a record chooses its bytes, so a raw \r, \n, ESC or C1 byte
// would let them rewrite the terminal or add lines (issue 8): those are always escaped.
//
// The form is util-linux's own (lib/mbsalign.c, used by lsblk, findmnt...): \xHH, two
// lowercase hex digits. A backslash is escaped (\x5c) only where it starts text that
// reads as such an escape, so `\xHH` naming a control always means that byte was in the
// record, and `unescapeText` undoes `safeText` exactly. Text without controls and
// without such look-alikes comes out unchanged, byte for byte.

/** How bytes from 0x80 are shown, besides the C1 controls. */
export type HighBytes =
  /** As they are (coreutils who), except C1 controls: bytes 0x80-0x9f outside UTF-8 and UTF-8 U+0080-U+009F. */
  | 'raw'
  /** Every byte as \ooo (util-linux last in the C locale). */
  | 'octal'
  /** Valid UTF-8 of a printable character as it is, any other byte as \ooo (util-linux last in a UTF-8 locale). */
  | 'utf8';

/** Bytes a `\xHH` escape may name: C0, the backslash, DEL, C1, and 0xc2 (U+0080-U+009F's lead byte). */
function escapable(c: number): boolean {
  return c < 0x20 || c === 0x5c || (c >= 0x7f && c <= 0x9f) || c === 0xc2;
}

function hex2(c: number): string {
  return `\\x${c < 16 ? '0' : ''}${c.toString(16)}`;
}

function hexValue(s: string, i: number): number {
  const h = s.slice(i, i + 2);
  return /^[0-9a-fA-F]{2}$/.test(h) ? parseInt(h, 16) : -1;
}

/** Whether s[i..] reads as an escape of an escapable byte: \x then two hex digits. */
function looksEscaped(s: string, i: number): boolean {
  if (s.charCodeAt(i + 1) !== 0x78) return false; // 'x'
  const v = hexValue(s, i + 2);
  return v >= 0 && escapable(v);
}

/** Length of the valid UTF-8 sequence at s[i] (a latin1 byte string), or 0. */
export function utf8Length(s: string, i: number): number {
  const b = (k: number): number => s.charCodeAt(i + k);
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < s.length && b(k) >= lo && b(k) <= hi;
  const c = b(0);
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no surrogates
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** U+0080..U+009F in UTF-8: 0xc2 then 0x80..0x9f. */
function isC1Utf8(s: string, i: number): boolean {
  const n = s.charCodeAt(i + 1);
  return s.charCodeAt(i) === 0xc2 && n >= 0x80 && n <= 0x9f;
}

// Nothing to do for most fields: a quick test first.
const NEEDS = /[\x00-\x1f\x7f-\xff]|\\x/;

/**
 * A field (a latin1 byte string, one character per byte) made safe to print: C0 controls,
 * DEL and C1 controls as \xHH, bytes from 0x80 as `high` says. The result is latin1 too.
 */
export function safeText(s: string, high: HighBytes = 'raw'): string {
  if (!NEEDS.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      out += hex2(c);
    } else if (c === 0x5c) {
      out += looksEscaped(s, i) ? '\\x5c' : '\\';
    } else if (c < 0x80) {
      out += s[i];
    } else if (high === 'octal') {
      out += `\\${c.toString(8)}`;
    } else {
      const n = utf8Length(s, i);
      if (n > 0 && !isC1Utf8(s, i)) {
        out += s.slice(i, i + n);
        i += n - 1;
      } else if (high === 'utf8') {
        out += `\\${c.toString(8)}`;
      } else if (n > 0) {
        out += hex2(c) + hex2(s.charCodeAt(i + 1)); // a UTF-8 C1 control, both bytes
        i++;
      } else {
        out += c <= 0x9f ? hex2(c) : s[i];
      }
    }
  }
  return out;
}

/** The inverse of safeText's escapes: every \xHH naming a control or a backslash. */
export function unescapeText(s: string): string {
  if (!s.includes('\\x')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) === 0x5c && looksEscaped(s, i)) {
      out += String.fromCharCode(hexValue(s, i + 2));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

/** safeText for text already decoded from UTF-8 (JS strings): the same escapes. */
export function safeUnicode(s: string): string {
  if (!/[\x00-\x1f\x7f-\x9f]|\\x/.test(s)) return s;
  return Buffer.from(safeText(Buffer.from(s, 'utf8').toString('latin1')), 'latin1').toString('utf8');
}

